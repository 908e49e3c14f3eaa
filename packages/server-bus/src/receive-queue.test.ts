import { FRAME_FLAG } from '@canbridge/protocol'
import { concat, recordBytes } from '@canbridge/protocol/testing'
import { describe, expect, it } from 'vitest'
import { ChannelTracker } from './channel-tracker.ts'
import type { CanMessage } from './message.ts'
import { ReceiveQueue } from './receive-queue.ts'

const channel = new ChannelTracker('pi', 'can0')

function records(ids: number[], flags = 0): Uint8Array {
  return concat(
    ...ids.map((id) => recordBytes({ timestampNs: BigInt(id), id, flags, data: [id & 0xff] })),
  )
}

function push(queue: ReceiveQueue, ids: number[], flags = 0): boolean {
  const bytes = records(ids, flags)
  return queue.push(bytes, 0, bytes.length, ids.length, channel)
}

describe('ReceiveQueue', () => {
  it('hands frames out in order, one at a time or in batches, copying the input', () => {
    const queue = new ReceiveQueue({ capacity: 100 })
    const bytes = records([1, 2, 3])
    queue.push(bytes, 0, bytes.length, 3, channel)
    bytes.fill(0) // the queue holds its own copy
    push(queue, [4, 5])
    expect(queue.size).toBe(5)
    expect(queue.shift()?.arbitrationId).toBe(1)
    const out: CanMessage[] = []
    expect(queue.shiftInto(out, 3)).toBe(3)
    expect(out.map((m) => m.arbitrationId)).toEqual([2, 3, 4])
    expect(queue.shiftInto(out, 10)).toBe(1)
    expect(out.at(-1)?.channel).toBe('pi/can0')
    expect(queue.shift()).toBeNull()
    expect(queue.size).toBe(0)
  })

  it('pushes from an offset, skipping records before it', () => {
    const queue = new ReceiveQueue({ capacity: 100 })
    const bytes = records([1, 2, 3])
    const second = 15 // one record: 14 bytes of header and 1 of data
    queue.push(bytes, second, bytes.length, 2, channel)
    expect([queue.shift()?.arbitrationId, queue.shift()?.arbitrationId]).toEqual([2, 3])
  })

  it('applies filters and the own-message rule when frames are taken', () => {
    const queue = new ReceiveQueue({ capacity: 100 })
    push(queue, [1, 2, 3])
    push(queue, [4], FRAME_FLAG.TX)
    queue.filters = [{ canId: 2, canMask: 0x7fe }]
    const out: CanMessage[] = []
    queue.shiftInto(out, 10)
    expect(out.map((m) => m.arbitrationId)).toEqual([2, 3])
    queue.filters = null
    push(queue, [5], FRAME_FLAG.TX)
    queue.ownMessages = true
    expect(queue.shift()?.isRx).toBe(false)
  })

  it('reports full at the capacity and calls onDrain at half', () => {
    let drained = 0
    const queue = new ReceiveQueue({ capacity: 4, onDrain: () => drained++ })
    expect(push(queue, [1, 2])).toBe(true)
    expect(push(queue, [3, 4, 5])).toBe(false) // past the bound by one push, never more
    expect(queue.isFull).toBe(true)
    expect(queue.peak).toBe(5)
    queue.shift()
    queue.shift()
    expect(drained).toBe(0)
    queue.shift()
    expect(drained).toBe(1)
    expect(queue.isFull).toBe(false)
  })

  it('reuses its blocks once their frames are taken', () => {
    const queue = new ReceiveQueue({ capacity: 1_000_000 })
    for (let round = 0; round < 50; round++) {
      push(
        queue,
        Array.from({ length: 4096 }, (_, i) => i % 0x800),
      )
      const out: CanMessage[] = []
      while (queue.shiftInto(out, 1000) > 0) out.length = 0
    }
    expect(queue.size).toBe(0)
    expect(queue.peak).toBe(4096)
  })

  it('wakes waiters on push, on timeout, on abort and on close', async () => {
    const queue = new ReceiveQueue({ capacity: 10 })
    const woken = queue.wait()
    push(queue, [1])
    await woken
    expect(queue.shift()?.arbitrationId).toBe(1)
    const started = performance.now()
    await queue.wait(30)
    expect(performance.now() - started).toBeGreaterThanOrEqual(25)
    const controller = new AbortController()
    const aborted = queue.wait(undefined, controller.signal)
    controller.abort()
    await aborted
    const closing = queue.wait()
    push(queue, [2])
    queue.close()
    await closing
    expect(queue.shift()).toBeNull()
    expect(push(queue, [3])).toBe(false)
  })
})
