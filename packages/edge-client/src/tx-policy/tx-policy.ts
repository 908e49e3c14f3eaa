// What the server may put on the bus through this edge: listen-only, the id allow-list and
// the rate limit per channel (TRANSMIT and periodic frames share one bucket). The poll worker
// asks it before every send; it counts what it refuses.
import type { TransmitError, TxFrame } from '@canbridge/protocol'
import { FRAME_FLAG } from '@canbridge/protocol/frames'
import { describeId, type IdRange, TxAllowList } from './allow-list.ts'
import { TokenBucket } from './rate-limiter.ts'
import { RefusalCounters } from './refusal-counters.ts'

/** The checked settings (config's txAllow, txRateLimit, txBurst), as the poll worker gets them. */
export interface TxPolicySettings {
  listenOnly: boolean
  /** null: every id */
  allow: IdRange[] | null
  /** frames/s per channel; null: no limit */
  rateLimit: number | null
  burst: number
}

export const OPEN_TX_POLICY: TxPolicySettings = {
  listenOnly: false,
  allow: null,
  rateLimit: null,
  burst: 1,
}

export interface TxRefusal {
  error: Extract<TransmitError, 'listen-only' | 'not-allowed' | 'rate-limited'>
  message: string
}

export class TxPolicy {
  readonly settings: TxPolicySettings
  readonly counters: RefusalCounters
  readonly #allow: TxAllowList | null
  readonly #buckets: (TokenBucket | null)[]

  constructor(
    settings: TxPolicySettings,
    channels: number,
    counters: SharedArrayBuffer,
    now?: () => number,
  ) {
    this.settings = settings
    this.counters = new RefusalCounters(counters)
    this.#allow = settings.allow && new TxAllowList(settings.allow)
    this.#buckets = Array.from({ length: channels }, () =>
      settings.rateLimit === null ? null : new TokenBucket(settings.rateLimit, settings.burst, now),
    )
  }

  /** Why a frame may not be sent at all (listen-only, allow-list), or undefined. */
  #forbidden(frame: TxFrame): TxRefusal | undefined {
    if (this.settings.listenOnly) {
      return { error: 'listen-only', message: 'the edge runs in listen-only mode' }
    }
    const extended = (frame.flags & FRAME_FLAG.EXT) !== 0
    if (this.#allow && !this.#allow.allows(frame.id, extended)) {
      return {
        error: 'not-allowed',
        message: `id ${describeId(frame.id, extended)} is not in this edge's transmit allow-list (--tx-allow ${this.#allow})`,
      }
    }
    return undefined
  }

  /** A TRANSMIT request: refused (counted) or admitted, taking a token of the rate limit. */
  admitTransmit(channel: number, frame: TxFrame): TxRefusal | undefined {
    const forbidden = this.#forbidden(frame)
    if (forbidden) {
      this.counters.add(channel, forbidden.error === 'listen-only' ? 'LISTEN_ONLY' : 'NOT_ALLOWED')
      return forbidden
    }
    const bucket = this.#buckets[channel]
    if (bucket && !bucket.take()) {
      this.counters.add(channel, 'RATE_LIMITED')
      return {
        error: 'rate-limited',
        message: `over this edge's transmit rate limit of ${bucket.ratePerSecond} frames/s (burst ${bucket.burst}) on this channel (--tx-rate-limit)`,
      }
    }
    return undefined
  }

  /** A periodic task's frames (PERIODIC_START / MODIFY): a refusal names the first bad frame. */
  checkTask(channel: number, frames: readonly TxFrame[]): string | undefined {
    for (let i = 0; i < frames.length; i++) {
      const forbidden = this.#forbidden(frames[i]!)
      if (forbidden) {
        this.counters.add(channel, 'PERIODIC_REFUSED')
        return forbidden.error === 'listen-only'
          ? forbidden.message
          : `frame ${i + 1} of ${frames.length}: ${forbidden.message}`
      }
    }
    return undefined
  }

  /** One periodic send: false (counted) when it is over the rate limit and must be skipped. */
  admitPeriodic(channel: number): boolean {
    const bucket = this.#buckets[channel]
    if (!bucket || bucket.take()) return true
    this.counters.add(channel, 'PERIODIC_RATE_LIMITED')
    return false
  }
}
