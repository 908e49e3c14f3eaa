// Where the doctor looks: the host's /proc, /sys and /lib/modules (under `root`, which tests
// point at a temporary directory) and the commands it runs (`ip`).
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { release } from 'node:os'
import { join } from 'node:path'

export interface Host {
  /** prefix of every absolute path read below: `/` on a real host */
  root: string
  /** the running kernel's release (uname -r) */
  release: string
  /** Runs a command; its stdout, or an error with the reason. */
  exec(command: string, args: readonly string[]): string
}

export function realHost(): Host {
  return {
    root: '/',
    release: release(),
    exec: (command, args) =>
      execFileSync(command, args, {
        encoding: 'utf8',
        timeout: 5000,
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
  }
}

/** Errors that mean "cannot know": the file is not there, or this user may not read it. */
const UNREADABLE = new Set(['ENOENT', 'ENOTDIR', 'EACCES', 'EPERM', 'EISDIR'])

/** A host file's text, or undefined when it does not exist or cannot be read. */
export function readHostFile(host: Host, path: string): string | undefined {
  try {
    return readFileSync(join(host.root, path), 'utf8')
  } catch (error) {
    if (UNREADABLE.has((error as NodeJS.ErrnoException).code ?? '')) return undefined
    throw error
  }
}

/** Entries of a host directory, or undefined when it does not exist or cannot be read. */
export function listHostDir(host: Host, path: string): string[] | undefined {
  try {
    return readdirSync(join(host.root, path))
  } catch (error) {
    if (UNREADABLE.has((error as NodeJS.ErrnoException).code ?? '')) return undefined
    throw error
  }
}

/** The first line of an exec failure (stderr when the command ran, else the error). */
export function execError(error: unknown): string {
  const e = error as NodeJS.ErrnoException & { stderr?: string | Buffer; status?: number | null }
  if (e.code === 'ENOENT') return 'command not found'
  const stderr = String(e.stderr ?? '').trim()
  if (stderr) return stderr.split('\n')[0]!
  return e.message.split('\n')[0]!
}
