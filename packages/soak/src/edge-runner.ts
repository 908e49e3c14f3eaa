// The canbridge-edge daemon as a child process of the soak (on this machine): started with
// the soak's server address, its JSON log lines read for its own statistics (RSS, CPU,
// ring, spool, drops, reconnects), stopped with SIGTERM (it flushes or spools) and restarted.
import { type ChildProcess, spawn } from 'node:child_process'
import { LineSplitter } from './candump-log.ts'
import { exited, stopChild } from './exec.ts'

export interface EdgeSample {
  /** ms since the epoch */
  atMs: number
  /** which start of the edge (0 = first) */
  instance: number
  rssBytes: number
  cpuMs: number
  reconnects: number
  ringBytes: number
  spoolBytes: number
  spoolFrames: number
  framesRead: number
  drops: number
}

export interface EdgeRunnerOptions {
  /** argv to run the edge, e.g. [node, .../edge-client/dist/main.js] */
  command: readonly string[]
  args: readonly string[]
  env?: Record<string, string | undefined>
  onLog?: (line: Record<string, unknown>) => void
}

export class EdgeRunner {
  readonly #options: EdgeRunnerOptions
  readonly samples: EdgeSample[] = []
  readonly warnings: string[] = []
  #child: ChildProcess | undefined
  #instance = -1
  stderr = ''
  /** exits that were not asked for */
  crashes = 0
  #stopping = false

  constructor(options: EdgeRunnerOptions) {
    this.#options = options
  }

  get pid(): number | undefined {
    return this.#child?.pid
  }

  get instances(): number {
    return this.#instance + 1
  }

  get running(): boolean {
    const c = this.#child
    return c !== undefined && c.exitCode === null && c.signalCode === null
  }

  /** Starts the edge; resolves once it logged `connected to the server` (or rejects). */
  start(timeoutMs = 60_000): Promise<void> {
    this.#instance++
    this.#stopping = false
    const instance = this.#instance
    const [command, ...prefix] = this.#options.command
    const child = spawn(command!, [...prefix, ...this.#options.args], {
      env: { ...process.env, ...this.#options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.#child = child
    const splitter = new LineSplitter()
    let resolveReady: () => void = () => {}
    let rejectReady: (error: Error) => void = () => {}
    const ready = new Promise<void>((resolve, reject) => {
      resolveReady = resolve
      rejectReady = reject
    })
    const timer = setTimeout(
      () =>
        rejectReady(
          new Error(
            `the edge did not connect within ${timeoutMs} ms; stderr: ${this.stderr.slice(-1000)}`,
          ),
        ),
      timeoutMs,
    )
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      splitter.push(chunk, (text) => {
        let line: Record<string, unknown>
        try {
          line = JSON.parse(text) as Record<string, unknown>
        } catch {
          return
        }
        this.#options.onLog?.(line)
        const msg = line['msg']
        if (msg === 'connected to the server') {
          clearTimeout(timer)
          resolveReady()
        } else if (msg === 'stats') {
          this.#sample(line, instance)
        }
        if (
          typeof line['level'] === 'number' &&
          line['level'] >= 40 &&
          this.warnings.length < 200
        ) {
          this.warnings.push(`${new Date(timeOf(line)).toISOString()} ${String(msg)}`)
        }
      })
    })
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-8000)
    })
    child.once('error', (error) => rejectReady(error))
    void exited(child).then(() => {
      clearTimeout(timer)
      if (!this.#stopping && this.#child === child) {
        this.crashes++
        rejectReady(
          new Error(
            `the edge exited (${child.exitCode ?? child.signalCode}): ${this.stderr.slice(-1000)}`,
          ),
        )
      }
    })
    return ready
  }

  /** SIGTERM (the edge flushes to the server or spools), SIGKILL after `graceMs`. */
  async stop(graceMs = 20_000): Promise<number | null> {
    const child = this.#child
    if (child === undefined) return null
    this.#stopping = true
    await stopChild(child, 'SIGTERM', graceMs)
    return child.exitCode
  }

  #sample(line: Record<string, unknown>, instance: number): void {
    const channels = Array.isArray(line['channels'])
      ? (line['channels'] as Record<string, unknown>[])
      : []
    const sum = (key: string): number => channels.reduce((n, c) => n + (Number(c[key]) || 0), 0)
    this.samples.push({
      atMs: timeOf(line),
      instance,
      rssBytes: Number(line['rssBytes']) || 0,
      cpuMs: (Number(line['cpuUserMs']) || 0) + (Number(line['cpuSystemMs']) || 0),
      reconnects: Number(line['reconnects']) || 0,
      ringBytes: sum('ringBytes'),
      spoolBytes: sum('spoolBytes'),
      spoolFrames: sum('spoolFrames'),
      framesRead: sum('framesRead'),
      drops: sum('dropsRingFull') + sum('dropsSpoolFull') + sum('dropsRingOldest'),
    })
  }
}

/** A log line's time in ms since the epoch (pino writes ISO text or epoch ms), else now. */
function timeOf(line: Record<string, unknown>): number {
  const time = line['time']
  const ms =
    typeof time === 'string' ? Date.parse(time) : typeof time === 'number' ? time : Number.NaN
  return Number.isFinite(ms) ? ms : Date.now()
}
