// Keeps one socketcand connection up: the first connect retried until a deadline, then, after
// every loss, reconnects with exponential backoff until closed. Counts connects, losses and
// the time spent without a connection (socketcand has no sequence numbers, so frames sent
// during an outage are lost without a count; the outage itself is what can be measured).
import type { Logger } from '../logger.ts'
import {
  SocketcandLink,
  SocketcandLinkError,
  type SocketcandLinkHandlers,
  type SocketcandLinkOptions,
} from './link.ts'

export interface ReconnectPolicy {
  /** first delay after a loss (doubles each failed attempt) */
  initialDelayMs: number
  maxDelayMs: number
}

/** The link's handlers, with `up` and `down` in place of its `closed`. */
export interface ReconnectingLinkHandlers extends Omit<SocketcandLinkHandlers, 'closed'> {
  /** a connection completed its handshake (the first, or after a loss) */
  up(link: SocketcandLink): void
  /** the connection was lost (not called for `close()`) */
  down(reason: string, error: Error | undefined): void
}

export interface LinkCounters {
  /** handshakes completed */
  connects: number
  /** connections lost after their handshake */
  disconnects: number
  /** connection attempts that failed */
  failedAttempts: number
  /** time without a connection since the first one was up (ongoing outage included) */
  outageMs: number
}

/** Codes after which trying again cannot help, at the first connect. */
const FINAL_AT_START = new Set(['REFUSED', 'PROTOCOL'])

export class ReconnectingLink {
  readonly #options: SocketcandLinkOptions
  readonly #handlers: ReconnectingLinkHandlers
  readonly #policy: ReconnectPolicy | null
  readonly #logger: Logger
  #link: SocketcandLink | undefined
  #closed = false
  #retryTimer: NodeJS.Timeout | undefined
  #downSince: number | undefined
  #outageMs = 0
  #connects = 0
  #disconnects = 0
  #failedAttempts = 0
  #wakeRetry: (() => void) | undefined

  constructor(
    options: SocketcandLinkOptions,
    handlers: ReconnectingLinkHandlers,
    policy: ReconnectPolicy | null,
  ) {
    this.#options = options
    this.#handlers = handlers
    this.#policy = policy
    this.#logger = options.logger
  }

  /** The connection, when one is up and past its handshake. */
  get link(): SocketcandLink | undefined {
    return this.#link?.ready ? this.#link : undefined
  }

  get counters(): LinkCounters {
    const ongoing = this.#downSince === undefined ? 0 : performance.now() - this.#downSince
    return {
      connects: this.#connects,
      disconnects: this.#disconnects,
      failedAttempts: this.#failedAttempts,
      outageMs: Math.round(this.#outageMs + ongoing),
    }
  }

  /**
   * Connects, retrying connection failures (not refusals) until `deadlineMs` from now.
   * Rejects with the last SocketcandLinkError.
   */
  async start(deadlineMs: number): Promise<void> {
    const deadline = performance.now() + deadlineMs
    let delay = this.#policy?.initialDelayMs ?? 100
    for (;;) {
      try {
        await this.#attempt()
        return
      } catch (error) {
        if (!(error instanceof SocketcandLinkError)) throw error
        this.#failedAttempts++
        const left = deadline - performance.now()
        if (this.#closed || FINAL_AT_START.has(error.code) || left <= delay) throw error
        this.#logger.debug({ error: error.message }, 'socketcand connect failed, retrying')
        await this.#sleep(delay)
        delay = Math.min(delay * 2, this.#policy?.maxDelayMs ?? 5000)
      }
    }
  }

  /** Connects in the background and keeps trying (for a link no caller waits on). */
  startInBackground(): void {
    this.#downSince ??= performance.now()
    this.#scheduleRetry(0)
  }

  /** Ends the connection and stops reconnecting. */
  async close(reason: string): Promise<void> {
    this.#closed = true
    clearTimeout(this.#retryTimer)
    this.#wakeRetry?.()
    if (this.#downSince !== undefined) {
      this.#outageMs += performance.now() - this.#downSince
      this.#downSince = undefined
    }
    const link = this.#link
    this.#link = undefined
    await link?.close(reason)
  }

  async #attempt(): Promise<void> {
    const handlers = this.#handlers
    const link = await SocketcandLink.open(this.#options, {
      frame: handlers.frame,
      chunkEnd: handlers.chunkEnd,
      serverError: handlers.serverError,
      ignored: handlers.ignored,
      closed: (reason, error) => this.#lost(link, reason, error),
    })
    if (this.#closed) {
      await link.close('the bus is shutting down')
      return
    }
    this.#link = link
    this.#connects++
    if (this.#downSince !== undefined) {
      this.#outageMs += performance.now() - this.#downSince
      this.#downSince = undefined
    }
    this.#handlers.up(link)
  }

  #lost(link: SocketcandLink, reason: string, error: Error | undefined): void {
    if (this.#link !== link || this.#closed) return
    this.#link = undefined
    this.#disconnects++
    this.#downSince = performance.now()
    this.#handlers.down(reason, error)
    if (this.#policy !== null) this.#scheduleRetry(this.#policy.initialDelayMs)
  }

  #scheduleRetry(delay: number): void {
    if (this.#closed) return
    clearTimeout(this.#retryTimer)
    this.#retryTimer = setTimeout(() => {
      this.#attempt().catch((error: unknown) => {
        if (!(error instanceof SocketcandLinkError)) throw error
        this.#failedAttempts++
        const next = Math.min(
          Math.max(delay * 2, this.#policy?.initialDelayMs ?? 100),
          this.#policy?.maxDelayMs ?? 5000,
        )
        this.#logger.warn(
          { error: error.message, code: error.code, retryInMs: next },
          `socketcand ${this.#options.role} connection attempt failed`,
        )
        this.#scheduleRetry(next)
      })
    }, delay)
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.#wakeRetry = done
    })
  }
}
