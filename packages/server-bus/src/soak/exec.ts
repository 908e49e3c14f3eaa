// Running commands on the workstation or on the edge's machine (over ssh with `--ssh`).
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'

/** Where the CAN interface is: this machine, or an ssh target (`pi@raspberrypi`). */
export interface Place {
  ssh?: string | undefined
  /** prefix for commands that need root there (e.g. `sudo`) */
  sudo?: boolean | undefined
}

/**
 * The argv that runs `command args` at `place`. Over ssh, a remote process is bounded by
 * `timeout` (when `limitS` is given) so that it ends even if the ssh link dies.
 */
export function argvAt(
  place: Place,
  command: string,
  args: readonly string[],
  limitS?: number,
): string[] {
  const local = [...(place.sudo ? ['sudo', '-n'] : []), command, ...args]
  if (place.ssh === undefined) return local
  const bounded =
    limitS === undefined ? local : ['timeout', '--signal=INT', String(Math.ceil(limitS)), ...local]
  return [
    'ssh',
    '-o',
    'BatchMode=yes',
    '-o',
    'ServerAliveInterval=5',
    place.ssh,
    '--',
    ...bounded.map(shellQuote),
  ]
}

export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`
}

/** Runs a command to completion; rejects with its stderr when it fails. Resolves stdout. */
export function run(argv: readonly string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(new Error(`${argv.join(' ')}: ${error.message}`))
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve(out)
      else
        reject(
          new Error(
            `${argv.join(' ')} failed (${signal ?? `exit ${code}`}): ${err.trim() || out.trim()}`,
          ),
        )
    })
  })
}

/** Resolves when the child has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('close', () => resolve()))
}

/** Sends `signal`, then SIGKILL after `graceMs`; resolves once the child is gone. */
export async function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 5000,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited(child)
  clearTimeout(timer)
}

/** CPU time (user + system, ms) a local process used so far, from /proc; null if unknown. */
export function processCpuMs(pid: number | undefined): number | null {
  if (pid === undefined) return null
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // utime and stime are fields 14 and 15 (1-based) of the whole line, in clock ticks (100/s)
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return null
  }
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms))
