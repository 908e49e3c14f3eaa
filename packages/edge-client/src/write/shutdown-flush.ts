// The socket-write worker's shutdown: frames still unacknowledged go to the server within a
// deadline; when everything is acknowledged, the deadline passes or the link is lost, what
// is left goes to each channel's spool (or counts as lost without one). Runs once.
import type { LogLevel } from '../messages.ts'
import { REAL_TIMERS, type Timers } from '../timers.ts'
import type { ChannelSender, FlushResult } from './channel-sender.ts'

export interface ShutdownFlushOptions {
  senders: readonly ChannelSender[]
  /** sending stops for good (the worker's loop ends) before the channels are flushed */
  stop(): void
  /** the flush is over: what it did, and why it ended */
  finished(result: FlushResult & { why: string }): void
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void
  timers?: Timers
}

export class ShutdownFlush {
  readonly #options: ShutdownFlushOptions
  readonly #timers: Timers
  #deadline: unknown
  #done = false

  constructor(options: ShutdownFlushOptions) {
    this.#options = options
    this.#timers = options.timers ?? REAL_TIMERS
  }

  /** Starts the deadline; `connected` says whether a welcomed link can take the frames now. */
  start(deadlineMs: number, connected: boolean): void {
    if (!(Number.isFinite(deadlineMs) && deadlineMs >= 0))
      throw new RangeError(`deadlineMs: expected a non-negative number, got ${deadlineMs}`)
    this.#deadline = this.#timers.set(
      () => void this.finish(`deadline of ${deadlineMs} ms passed`),
      deadlineMs,
    )
    if (!connected) {
      void this.finish('not connected')
      return
    }
    this.check()
  }

  get done(): boolean {
    return this.#done
  }

  /** After an ACK: finishes once every channel is drained. */
  check(): void {
    if (!this.#done && this.#options.senders.every((s) => s.drained))
      void this.finish('all frames acknowledged')
  }

  async finish(why: string): Promise<void> {
    if (this.#done) return
    this.#done = true
    this.#timers.clear(this.#deadline)
    this.#options.stop()
    for (const sender of this.#options.senders) sender.stop()
    const total: FlushResult = { unacked: 0, spooled: 0, lost: 0 }
    for (const sender of this.#options.senders) {
      const result = await sender.flush()
      total.unacked += result.unacked
      total.spooled += result.spooled
      total.lost += result.lost
    }
    this.#options.log(total.lost > 0 ? 'warn' : 'info', 'flushed', { why, ...total })
    this.#options.finished({ why, ...total })
  }
}
