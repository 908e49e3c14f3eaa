// When to read the socket's drop counter (SO_MEMINFO) outside a frame: once the socket has
// gone idle, so that drops after its last frame are reported now, not with the next frame
// hours later. Idle is a whole tick of the timer, on time, without a batch. A tick that comes
// late means the process was stalled (stopped, starved of CPU): frames queued before those
// drops may still wait in the socket or in the binding's hand-off, which the event loop runs
// after its timers; counting the drops now would number them before those frames.

/** a tick this much later than its period: the process was stalled */
const LATE_FACTOR = 1.5

export class IdleDropCheck {
  readonly #periodMs: number
  #lastTickMs: number
  /** a batch arrived since the last tick */
  #busy = false
  /** the drop counter was read since the last batch */
  #checked = false

  constructor(periodMs: number, nowMs: number) {
    this.#periodMs = periodMs
    this.#lastTickMs = nowMs
  }

  /** A new socket: its counter is read at the first idle tick. */
  reset(nowMs: number): void {
    this.#busy = false
    this.#checked = false
    this.#lastTickMs = nowMs
  }

  /** A batch arrived: not idle, and drops may follow it. */
  batchArrived(): void {
    this.#busy = true
    this.#checked = false
  }

  /** The timer's tick at `nowMs`: true when the drop counter is to be read now. */
  tick(nowMs: number): boolean {
    const late = nowMs - this.#lastTickMs > this.#periodMs * LATE_FACTOR
    this.#lastTickMs = nowMs
    if (this.#busy || late) {
      this.#busy = false
      return false
    }
    if (this.#checked) return false
    this.#checked = true
    return true
  }
}
