// Log lines for refused transmits: the first refusal of each kind on a channel at once, then
// at most one line per interval with how many followed, so a server hammering a rate limit
// cannot flood the journal. The counters (STATS, metrics) count every one.

export type RefusalLogger = (fields: {
  channel: string
  error: string
  message: string
  /** refusals of this kind since the previous line (1 for the first) */
  count: number
}) => void

interface Pending {
  loggedAt: number
  count: number
  message: string
  timer: NodeJS.Timeout | undefined
}

export class RefusalLog {
  readonly #log: RefusalLogger
  readonly #intervalMs: number
  readonly #pending = new Map<string, Pending>()

  constructor(log: RefusalLogger, intervalMs = 10_000) {
    this.#log = log
    this.#intervalMs = intervalMs
  }

  note(channel: string, error: string, message: string): void {
    const key = `${channel}\0${error}`
    const now = performance.now()
    const entry = this.#pending.get(key)
    if (!entry || (entry.timer === undefined && now - entry.loggedAt >= this.#intervalMs)) {
      this.#log({ channel, error, message, count: 1 })
      this.#pending.set(key, { loggedAt: now, count: 0, message, timer: undefined })
      return
    }
    entry.count++
    entry.message = message
    entry.timer ??= setTimeout(
      () => {
        this.#log({ channel, error, message: entry.message, count: entry.count })
        this.#pending.set(key, {
          loggedAt: performance.now(),
          count: 0,
          message: entry.message,
          timer: undefined,
        })
      },
      Math.max(0, this.#intervalMs - (now - entry.loggedAt)),
    )
    entry.timer.unref?.()
  }

  /** Stops the pending timers (shutdown). */
  close(): void {
    for (const entry of this.#pending.values()) clearTimeout(entry.timer)
    this.#pending.clear()
  }
}
