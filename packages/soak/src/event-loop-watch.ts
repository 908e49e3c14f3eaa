// When this process's event loop ran late, so that the report can tell latency the bridge
// added from moments the measuring process itself was not running (a long garbage
// collection, a CPU shared with cangen and candump, a paused virtual machine): a frame
// received in such a moment is stamped late by that much.

/** A tick this much late or more is a stall (the soak's default), ms. */
export const DEFAULT_STALL_THRESHOLD_MS = 100

export interface EventLoopStall {
  /** ms since the epoch when the loop stopped running (its tick was due) */
  atMs: number
  /** how late the tick ran, ms */
  ms: number
}

export interface EventLoopWatchOptions {
  /** how often the loop is expected to tick, ms */
  periodMs?: number
  /** a tick this much late or more is a stall, ms */
  thresholdMs?: number
}

export class EventLoopWatch {
  readonly periodMs: number
  readonly thresholdMs: number
  readonly stalls: EventLoopStall[] = []
  #timer: NodeJS.Timeout | undefined
  #lastTick = 0

  constructor(options: EventLoopWatchOptions = {}) {
    this.periodMs = options.periodMs ?? 20
    this.thresholdMs = options.thresholdMs ?? DEFAULT_STALL_THRESHOLD_MS
  }

  start(): void {
    if (this.#timer !== undefined) return
    this.#lastTick = performance.now()
    this.#timer = setInterval(() => this.#tick(), this.periodMs)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  #tick(): void {
    const now = performance.now()
    const late = now - this.#lastTick - this.periodMs
    this.#lastTick = now
    if (late < this.thresholdMs) return
    const dueAt = performance.timeOrigin + now - late
    this.stalls.push({ atMs: Math.round(dueAt), ms: Math.round(late) })
  }
}
