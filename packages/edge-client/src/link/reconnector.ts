// Which server the edge connects to next, and when: the list from --server, the current
// one, and the backoff. A failed or lost connection moves to the next server in the list;
// the backoff grows only once every server has failed in a row (a round), and a WELCOME
// resets it. The clock and the randomness are injected so that tests need no real waits.
import type { ServerAddress } from '../config.ts'
import { REAL_TIMERS, type Timers } from '../timers.ts'
import { describeAddress } from './server-address.ts'

/** How the reconnector waits: setTimeout by default, a test's own clock in unit tests. */
export type ReconnectTimers = Timers

export interface ReconnectorOptions {
  /** the servers in the order they are tried (at least one) */
  servers: readonly ServerAddress[]
  /** backoff ceiling of the first round, doubled after each round that failed */
  minMs: number
  /** most the ceiling grows to */
  maxMs: number
  /** 0 ≤ x < 1; the jitter (default Math.random) */
  random?: () => number
  timers?: ReconnectTimers
}

/** What a failure decided: the next server, how long to wait, and whether that ended a round. */
export interface NextAttempt {
  /** the server that failed */
  from: ServerAddress
  /** the server tried next (the same one when the list has one) */
  to: ServerAddress
  /** wait before trying it */
  delayMs: number
  /** every server has failed since the last WELCOME (or the last round): the backoff grew */
  roundFailed: boolean
  /** rounds that failed in a row since the last WELCOME */
  rounds: number
  /** attempts that failed in a row since the last WELCOME */
  failures: number
}

export class Reconnector {
  readonly servers: readonly ServerAddress[]
  readonly #minMs: number
  readonly #maxMs: number
  readonly #random: () => number
  readonly #timers: ReconnectTimers
  #index = 0
  /** where the current round began: coming back here after failures completes a round */
  #roundStart = 0
  #rounds = 0
  #failures = 0
  #timer: unknown
  #scheduled = false
  /** connections that ended on a server and went on at another one */
  failovers = 0
  /** connections re-established (a WELCOME after a failure) */
  reconnects = 0

  constructor(options: ReconnectorOptions) {
    const { servers, minMs, maxMs } = options
    if (servers.length === 0) throw new RangeError('servers: at least one server is needed')
    if (!(Number.isFinite(minMs) && minMs > 0))
      throw new RangeError(`minMs: expected a positive number of milliseconds, got ${minMs}`)
    if (!(Number.isFinite(maxMs) && maxMs >= minMs))
      throw new RangeError(`maxMs: expected at least minMs (${minMs}), got ${maxMs}`)
    this.servers = [...servers]
    this.#minMs = minMs
    this.#maxMs = maxMs
    this.#random = options.random ?? Math.random
    this.#timers = options.timers ?? REAL_TIMERS
  }

  /** The server being tried, or connected to. */
  get current(): ServerAddress {
    return this.servers[this.#index]!
  }

  /** Its position in the list (0-based). */
  get index(): number {
    return this.#index
  }

  /** The current server as the logs and statistics name it. */
  describe(): string {
    return describeAddress(this.current)
  }

  /** Attempts that failed in a row since the last WELCOME. */
  get failures(): number {
    return this.#failures
  }

  /** A reconnect is waiting for its timer. */
  get scheduled(): boolean {
    return this.#scheduled
  }

  /** The current server answered WELCOME: the backoff starts over, the round starts here. */
  connected(): void {
    if (this.#failures > 0) this.reconnects++
    this.#failures = 0
    this.#rounds = 0
    this.#roundStart = this.#index
  }

  /**
   * The connection to the current server failed or was lost: moves to the next server and
   * says how long to wait. The wait is the backoff of the rounds failed so far (full
   * jitter in the upper half); it doubles only when this failure completes a round.
   */
  failed(): NextAttempt {
    const from = this.current
    this.#failures++
    this.#index = (this.#index + 1) % this.servers.length
    const roundFailed = this.#index === this.#roundStart
    if (roundFailed) this.#rounds++
    if (from !== this.current) this.failovers++
    return {
      from,
      to: this.current,
      delayMs: this.#delay(),
      roundFailed,
      rounds: this.#rounds,
      failures: this.#failures,
    }
  }

  /** Runs `connect` after `delayMs`, replacing a reconnect already waiting. */
  schedule(connect: () => void, delayMs: number): void {
    this.cancel()
    this.#scheduled = true
    this.#timer = this.#timers.set(() => {
      this.#scheduled = false
      connect()
    }, delayMs)
  }

  /** Forgets a waiting reconnect (shutdown). */
  cancel(): void {
    if (!this.#scheduled) return
    this.#scheduled = false
    this.#timers.clear(this.#timer)
  }

  /** The backoff ceiling after `rounds` failed rounds: minMs for the first two, then doubling. */
  ceilingMs(rounds = this.#rounds): number {
    // exponent capped: 2 ** 20 × minMs is past any sensible maximum already
    return Math.min(this.#maxMs, this.#minMs * 2 ** Math.min(Math.max(rounds - 1, 0), 20))
  }

  #delay(): number {
    const ceiling = this.ceilingMs()
    return Math.round(ceiling / 2 + (this.#random() * ceiling) / 2)
  }
}
