import { describe, expect, it } from 'vitest'
import { ReadPacer } from './read-pacer.ts'
import { QUEUED_FRAME_BYTES } from './receive-buffer.ts'

const MAX_US = 10_000
const RECORDS = 256

describe('ReadPacer', () => {
  it('waits the whole budget on a slow, steady bus: 1,000 frames/s, 10 frames per 10 ms wait', () => {
    // a big queue: 4,096 frames
    const pacer = new ReadPacer(MAX_US, RECORDS, 4096 * QUEUED_FRAME_BYTES)
    expect(pacer.afterBatch(1)).toBe(MAX_US)
    expect(pacer.afterBatch(10)).toBeUndefined() // unchanged: the addon is not called again
    expect(pacer.waitUs).toBe(MAX_US)
  })

  it('waits no longer than a quarter of the queue takes to fill at the rate the last wait saw', () => {
    // 200 frames of queue, a quarter is 50 frames; 100 frames came in the 10 ms wait: 5 ms
    const pacer = new ReadPacer(MAX_US, RECORDS, 200 * QUEUED_FRAME_BYTES)
    expect(pacer.afterBatch(1)).toBe(MAX_US)
    expect(pacer.afterBatch(100)).toBe(5000)
    // 50 frames in those 5 ms: the same rate, the same wait
    expect(pacer.afterBatch(50)).toBeUndefined()
    // the bus slows down: 1 frame in 5 ms, back to the budget
    expect(pacer.afterBatch(1)).toBe(MAX_US)
  })

  it('polls again at once after a batch that filled the records: more are queued', () => {
    const pacer = new ReadPacer(MAX_US, RECORDS, 4096 * QUEUED_FRAME_BYTES)
    pacer.afterBatch(1)
    expect(pacer.afterBatch(RECORDS)).toBe(0)
    // 3 frames right after: judged over one step, 250 µs, so 3,072 frames of the queue in 256 ms
    expect(pacer.afterBatch(3)).toBe(MAX_US)
  })

  it('never waits with a budget of 0', () => {
    const pacer = new ReadPacer(0, RECORDS, 4096 * QUEUED_FRAME_BYTES)
    expect(pacer.afterBatch(1)).toBeUndefined()
    expect(pacer.afterBatch(100)).toBeUndefined()
    expect(pacer.waitUs).toBe(0)
  })

  it('does not wait at all when even a quarter of the queue fills faster than one step', () => {
    // 4 frames of queue: one frame of room; 100 frames came in the last wait
    const pacer = new ReadPacer(MAX_US, RECORDS, 4 * QUEUED_FRAME_BYTES)
    expect(pacer.afterBatch(1)).toBe(250)
    expect(pacer.afterBatch(100)).toBe(0)
  })
})
