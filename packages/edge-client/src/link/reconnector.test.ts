// The reconnector alone, on a clock of the test's own: failover order, when the backoff
// grows, its reset on WELCOME, and the timer it owns. No real waits.
import { describe, expect, it } from 'vitest'
import type { ServerAddress } from '../config.ts'
import { Reconnector, type ReconnectTimers } from './reconnector.ts'

const A: ServerAddress = { kind: 'tcp', host: 'a.example', port: 29536 }
const B: ServerAddress = { kind: 'tcp', host: 'b.example', port: 29536 }
const C: ServerAddress = { kind: 'tcp', host: '::1', port: 1 }

/** A clock that moves only when the test says so. */
class ManualClock implements ReconnectTimers {
  now = 0
  #pending: { at: number; run: () => void; id: number }[] = []
  #ids = 0

  set(run: () => void, delayMs: number): unknown {
    const id = ++this.#ids
    this.#pending.push({ at: this.now + delayMs, run, id })
    return id
  }

  clear(handle: unknown): void {
    this.#pending = this.#pending.filter((p) => p.id !== handle)
  }

  get waiting(): number {
    return this.#pending.length
  }

  advance(ms: number): void {
    this.now += ms
    const due = this.#pending.filter((p) => p.at <= this.now)
    this.#pending = this.#pending.filter((p) => p.at > this.now)
    for (const p of due) p.run()
  }
}

/** random() = 1 - ε would round up; the ceiling itself is what the tests read with 0.999… */
const atCeiling = () => 0.999_999
const atHalf = () => 0

function reconnector(servers: ServerAddress[], random = atCeiling, timers = new ManualClock()) {
  return new Reconnector({ servers, minMs: 100, maxMs: 1000, random, timers })
}

describe('Reconnector', () => {
  it('refuses an empty list and bad backoff bounds', () => {
    expect(() => new Reconnector({ servers: [], minMs: 100, maxMs: 1000 })).toThrow(
      /at least one server/,
    )
    expect(() => new Reconnector({ servers: [A], minMs: 0, maxMs: 1000 })).toThrow(/minMs/)
    expect(() => new Reconnector({ servers: [A], minMs: 100, maxMs: 50 })).toThrow(/maxMs/)
  })

  it('one server: every failure is a failed round, so the backoff doubles each time (as before the list)', () => {
    const r = reconnector([A])
    const delays = Array.from({ length: 6 }, () => r.failed())
    expect(delays.map((d) => d.to)).toEqual([A, A, A, A, A, A])
    expect(delays.map((d) => d.delayMs)).toEqual([100, 200, 400, 800, 1000, 1000])
    expect(delays.every((d) => d.roundFailed)).toBe(true)
    expect(r.failovers).toBe(0)
  })

  it('moves to the next server on each failure, in list order, wrapping around', () => {
    const r = reconnector([A, B, C])
    expect(r.current).toBe(A)
    expect(r.describe()).toBe('a.example:29536')
    expect([r.failed().to, r.failed().to, r.failed().to, r.failed().to]).toEqual([B, C, A, B])
    expect(r.describe()).toBe('b.example:29536')
    expect(r.failovers).toBe(4)
  })

  it('the backoff grows only when a whole round of servers failed', () => {
    const r = reconnector([A, B, C])
    const steps = Array.from({ length: 9 }, () => r.failed())
    expect(steps.map((s) => s.roundFailed)).toEqual([
      false,
      false,
      true,
      false,
      false,
      true,
      false,
      false,
      true,
    ])
    expect(steps.map((s) => s.rounds)).toEqual([0, 0, 1, 1, 1, 2, 2, 2, 3])
    // the first two rounds wait the minimum, then it doubles per round
    expect(steps.map((s) => s.delayMs)).toEqual([100, 100, 100, 100, 100, 200, 200, 200, 400])
    expect(steps.at(-1)!.failures).toBe(9)
  })

  it('the jitter keeps every wait in the upper half of the ceiling', () => {
    const low = reconnector([A], atHalf)
    expect([low.failed().delayMs, low.failed().delayMs, low.failed().delayMs]).toEqual([
      50, 100, 200,
    ])
  })

  it('a WELCOME resets the backoff, and the next round starts at the server that welcomed', () => {
    const r = reconnector([A, B, C])
    for (let i = 0; i < 7; i++) r.failed() // A B C A B C A: now at B, 2 rounds failed
    expect(r.current).toBe(B)
    r.connected()
    expect(r.reconnects).toBe(1)
    expect(r.failures).toBe(0)
    // lost B: C, then A, then back at B completes the round
    const lost = r.failed()
    expect(lost).toMatchObject({ from: B, to: C, roundFailed: false, rounds: 0, delayMs: 100 })
    expect(r.failed()).toMatchObject({ to: A, roundFailed: false })
    expect(r.failed()).toMatchObject({ to: B, roundFailed: true, rounds: 1, delayMs: 100 })
    expect(r.failed()).toMatchObject({ to: C, rounds: 1 })
  })

  it('a WELCOME on the first try is no reconnect', () => {
    const r = reconnector([A, B])
    r.connected()
    expect(r.reconnects).toBe(0)
  })

  it('owns the reconnect timer: fires after the delay, replaced by a newer one, cancelled on stop', () => {
    const clock = new ManualClock()
    const r = reconnector([A, B], atCeiling, clock)
    const tried: string[] = []
    const next = r.failed()
    r.schedule(() => tried.push(r.describe()), next.delayMs)
    expect(r.scheduled).toBe(true)
    clock.advance(next.delayMs - 1)
    expect(tried).toEqual([])
    clock.advance(1)
    expect(tried).toEqual(['b.example:29536'])
    expect(r.scheduled).toBe(false)

    r.schedule(() => tried.push('first'), 100)
    r.schedule(() => tried.push('second'), 100)
    expect(clock.waiting).toBe(1)
    clock.advance(100)
    expect(tried.slice(1)).toEqual(['second'])

    r.schedule(() => tried.push('cancelled'), 100)
    r.cancel()
    clock.advance(1000)
    expect(tried).not.toContain('cancelled')
    expect(clock.waiting).toBe(0)
  })
})
