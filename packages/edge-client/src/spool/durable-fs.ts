// The few file system steps the spool needs to be crash-safe, each wrapped so a failure
// names the path and the action.
import { type FileHandle, mkdir, open, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { codeOf, SpoolCorruptError, SpoolIoError } from './errors.ts'

/**
 * fsync a directory: makes a create, rename or unlink inside it survive a power cut
 * (the file's own fsync does not cover its name).
 */
export async function fsyncDirectory(dir: string): Promise<void> {
  let handle: FileHandle
  try {
    handle = await open(dir, 'r')
  } catch (error) {
    throw new SpoolIoError(`cannot open spool directory ${dir} to sync it`, {
      path: dir,
      cause: error,
    })
  }
  try {
    await handle.sync()
  } catch (error) {
    throw new SpoolIoError(`cannot sync spool directory ${dir}`, { path: dir, cause: error })
  } finally {
    await handle.close()
  }
}

/**
 * Reads exactly `length` bytes at `position` into `target[offset…]`. A file shorter than
 * that was cut by someone else after we indexed it: not something to paper over.
 */
export async function readFully(
  handle: FileHandle,
  path: string,
  target: Uint8Array,
  offset: number,
  length: number,
  position: number,
): Promise<void> {
  let done = 0
  while (done < length) {
    let bytesRead: number
    try {
      ;({ bytesRead } = await handle.read(target, offset + done, length - done, position + done))
    } catch (error) {
      throw new SpoolIoError(`cannot read ${path}`, { path, cause: error })
    }
    if (bytesRead === 0) {
      throw new SpoolCorruptError(
        `${path} ends at byte ${position + done}, before the ${length} bytes indexed at ${position}: was it changed by another process?`,
        { path },
      )
    }
    done += bytesRead
  }
}

/**
 * `mkdir -p` that fails instead of looping: Node's own `mkdir(dir, { recursive: true })`
 * (sync and async alike, Node 24) retries forever when mkdir says ENOENT although the
 * parent exists, as /proc and other virtual file systems do, burning CPU, and the worker
 * doing it can then be neither terminated nor let the process exit.
 */
export async function makeDirectories(dir: string): Promise<void> {
  try {
    await mkdir(dir)
    return
  } catch (error) {
    const code = codeOf(error)
    if (code === 'EEXIST') {
      if ((await stat(dir)).isDirectory()) return
      throw error
    }
    const parent = dirname(dir)
    if (code !== 'ENOENT' || parent === dir) throw error
    await makeDirectories(parent)
  }
  // once: the parent exists now, so another ENOENT is the file system refusing
  try {
    await mkdir(dir)
  } catch (error) {
    if (codeOf(error) !== 'EEXIST' || !(await stat(dir)).isDirectory()) throw error
  }
}
