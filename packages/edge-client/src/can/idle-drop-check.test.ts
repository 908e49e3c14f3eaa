import { describe, expect, it } from 'vitest'
import { IdleDropCheck } from './idle-drop-check.ts'

/** The ticks at these times: which of them read the drop counter. */
function reads(check: IdleDropCheck, times: number[]): number[] {
  return times.filter((t) => check.tick(t))
}

describe('IdleDropCheck', () => {
  it('reads once a whole tick passed without a batch, then not again until the next batch', () => {
    const check = new IdleDropCheck(100, 0)
    expect(reads(check, [100, 200, 300])).toEqual([100])
    check.batchArrived()
    // the tick that saw the batch is not idle; the next one is
    expect(reads(check, [400, 500, 600])).toEqual([500])
  })

  it('a steady bus (a batch every tick) is never idle', () => {
    const check = new IdleDropCheck(100, 0)
    expect(check.tick(100)).toBe(true)
    for (let t = 200; t <= 1000; t += 100) {
      check.batchArrived()
      expect(check.tick(t)).toBe(false)
    }
  })

  it('a late tick (the process was stalled) waits a tick: frames queued before the drops come first', () => {
    const check = new IdleDropCheck(100, 0)
    // stopped 50 ms after the socket opened, resumed 2 s later: not yet read, but not now
    expect(check.tick(2050)).toBe(false)
    // the binding hands over what waited in the queue meanwhile; then idle again
    check.batchArrived()
    expect(reads(check, [2150, 2250, 2350])).toEqual([2250])
  })

  it('a tick within half a period of its time counts as on time', () => {
    const check = new IdleDropCheck(100, 0)
    expect(check.tick(150)).toBe(true)
    check.batchArrived()
    expect(reads(check, [300, 449])).toEqual([449])
  })

  it('reset (a new socket) reads its counter at the first idle tick', () => {
    const check = new IdleDropCheck(100, 0)
    expect(check.tick(100)).toBe(true)
    check.reset(5000)
    expect(reads(check, [5100, 5200])).toEqual([5100])
  })
})
