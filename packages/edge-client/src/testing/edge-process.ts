// Runs the whole daemon as a child process (from source: Node strips the types), collects
// its JSON log lines, and stops it with a signal.
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

// From the sources (the package's own tests) or from dist (what other packages import).
const fromSource = import.meta.url.endsWith('.ts')
/** the daemon's entry beside this module: src/main.ts from the sources, else dist/main.js */
export const MAIN = fileURLToPath(
  new URL(fromSource ? '../main.ts' : '../main.js', import.meta.url),
)
/** the built CLI (kernel tests run what ships) */
export const DIST_MAIN = fileURLToPath(
  new URL(fromSource ? '../../dist/main.js' : '../main.js', import.meta.url),
)

export interface LogLine {
  level: number
  msg: string
  [key: string]: unknown
}

export class EdgeProcess {
  readonly child: ChildProcess
  readonly logs: LogLine[] = []
  stderr = ''
  #exit: Promise<number | null>
  #waiters: { check: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = []

  /** `wrapper`: a command that runs the daemon, e.g. setpriv with another user's ids */
  constructor(
    args: string[],
    env: Record<string, string> = {},
    main = MAIN,
    wrapper: string[] = [],
  ) {
    // CANBRIDGE_EDGE_BIN: the built single executable stands in for dist/main.js
    // (packaging/edge/kernel-test.sh runs the kernel tests against it)
    const bin = main === DIST_MAIN ? process.env['CANBRIDGE_EDGE_BIN'] : undefined
    const [file, ...rest] = [
      ...wrapper,
      ...(bin ? [bin, ...args] : [process.execPath, main, ...args]),
    ]
    this.child = spawn(file!, rest, {
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let buffered = ''
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk
      const lines = buffered.split('\n')
      buffered = lines.pop()!
      for (const text of lines) {
        if (text.trim() === '') continue
        let line: LogLine
        try {
          line = JSON.parse(text) as LogLine
        } catch {
          line = { level: 0, msg: text }
        }
        this.logs.push(line)
        for (const waiter of [...this.#waiters]) {
          if (waiter.check(line)) {
            this.#waiters = this.#waiters.filter((w) => w !== waiter)
            waiter.resolve(line)
          }
        }
      }
    })
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk
    })
    this.#exit = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)))
  }

  /** Resolves with the first log line (past or future) that satisfies `check`. */
  waitForLog(
    check: (line: LogLine) => boolean,
    timeoutMs = 10_000,
    what = 'a log line',
  ): Promise<LogLine> {
    const seen = this.logs.find(check)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter)
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; stderr: ${this.stderr}; last logs: ${JSON.stringify(this.logs.slice(-5))}`,
          ),
        )
      }, timeoutMs)
      const waiter = {
        check,
        resolve: (line: LogLine) => {
          clearTimeout(timer)
          resolve(line)
        },
      }
      this.#waiters.push(waiter)
    })
  }

  /** The line that says the edge leaves server `from` for `to` (--server with several). */
  waitForMove(from: string, to: string, timeoutMs = 10_000): Promise<LogLine> {
    return this.waitForLog(
      (line) => line['server'] === from && line['next'] === to,
      timeoutMs,
      `a move from ${from} to ${to}`,
    )
  }

  waitForMsg(msg: string, timeoutMs = 10_000): Promise<LogLine> {
    return this.waitForLog((line) => line.msg === msg, timeoutMs, `"${msg}"`)
  }

  exited(): Promise<number | null> {
    return this.#exit
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode
    this.child.kill(signal)
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs)
    const code = await this.#exit
    clearTimeout(timer)
    return code
  }

  /** The last 'stats' line's channel figures. */
  lastStats(): LogLine | undefined {
    return this.logs.filter((l) => l.msg === 'stats').at(-1)
  }
}

/** Starts an edge and waits until it reports its connection (or `readyMsg`). */
export async function startEdge(
  args: string[],
  env: Record<string, string> = {},
  readyMsg = 'connected to the server',
  main = MAIN,
  // a start waits on the edge's own log line; the bound only turns a hang into a failure (a
  // CI run saw a worker take 5.5 s to start while every package's tests ran side by side)
  timeoutMs = 60_000,
): Promise<EdgeProcess> {
  const edge = new EdgeProcess(args, env, main)
  await edge.waitForMsg(readyMsg, timeoutMs)
  return edge
}
