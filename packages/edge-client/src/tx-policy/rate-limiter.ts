// A token bucket: `ratePerSecond` frames a second on average, at most `burst` at once. It
// starts full, so a quiet channel may send a whole burst at once.

export class TokenBucket {
  readonly ratePerSecond: number
  readonly burst: number
  readonly #now: () => number
  #tokens: number
  #updatedAt: number

  /** `now`: a clock in milliseconds (tests inject one). */
  constructor(ratePerSecond: number, burst: number, now: () => number = () => performance.now()) {
    if (!(ratePerSecond > 0)) throw new RangeError(`rate must be above 0, got ${ratePerSecond}`)
    if (!Number.isInteger(burst) || burst < 1)
      throw new RangeError(`burst must be an integer of at least 1, got ${burst}`)
    this.ratePerSecond = ratePerSecond
    this.burst = burst
    this.#now = now
    this.#tokens = burst
    this.#updatedAt = now()
  }

  /** Takes one frame's token; false when the bucket is empty (the frame must not go out). */
  take(): boolean {
    const now = this.#now()
    this.#tokens = Math.min(
      this.burst,
      this.#tokens + ((now - this.#updatedAt) * this.ratePerSecond) / 1000,
    )
    this.#updatedAt = now
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}

/** --tx-burst's default: a tenth of a second's worth, rounded up, at least 1. */
export function defaultBurst(ratePerSecond: number): number {
  return Math.max(1, Math.ceil(ratePerSecond / 10))
}
