import { describe, expect, it } from 'vitest'
import { ReadPacer } from './read-pacer.ts'
import { QUEUED_FRAME_BYTES } from './receive-buffer.ts'

const MAX_US = 10_000
const RECORDS = 256

describe('ReadPacer', () => {
  it('waits the whole budget on a slow, steady bus: 1,000 frames/s read a frame at a time at first', () => {
    // a big queue: 4,096 frames
    const pacer = new ReadPacer(MAX_US, RECORDS, 4096 * QUEUED_FRAME_BYTES)
    expect(pacer.afterBatch(1, 0)).toBe(MAX_US)
    expect(pacer.afterBatch(10, 10)).toBeUndefined() // unchanged: the addon is not called again
    expect(pacer.waitUs).toBe(MAX_US)
  })

  it('waits no longer than a quarter of the queue takes to fill at the rate just seen', () => {
    // 200 frames of queue; 20 frames in 1 ms = 20 frames/ms: a quarter (50 frames) in 2.5 ms
    const pacer = new ReadPacer(MAX_US, RECORDS, 200 * QUEUED_FRAME_BYTES)
    pacer.afterBatch(1, 0)
    expect(pacer.afterBatch(20, 1)).toBe(2500)
    // 1 frame in 1 ms: 50 ms of room, capped by the budget
    expect(pacer.afterBatch(1, 2)).toBe(MAX_US)
  })

  it('polls again at once after a batch that filled the records: more are queued', () => {
    const pacer = new ReadPacer(MAX_US, RECORDS, 4096 * QUEUED_FRAME_BYTES)
    pacer.afterBatch(1, 0)
    expect(pacer.afterBatch(RECORDS, 10)).toBe(0)
    expect(pacer.afterBatch(3, 11)).toBe(MAX_US)
  })

  it('never waits with a budget of 0', () => {
    const pacer = new ReadPacer(0, RECORDS, 4096 * QUEUED_FRAME_BYTES)
    expect(pacer.afterBatch(1, 0)).toBeUndefined()
    expect(pacer.afterBatch(1, 100)).toBeUndefined()
    expect(pacer.waitUs).toBe(0)
  })

  it('does not wait at all when even a quarter of the queue fills faster than one step', () => {
    // 4 frames of queue, 100 frames in 1 ms: one frame of room fills in 10 µs
    const pacer = new ReadPacer(MAX_US, RECORDS, 4 * QUEUED_FRAME_BYTES)
    pacer.afterBatch(1, 0)
    pacer.afterBatch(1, 100)
    expect(pacer.waitUs).toBeGreaterThan(0)
    expect(pacer.afterBatch(100, 101)).toBe(0)
  })
})
