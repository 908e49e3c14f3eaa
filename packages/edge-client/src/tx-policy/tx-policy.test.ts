// The token bucket and the policy on a hand-driven clock: which frames pass is exact.
import { describe, expect, it } from 'vitest'
import { parseAllowList } from './allow-list.ts'
import { defaultBurst, TokenBucket } from './rate-limiter.ts'
import { createRefusalCounters } from './refusal-counters.ts'
import { TxPolicy } from './tx-policy.ts'

const std = (id: number) => ({ id, flags: 0, len: 0, data: new Uint8Array(0) })
const ext = (id: number) => ({ id, flags: 0x01, len: 0, data: new Uint8Array(0) })

describe('token bucket', () => {
  it('lets a full burst through, then the rate', () => {
    let now = 0
    const bucket = new TokenBucket(10, 3, () => now)
    expect([1, 2, 3, 4].map(() => bucket.take())).toEqual([true, true, true, false])
    now += 99 // 0.99 of a token
    expect(bucket.take()).toBe(false)
    now += 1
    expect(bucket.take()).toBe(true)
    expect(bucket.take()).toBe(false)
    now += 10_000 // refills to the burst, no more
    expect([1, 2, 3, 4].map(() => bucket.take())).toEqual([true, true, true, false])
  })

  it('defaults the burst to a tenth of the rate, rounded up, at least 1', () => {
    expect(defaultBurst(1)).toBe(1)
    expect(defaultBurst(10)).toBe(1)
    expect(defaultBurst(11)).toBe(2)
    expect(defaultBurst(250)).toBe(25)
  })

  it('refuses a rate of 0 and a burst below 1', () => {
    expect(() => new TokenBucket(0, 1)).toThrow(RangeError)
    expect(() => new TokenBucket(5, 0)).toThrow(RangeError)
  })
})

describe('transmit policy', () => {
  it('checks listen-only, then the allow-list, then the rate (shared with periodic frames) and counts each refusal', () => {
    let now = 0
    const counters = createRefusalCounters(2)
    const policy = new TxPolicy(
      {
        listenOnly: false,
        allow: parseAllowList('100-1FF,18DAF100-18DAF1FF'),
        rateLimit: 2,
        burst: 2,
      },
      2,
      counters,
      () => now,
    )
    expect(policy.admitTransmit(0, std(0x200))).toEqual({
      error: 'not-allowed',
      message:
        "id 200 (standard) is not in this edge's transmit allow-list (--tx-allow 100-1FF,18DAF100-18DAF1FF)",
    })
    expect(policy.admitTransmit(0, ext(0x100))?.error).toBe('not-allowed')
    expect(policy.admitTransmit(0, std(0x100))).toBeUndefined()
    expect(policy.admitPeriodic(0)).toBe(true)
    // the burst of 2 is spent by one transmit and one periodic frame
    expect(policy.admitTransmit(0, ext(0x18daf100))?.error).toBe('rate-limited')
    expect(policy.admitPeriodic(0)).toBe(false)
    // the other channel has its own bucket
    expect(policy.admitTransmit(1, std(0x1ff))).toBeUndefined()
    now += 500
    expect(policy.admitTransmit(0, std(0x150))).toBeUndefined()
    expect(policy.checkTask(1, [std(0x100), std(0x7ff)])).toBe(
      "frame 2 of 2: id 7FF (standard) is not in this edge's transmit allow-list (--tx-allow 100-1FF,18DAF100-18DAF1FF)",
    )
    expect(policy.counters.read(0)).toEqual({
      txRefusedListenOnly: 0,
      txRefusedNotAllowed: 2,
      txRefusedRateLimited: 1,
      periodicRefused: 0,
      periodicRateLimited: 1,
    })
    expect(policy.counters.statsCounters(1)).toEqual({
      'tx.refused.listen-only': 0,
      'tx.refused.not-allowed': 0,
      'tx.refused.rate-limited': 0,
      'periodic.refused': 1,
      'periodic.rate-limited': 0,
    })
  })

  it('listen-only refuses everything, whatever the list', () => {
    const policy = new TxPolicy(
      { listenOnly: true, allow: null, rateLimit: null, burst: 1 },
      1,
      createRefusalCounters(1),
    )
    expect(policy.admitTransmit(0, std(1))?.error).toBe('listen-only')
    expect(policy.checkTask(0, [std(1)])).toBe('the edge runs in listen-only mode')
    expect(policy.counters.read(0).txRefusedListenOnly).toBe(1)
    expect(policy.counters.read(0).periodicRefused).toBe(1)
  })
})
