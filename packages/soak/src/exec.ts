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
 * Runs on the edge's machine around a long-running command (cangen, candump): sshd signals
 * nothing to a command without a terminal, so a remote command would outlive its ssh client
 * (a stopped generator kept sending; candump kept its last output in its stdio buffer).
 * This ends the command with SIGTERM (candump and cangen stop cleanly, flushing) as soon as
 * ssh's stdin closes: how `stopChild` stops it, and what a dead connection does too. Its
 * own exit (cangen on ENETDOWN) ends the session with its status. fd 3 keeps stdin for the
 * watcher: a background job of a non-interactive shell has /dev/null as its stdin.
 */
const STOP_ON_STDIN_EOF =
  'exec 3<&0; "$@" & pid=$!; (read -r _ <&3; kill -TERM "$pid" 2>/dev/null) & watcher=$!; wait "$pid"; status=$?; kill "$watcher" 2>/dev/null; exit "$status"'

/**
 * The argv that runs `command args` at `place`. Over ssh, a long-running command (given
 * `limitS`) ends when ssh's stdin closes or the link dies (STOP_ON_STDIN_EOF; spawn it with
 * `spawnAt`), and after `limitS` seconds in any case (`timeout`).
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
    limitS === undefined
      ? local
      : [
          'sh',
          '-c',
          STOP_ON_STDIN_EOF,
          'sh',
          // SIGTERM (timeout's default): SIGINT is ignored by a background job's command
          'timeout',
          '--kill-after=5',
          String(Math.ceil(limitS)),
          ...local,
        ]
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

/**
 * Spawns a long-running `command args` at `place` (argvAt with `limitS`), stdout to `stdout`,
 * stderr piped. Over ssh its stdin is a pipe: closing it is how `stopChild` stops the
 * remote command.
 */
export function spawnAt(
  place: Place,
  command: string,
  args: readonly string[],
  limitS: number,
  stdout: 'ignore' | number,
): ChildProcess {
  const argv = argvAt(place, command, args, limitS)
  const child = spawn(argv[0]!, argv.slice(1), {
    stdio: [place.ssh === undefined ? 'ignore' : 'pipe', stdout, 'pipe'],
  })
  child.stdin?.on('error', (error: NodeJS.ErrnoException) => {
    // ssh already gone (the command ended by itself): nothing left to stop
    if (error.code !== 'EPIPE') throw error
  })
  return child
}

/**
 * Stops a child: a remote command from `spawnAt` by closing ssh's stdin (the command ends
 * cleanly there and ssh hands over its last output), anything else with `signal`; SIGKILL
 * after `graceMs`. Resolves once the child is gone.
 */
export async function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 5000,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  if (child.stdin) child.stdin.end()
  else child.kill(signal)
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
