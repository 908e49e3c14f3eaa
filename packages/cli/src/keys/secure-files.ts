// File writes for key material: exact modes whatever the umask, and atomic (a temporary file
// renamed over the target), so a reader never sees half a key and a crash leaves no stub.
import { randomBytes } from 'node:crypto'
import { chmod, lstat, mkdir, open, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join, relative, sep } from 'node:path'
import { KeysError } from './errors.ts'
import { FILE_MODE } from './layout.ts'

export async function writeFileAtomic(path: string, content: string, mode: number): Promise<void> {
  // A dot name: edge ids cannot start with ".", so no listing mistakes it for an edge's file.
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  const handle = await open(temporary, 'wx', mode)
  let closed = false
  let renamed = false
  try {
    await handle.chmod(mode) // open's mode is filtered by the umask; chmod is not
    await handle.writeFile(content)
    await handle.sync()
    closed = true
    await handle.close()
    await rename(temporary, path)
    renamed = true
  } finally {
    if (!closed) await handle.close()
    if (!renamed) await rm(temporary, { force: true })
  }
}

/** mkdir -p with mode 0700 on every directory it creates; existing ones are left as they are. */
export async function makePrivateDirectory(path: string): Promise<void> {
  const firstCreated = await mkdir(path, { recursive: true, mode: FILE_MODE.DIRECTORY })
  if (firstCreated === undefined) return
  const below = relative(firstCreated, path)
  let current = firstCreated
  for (const part of ['', ...(below === '' ? [] : below.split(sep))]) {
    current = part === '' ? current : join(current, part)
    await chmod(current, FILE_MODE.DIRECTORY)
  }
}

/** Refuses a --dir that exists but is no directory (a file given by mistake). */
export async function checkPkiDirectory(dir: string): Promise<void> {
  try {
    if ((await stat(dir)).isDirectory()) return
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return
    if (code !== 'ENOTDIR') throw error
  }
  throw new KeysError(
    'BAD_DIR',
    `${dir} is not a directory: give --dir the directory for the keys (init creates it if missing)`,
  )
}

export async function pathExists(path: string): Promise<boolean> {
  try {
    await lstat(path)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw error
  }
}

export async function existingPaths(paths: readonly string[]): Promise<string[]> {
  const found: string[] = []
  for (const path of paths) if (await pathExists(path)) found.push(path)
  return found
}

/** A file to write, with what it is for the summary the CLI prints. */
export interface PlannedFile {
  path: string
  content: string
  mode: number
  what: string
}

export type WrittenFile = Omit<PlannedFile, 'content'>

export async function writePlannedFiles(files: readonly PlannedFile[]): Promise<WrittenFile[]> {
  const written: WrittenFile[] = []
  for (const { path, content, mode, what } of files) {
    await writeFileAtomic(path, content, mode)
    written.push({ path, mode, what })
  }
  return written
}
