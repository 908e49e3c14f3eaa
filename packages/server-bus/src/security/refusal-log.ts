// Logs refused connections without letting a flood of bogus peers flood the log: the first
// few of each interval in full, then one summary line per interval with counts by reason.
import type { Logger } from '../logger.ts'

const INTERVAL_MS = 10_000
const DETAILED_PER_INTERVAL = 5

export class RefusalLog {
  readonly #logger: Logger
  readonly #byReason = new Map<string, number>()
  #detailed = 0
  #suppressed = 0
  #timer: NodeJS.Timeout | undefined
  /** refused connections since the bus started, by reason */
  readonly totals = new Map<string, number>()

  constructor(logger: Logger) {
    this.#logger = logger
  }

  refused(reason: string, fields: Record<string, unknown>, message: string): void {
    this.totals.set(reason, (this.totals.get(reason) ?? 0) + 1)
    this.#timer ??= setTimeout(() => this.#summarize(), INTERVAL_MS).unref()
    if (this.#detailed < DETAILED_PER_INTERVAL) {
      this.#detailed++
      this.#logger.warn({ ...fields, reason }, message)
      return
    }
    this.#suppressed++
    this.#byReason.set(reason, (this.#byReason.get(reason) ?? 0) + 1)
  }

  close(): void {
    clearTimeout(this.#timer)
    this.#summarize()
  }

  #summarize(): void {
    this.#timer = undefined
    if (this.#suppressed > 0) {
      this.#logger.warn(
        { refused: Object.fromEntries(this.#byReason) },
        `refused ${this.#suppressed} more connections in the last ${INTERVAL_MS / 1000} s (not logged one by one)`,
      )
    }
    this.#detailed = 0
    this.#suppressed = 0
    this.#byReason.clear()
  }
}
