// The startup check of --spool-dir: before any worker starts, the directory must exist (or
// be creatable) and take a write, so a bad path stops the edge with a message instead of
// failing later inside the socket-write worker.
import { open, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { makeDirectories } from './durable-fs.ts'
import { codeOf, SpoolIoError } from './errors.ts'

export const PROBE_FILE = '.canbridge-write-probe'

/**
 * Creates `dir` if missing, then writes, syncs and removes a probe file in it. Throws
 * SpoolIoError naming the directory, the step and the system error (`code`).
 */
export async function probeSpoolDirectory(dir: string): Promise<void> {
  try {
    await makeDirectories(dir)
  } catch (error) {
    throw new SpoolIoError(`cannot create spool directory ${dir}`, { path: dir, cause: error })
  }
  const path = join(dir, PROBE_FILE)
  try {
    const handle = await open(path, 'w')
    try {
      await handle.writeFile('canbridge spool write probe\n')
      await handle.sync()
    } finally {
      await handle.close()
    }
    await unlink(path)
  } catch (error) {
    throw new SpoolIoError(`cannot write to spool directory ${dir}`, { path: dir, cause: error })
  }
}

/**
 * Whether a probe failure is a full or read-only disk (the edge runs without the spool
 * until it takes writes again) rather than a wrong path or a directory this user cannot
 * create (the edge stops: a setting to fix). No permission to write in a directory that
 * exists counts as read-only.
 */
export async function spoolDirectoryUnwritable(dir: string, error: SpoolIoError): Promise<boolean> {
  if (error.noSpace || error.code === 'EROFS') return true
  if (!error.readOnly) return false
  try {
    return (await stat(dir)).isDirectory()
  } catch (statError) {
    if (codeOf(statError) === undefined) throw statError
    return false
  }
}
