// The ground truth: `candump -L` on the edge's interface, writing straight into a file
// (no pipe through this process), which is read every TAIL_MS and parsed into one frame
// table per interface.
import type { ChildProcess } from 'node:child_process'
import { closeSync, openSync, readSync } from 'node:fs'
import { type DumpInvalid, LineSplitter, parseCandumpLine } from './candump-log.ts'
import { exited, type Place, sleep, spawnAt, stopChild } from './exec.ts'
import { FrameTable } from './frames.ts'

const TAIL_MS = 250

export class CandumpRecorder {
  readonly tables = new Map<string, FrameTable>()
  /** frames candump itself reported dropped (its socket overflowed): the truth is incomplete */
  drops = 0
  readonly invalid: DumpInvalid[] = []
  invalidCount = 0
  stderr = ''
  readonly #child: ChildProcess
  readonly #fd: number
  readonly #splitter = new LineSplitter()
  readonly #decoder = new TextDecoder()
  readonly #buffer = Buffer.allocUnsafe(1 << 20)
  readonly #timer: NodeJS.Timeout
  #position = 0
  #stopping = false

  /**
   * Starts candump on `ifaces` at `place`, recording to `logPath`. `limitS` bounds a remote
   * candump's life (ssh).
   */
  constructor(place: Place, ifaces: readonly string[], logPath: string, limitS: number) {
    for (const iface of ifaces) this.tables.set(iface, new FrameTable())
    // -L log format, -D keep running while an interface is down, -d report drops,
    // -r a large receive buffer (SO_RCVBUFFORCE as root), error frames too (#FFFFFFFF)
    const args = ['-L', '-D', '-d', '-r', '8388608', ...ifaces.map((i) => `${i},0:0,#FFFFFFFF`)]
    const out = openSync(logPath, 'w')
    try {
      this.#child = spawnAt(place, 'candump', args, limitS, out)
    } finally {
      closeSync(out)
    }
    this.#fd = openSync(logPath, 'r')
    this.#timer = setInterval(() => this.#tail(), TAIL_MS)
    this.#child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-4000)
    })
  }

  get child(): ChildProcess {
    return this.#child
  }

  /** Frames recorded so far, all interfaces. */
  get count(): number {
    let n = 0
    for (const table of this.tables.values()) n += table.length
    return n
  }

  /**
   * Frames whose kernel timestamp is in [fromUs, toUs), all interfaces: a rate measure that
   * does not depend on when candump's buffered output arrives.
   */
  countBetween(fromUs: number, toUs: number): number {
    let n = 0
    for (const table of this.tables.values()) {
      // timestamps ascend: walk back from the end
      for (let i = table.length - 1; i >= 0; i--) {
        const ts = table.tsUs(i)
        if (ts < fromUs) break
        if (ts < toUs) n++
      }
    }
    return n
  }

  /** True while candump runs (it exits on an error, e.g. a missing interface). */
  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null
  }

  /** Waits until candump's socket is surely open (it prints nothing until a frame arrives). */
  async ready(): Promise<void> {
    await sleep(300)
    if (!this.running) throw new Error(`candump exited at once: ${this.stderr.trim()}`)
  }

  /**
   * Stops candump (SIGINT) once its log has not grown for `settleMs`, and closes the log.
   * candump stops reading at SIGINT: frames still queued in its socket would never be
   * logged, so it must have caught up first. Its output is block-buffered, so the log grows
   * in blocks while it works through a backlog; the last block comes at its exit.
   */
  async stop(settleMs = 500, maxWaitMs = 30_000): Promise<void> {
    if (this.#stopping) return
    this.#stopping = true
    const deadline = performance.now() + maxWaitMs
    let seen = -1
    let quietSince = performance.now()
    while (performance.now() < deadline) {
      this.#tail()
      if (this.count !== seen) {
        seen = this.count
        quietSince = performance.now()
      } else if (performance.now() - quietSince >= settleMs) break
      await sleep(50)
    }
    await stopChild(this.#child, 'SIGINT', 3000)
    await exited(this.#child)
    clearInterval(this.#timer)
    this.#tail()
    this.#splitter.end((line) => this.#line(line))
    closeSync(this.#fd)
  }

  /** Reads what candump appended since the last time. */
  #tail(): void {
    for (;;) {
      const n = readSync(this.#fd, this.#buffer, 0, this.#buffer.length, this.#position)
      if (n <= 0) return
      this.#position += n
      const text = this.#decoder.decode(this.#buffer.subarray(0, n), { stream: true })
      this.#splitter.push(text, (line) => this.#line(line))
      if (n < this.#buffer.length) return
    }
  }

  #line(text: string): void {
    const line = parseCandumpLine(text)
    if (line === null) return
    switch (line.kind) {
      case 'frame': {
        let table = this.tables.get(line.iface)
        if (table === undefined) {
          table = new FrameTable()
          this.tables.set(line.iface, table)
        }
        table.pushFrame(line)
        return
      }
      case 'drops':
        this.drops += line.count
        return
      case 'invalid':
        this.invalidCount++
        if (this.invalid.length < 20) this.invalid.push(line)
        return
    }
  }
}
