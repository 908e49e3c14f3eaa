// One client's frames on their way to the bus: sent at once when the CAN TX queue has room,
// otherwise retried in order with backoff (1 ms doubling to 50 ms) until a deadline, so a
// burst from a client is neither lost to a momentarily full queue nor blocks the thread.
import type { TxFrame } from '@canbridge/protocol'
import type { CanSource, SendOutcome } from '../can/can-source.ts'

const RETRY_MIN_MS = 1
const RETRY_MAX_MS = 50

type Failure = Extract<SendOutcome, { ok: false }>['error'] | 'timeout'

export interface TransmitQueueOptions {
  /** frames that may wait; beyond: refused at once with tx-queue-full */
  limit: number
  /** how long a frame may wait for room */
  timeoutMs: number
  /** a frame went out */
  onSent(frame: TxFrame): void
  /** a frame did not go out, and why */
  onFailed(frame: TxFrame, error: Failure, message: string): void
}

interface Waiting {
  frame: TxFrame
  expiresAt: number
}

export class TransmitQueue {
  readonly #source: CanSource
  readonly #options: TransmitQueueOptions
  #waiting: Waiting[] = []
  #timer: NodeJS.Timeout | undefined
  #delayMs = RETRY_MIN_MS

  constructor(source: CanSource, options: TransmitQueueOptions) {
    this.#source = source
    this.#options = options
  }

  get size(): number {
    return this.#waiting.length
  }

  send(frame: TxFrame): void {
    if (this.#waiting.length >= this.#options.limit) {
      this.#options.onFailed(
        frame,
        'tx-queue-full',
        `${this.#waiting.length} frames already wait for room in the CAN TX queue`,
      )
      return
    }
    const waiting = { frame, expiresAt: performance.now() + this.#options.timeoutMs }
    // keep order: behind frames already waiting, never around them
    if (this.#waiting.length > 0 || !this.#attempt(waiting)) {
      this.#waiting.push(waiting)
      this.#schedule()
    }
  }

  /** Forgets what waits (the client left). Idempotent. */
  clear(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#waiting = []
  }

  /** True when the frame is done with: sent, or failed for good. */
  #attempt(waiting: Waiting): boolean {
    const outcome = this.#source.send(waiting.frame)
    if (outcome.ok) {
      this.#options.onSent(waiting.frame)
      return true
    }
    if (outcome.error !== 'tx-queue-full') {
      this.#options.onFailed(waiting.frame, outcome.error, outcome.message ?? outcome.error)
      return true
    }
    if (performance.now() < waiting.expiresAt) return false
    this.#options.onFailed(
      waiting.frame,
      'timeout',
      `the CAN TX queue stayed full for ${this.#options.timeoutMs} ms`,
    )
    return true
  }

  #schedule(): void {
    if (this.#timer === undefined) this.#timer = setTimeout(this.#retry, this.#delayMs)
  }

  #retry = (): void => {
    this.#timer = undefined
    let progressed = false
    while (this.#waiting.length > 0 && this.#attempt(this.#waiting[0]!)) {
      this.#waiting.shift()
      progressed = true
    }
    this.#delayMs = progressed ? RETRY_MIN_MS : Math.min(RETRY_MAX_MS, this.#delayMs * 2)
    if (this.#waiting.length > 0) this.#schedule()
  }
}
