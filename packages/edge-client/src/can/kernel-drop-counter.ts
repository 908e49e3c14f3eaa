// The socket's kernel drop counter (sk_drops, uint32, wraps) as frames deliver it
// (SO_RXQ_OVFL) or as read at idle (SO_MEMINFO): turns successive values into "n frames
// lost here". A new socket starts at 0.
const TWO_POW_31 = 2_147_483_648

export class KernelDropCounter {
  /** the highest counter value accounted for */
  #seen = 0
  /** deltas ignored because the value was behind the last (see advance) */
  #behind = 0

  /** A new socket: its counter starts again at 0. */
  reset(): void {
    this.#seen = 0
  }

  /**
   * Frames lost since the last value seen, given the counter now. A value behind the last
   * (a frame queued before drops that an idle check already counted) loses nothing: 0.
   */
  advance(counter: number): number {
    const delta = (counter - this.#seen) >>> 0
    if (delta === 0) return 0
    if (delta >= TWO_POW_31) {
      this.#behind++
      return 0
    }
    this.#seen = counter >>> 0
    return delta
  }

  /** How many values arrived behind one already counted (for the debug log). */
  get behind(): number {
    return this.#behind
  }
}
