import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { EventLoopWatch } from '../src/event-loop-watch.ts'

/** Keeps this thread busy, as a long garbage collection or a synchronous read would. */
function blockFor(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // spin
  }
}

describe('EventLoopWatch', () => {
  it('records a stall with when it began and how long the loop was held', async () => {
    const watch = new EventLoopWatch({ periodMs: 10, thresholdMs: 100 })
    watch.start()
    await sleep(50)
    const blockedAt = Date.now()
    blockFor(300)
    await sleep(50)
    watch.stop()
    // (a busy test machine may add stalls of its own: look for ours)
    const stall = watch.stalls.find((s) => s.ms >= 280)
    expect(stall).toBeDefined()
    expect(stall!.ms).toBeLessThan(1000)
    // the tick was due within about one period of the block's start
    expect(Math.abs(stall!.atMs - blockedAt)).toBeLessThanOrEqual(50)
  })

  it('stops recording once stopped', async () => {
    const watch = new EventLoopWatch({ periodMs: 10, thresholdMs: 100 })
    watch.start()
    watch.stop()
    blockFor(200)
    await sleep(30)
    expect(watch.stalls).toEqual([])
  })
})
