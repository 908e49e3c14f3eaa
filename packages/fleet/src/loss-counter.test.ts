import { describe, expect, it } from 'vitest'
import { LossCounter } from './loss-counter.ts'

const at = { edgeId: 'veh-1', channel: 'can0' }

describe('LossCounter', () => {
  it('counts a gap and the drop report for it once, in either order, and overlaps once', () => {
    const losses = new LossCounter()
    expect(losses.drop({ ...at, fromSeq: 10, count: 5, reason: 'ring-full' })).toBe(5)
    expect(losses.gap({ ...at, fromSeq: 10, count: 5, reported: 5 })).toBe(0)
    expect(losses.gap({ ...at, fromSeq: 20, count: 10, reported: 0 })).toBe(10)
    expect(losses.drop({ ...at, fromSeq: 25, count: 10, reason: 'spool-full' })).toBe(5)
    // dropped before being numbered: no gap can show them
    expect(losses.drop({ ...at, fromSeq: null, count: 3, reason: 'kernel-overflow' })).toBe(3)
    expect(
      losses.gap({ edgeId: 'veh-2', channel: 'can0', fromSeq: 10, count: 2, reported: 0 }),
    ).toBe(2)
    expect(losses.total).toBe(25)
    expect(Object.fromEntries(losses.byChannel)).toEqual({ 'veh-1/can0': 23, 'veh-2/can0': 2 })
  })
})
