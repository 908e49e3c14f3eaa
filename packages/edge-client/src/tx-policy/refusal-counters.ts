// Counters of what the transmit policy refused, per channel, in a SharedArrayBuffer: the poll
// worker counts, the socket-write worker (STATS) and the supervisor (logs, metrics) read them.
// They live outside the workers, so a worker restart keeps them.

/** Float64 slots per channel; written by the poll worker only. */
export const TX_REFUSAL = {
  /** TRANSMIT refused: listen-only */
  LISTEN_ONLY: 0,
  /** TRANSMIT refused: the id is outside --tx-allow */
  NOT_ALLOWED: 1,
  /** TRANSMIT refused: over --tx-rate-limit */
  RATE_LIMITED: 2,
  /** PERIODIC_START / PERIODIC_MODIFY refused (listen-only, or a frame outside --tx-allow) */
  PERIODIC_REFUSED: 3,
  /** periodic frames skipped: over --tx-rate-limit */
  PERIODIC_RATE_LIMITED: 4,
} as const
export type TxRefusalKind = keyof typeof TX_REFUSAL
const SLOTS = 5

/** The counters of one channel, as the statistics and metrics name them. */
export interface TxRefusalCounts {
  txRefusedListenOnly: number
  txRefusedNotAllowed: number
  txRefusedRateLimited: number
  periodicRefused: number
  periodicRateLimited: number
}

/** The same counters as STATS names them (PROTOCOL.md §5.10: informational names). */
export const STATS_NAMES: Record<keyof TxRefusalCounts, string> = {
  txRefusedListenOnly: 'tx.refused.listen-only',
  txRefusedNotAllowed: 'tx.refused.not-allowed',
  txRefusedRateLimited: 'tx.refused.rate-limited',
  periodicRefused: 'periodic.refused',
  periodicRateLimited: 'periodic.rate-limited',
}

export function createRefusalCounters(channels: number): SharedArrayBuffer {
  return new SharedArrayBuffer(Math.max(1, channels) * SLOTS * Float64Array.BYTES_PER_ELEMENT)
}

export class RefusalCounters {
  readonly buffer: SharedArrayBuffer
  readonly #slots: Float64Array

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer
    this.#slots = new Float64Array(buffer)
  }

  add(channel: number, kind: TxRefusalKind, count = 1): void {
    const index = channel * SLOTS + TX_REFUSAL[kind]
    if (index < this.#slots.length) this.#slots[index]! += count
  }

  read(channel: number): TxRefusalCounts {
    const at = (kind: TxRefusalKind): number => this.#slots[channel * SLOTS + TX_REFUSAL[kind]] ?? 0
    return {
      txRefusedListenOnly: at('LISTEN_ONLY'),
      txRefusedNotAllowed: at('NOT_ALLOWED'),
      txRefusedRateLimited: at('RATE_LIMITED'),
      periodicRefused: at('PERIODIC_REFUSED'),
      periodicRateLimited: at('PERIODIC_RATE_LIMITED'),
    }
  }

  /** For STATS: `tx.refused.not-allowed` etc. */
  statsCounters(channel: number): Record<string, number> {
    const counts = this.read(channel)
    const out: Record<string, number> = {}
    for (const key of Object.keys(STATS_NAMES) as (keyof TxRefusalCounts)[])
      out[STATS_NAMES[key]] = counts[key]
    return out
  }
}
