// Runs the canbridge command line in a child process, and reads what it says: stdout, stderr,
// the address it listens on. From the sources (this package's tests) it runs src/main.ts through
// test/support/canbridge-cli.ts; from dist (packages/e2e) the shipped bin/canbridge.js.
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ENTRY = fileURLToPath(
  new URL(
    import.meta.url.endsWith('.ts')
      ? '../../test/support/canbridge-cli.ts'
      : '../../bin/canbridge.js',
    import.meta.url,
  ),
)

export interface CliOptions {
  cwd?: string
  /** text for stdin (default: none) */
  stdin?: string
  /** variables added to this process's environment */
  env?: Record<string, string>
}

export class CliProcess {
  readonly child: ChildProcess
  stdout = ''
  stderr = ''
  readonly exited: Promise<number | null>

  constructor(args: readonly string[], options: CliOptions = {}) {
    this.child = spawn(process.execPath, [ENTRY, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    })
    if (options.stdin !== undefined) this.child.stdin!.end(options.stdin)
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk
    })
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk
    })
    this.exited = new Promise((resolve) => this.child.once('close', (code) => resolve(code)))
  }

  /** Waits until stderr matches; throws with what was said if it does not within the time. */
  async waitForStderr(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const match = pattern.exec(this.stderr)
      if (match !== null) return match
      if (this.child.exitCode !== null || performance.now() > deadline) {
        throw new Error(`stderr never matched ${pattern}: ${JSON.stringify(this.stderr)}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  /** The port from `listening on 127.0.0.1:<port>`. */
  async port(): Promise<number> {
    const match = await this.waitForStderr(/listening on 127\.0\.0\.1:(\d+)/)
    return Number(match[1])
  }

  async waitForStdout(predicate: (text: string) => boolean, timeoutMs = 15_000): Promise<void> {
    const deadline = performance.now() + timeoutMs
    while (!predicate(this.stdout)) {
      if (this.child.exitCode !== null || performance.now() > deadline) {
        throw new Error(
          `stdout: ${JSON.stringify(this.stdout)}; stderr: ${JSON.stringify(this.stderr)}`,
        )
      }
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  /** Sends SIGINT (Ctrl-C) and waits for the exit status. */
  interrupt(): Promise<number | null> {
    this.child.kill('SIGINT')
    return this.exited
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL')
  }
}
