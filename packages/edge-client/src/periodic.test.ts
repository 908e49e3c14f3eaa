import type { TxFrame } from '@canbridge/protocol'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { PeriodicScheduler } from './periodic.ts'

const frame = (b: number): TxFrame => ({ id: 0x10, flags: 0, len: 1, data: Uint8Array.of(b) })

afterEach(() => {
  vi.useRealTimers()
})

describe('periodic tasks', () => {
  it('keep to start + k × period even when timers fire late, skipping missed slots', () => {
    vi.useFakeTimers()
    let now = 0
    const sent: [number, number][] = []
    const scheduler = new PeriodicScheduler({
      now: () => now,
      send: (_channel, f) => {
        sent.push([now, f.data[0]!])
        return true
      },
      problem: () => {},
    })
    scheduler.start({ taskId: 1, channel: 0, frames: [frame(1), frame(2)], periodMs: 10 })
    for (let i = 0; i < 5; i++) {
      now += 13 // each timer fires 3 ms late: the schedule must not drift
      vi.advanceTimersToNextTimer()
    }
    expect(sent.map(([t]) => t)).toEqual([0, 13, 26, 39, 52, 65])
    // the due times stayed on the 10 ms grid: 13 ms late each time means one slot skipped per ~3
    expect(scheduler.stats(1)!.skipped).toBeGreaterThan(0)
    expect(sent.map(([, b]) => b)).toEqual([1, 2, 1, 2, 1, 2])
    scheduler.modify({ taskId: 1, frames: [frame(9)] })
    now += 10
    vi.advanceTimersToNextTimer()
    expect(sent.at(-1)![1]).toBe(9)
    scheduler.stop(1)
    expect(scheduler.size).toBe(0)
  })

  it('ends after its duration and reports send failures', () => {
    vi.useFakeTimers()
    let now = 0
    const problems: string[] = []
    const scheduler = new PeriodicScheduler({
      now: () => now,
      send: () => false,
      problem: (_id, m) => problems.push(m),
    })
    scheduler.start({ taskId: 2, channel: 0, frames: [frame(1)], periodMs: 10, durationMs: 35 })
    for (let i = 0; i < 10; i++) {
      now += 10
      vi.advanceTimersToNextTimer()
    }
    expect(scheduler.size).toBe(0)
    expect(problems[0]).toMatch(/send failed/)
    scheduler.modify({ taskId: 3, frames: [frame(1)] })
    expect(problems.at(-1)).toMatch(/not running/)
  })

  it('skips the slots the rate limit refuses: counted apart, the frames keep their turn', () => {
    vi.useFakeTimers()
    let now = 0
    const sent: number[] = []
    const problems: string[] = []
    let slot = 0
    const scheduler = new PeriodicScheduler({
      now: () => now,
      // every third slot has no token
      admit: () => ++slot % 3 !== 0,
      send: (_channel, f) => {
        sent.push(f.data[0]!)
        return true
      },
      problem: (_id, m) => problems.push(m),
    })
    scheduler.start({ taskId: 4, channel: 0, frames: [frame(1), frame(2)], periodMs: 10 })
    for (let i = 0; i < 5; i++) {
      now += 10
      vi.advanceTimersToNextTimer()
    }
    // slots 1..6: 3 and 6 refused; the refused slot's frame is not sent later
    expect(sent).toEqual([1, 2, 2, 1])
    expect(scheduler.stats(4)).toEqual({ sent: 4, skipped: 0, failed: 0, rateLimited: 2 })
    expect(problems).toEqual([
      "1 send(s) skipped by the edge's transmit rate limit (--tx-rate-limit)",
    ])
    scheduler.stopAll('test')
  })
})
