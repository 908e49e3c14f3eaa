// The frame ring on one thread (shared memory works the same within one): records in order
// across wrap-arounds, channel names, the frame bound with its overflow, and resumption.
import { FRAME_FLAG } from '@canbridge/protocol'
import { concat, recordBytes } from '@canbridge/protocol/testing'
import { describe, expect, it } from 'vitest'
import { ChannelTracker } from '../channel-tracker.ts'
import type { CanMessage } from '../message.ts'
import { createFrameRing, MIN_RING_BYTES } from './frame-ring-layout.ts'
import { FrameRingReader } from './frame-ring-reader.ts'
import { FrameRingWriter } from './frame-ring-writer.ts'

const can0 = new ChannelTracker('pi', 'can0')
const can1 = new ChannelTracker('pi', 'can1')

function records(first: number, count: number, dataBytes = 8, flags = 0): Uint8Array {
  return concat(
    ...Array.from({ length: count }, (_, i) => {
      const id = (first + i) & 0x7ff
      const data = Array.from({ length: dataBytes }, (_, b) => (first + i + b) & 0xff)
      return recordBytes({ timestampNs: BigInt(first + i), id, flags, data })
    }),
  )
}

function setup(capacityFrames: number): { writer: FrameRingWriter; reader: FrameRingReader } {
  const ring = createFrameRing(capacityFrames)
  return { writer: new FrameRingWriter(ring, false), reader: new FrameRingReader(ring, false) }
}

function drain(reader: FrameRingReader): CanMessage[] {
  const out: CanMessage[] = []
  while (reader.shiftInto(out, 1000) > 0) {}
  return out
}

describe('frame ring', () => {
  it('carries records in order, with their channel, through many wrap-arounds', () => {
    const { writer, reader } = setup(1000)
    let next = 0
    let taken = 0
    let wrong = 0
    // 64-byte FD records in batches of 333: the 1 MiB data area wraps 7 times
    for (let round = 0; round < 320; round++) {
      const channel = round % 2 === 0 ? can0 : can1
      const bytes = records(next, 333, 64, FRAME_FLAG.FD)
      writer.push(bytes, 0, bytes.length, 333, channel)
      bytes.fill(0) // the ring holds its own copy
      next += 333
      for (const message of drain(reader)) {
        const expected = Math.floor(taken / 333) % 2 === 0 ? 'pi/can0' : 'pi/can1'
        if (
          message.timestampNs !== BigInt(taken) ||
          message.arbitrationId !== (taken & 0x7ff) ||
          message.data[63] !== ((taken + 63) & 0xff) ||
          message.channel !== expected
        ) {
          wrong++
        }
        taken++
      }
    }
    expect(wrong).toBe(0)
    expect(taken).toBe(next)
    expect(next * 78).toBeGreaterThan(7 * MIN_RING_BYTES)
    expect(reader.counters('pi/can0')?.delivered).toBe(160 * 333)
  })

  it('says full at its frame bound, keeps what comes after, and asks to resume at half', async () => {
    const { writer, reader } = setup(100)
    let drained = 0
    writer.onDrain = () => drained++
    const first = records(0, 60)
    expect(writer.push(first, 0, first.length, 60, can0)).toBe(true)
    const second = records(60, 60)
    // at the bound: the producer must stop (it is kept all the same)
    expect(writer.push(second, 0, second.length, 60, can0)).toBe(false)
    expect(writer.size).toBe(120)
    const out: CanMessage[] = []
    reader.shiftInto(out, 69)
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(drained).toBe(0) // 51 left: above half
    reader.shiftInto(out, 1)
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(drained).toBe(1)
    out.push(...drain(reader))
    expect(out.map((m) => Number(m.timestampNs))).toEqual(Array.from({ length: 120 }, (_, i) => i))
  })

  it('holds a batch that does not fit in bytes until the reader frees room, losing nothing', async () => {
    // a bound above what the 1 MiB data area holds of these: bytes run out first
    const { writer, reader } = setup(20_000)
    let drained = 0
    writer.onDrain = () => drained++
    const batch = records(0, 4096, 64, FRAME_FLAG.FD) // 320 KiB
    let pushed = 0
    let refused = false
    for (let i = 0; i < 4; i++) {
      if (!writer.push(batch, 0, batch.length, 4096, can0)) refused = true
      pushed += 4096
    }
    expect(refused).toBe(true)
    expect(writer.size).toBe(pushed)
    let received = 0
    while (received < pushed) {
      const got = drain(reader).length
      received += got
      if (got === 0) await new Promise((resolve) => setTimeout(resolve, 1))
    }
    expect(received).toBe(pushed)
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(drained).toBe(1)
    expect(writer.size).toBe(0)
  })

  it('wakes a waiting reader when frames arrive, and at close', async () => {
    const { writer, reader } = setup(100)
    const waiting = reader.wait()
    const bytes = records(0, 3)
    writer.push(bytes, 0, bytes.length, 3, can0)
    await waiting
    expect(drain(reader)).toHaveLength(3)
    const closing = reader.wait()
    reader.close()
    await closing
    expect(reader.shift()).toBeNull()
  })

  it('applies the filters and the own-message rule as frames are taken, and counts them', () => {
    const { writer, reader } = setup(100)
    reader.filters = [{ canId: 0x001, canMask: 0x7ff, extended: false }]
    const rx = records(0, 3)
    writer.push(rx, 0, rx.length, 3, can0)
    const echoes = records(1, 1, 8, FRAME_FLAG.TX)
    writer.push(echoes, 0, echoes.length, 1, can0)
    expect(drain(reader).map((m) => m.arbitrationId)).toEqual([1])
    expect(reader.counters('pi/can0')).toEqual({ name: 'pi/can0', delivered: 1, filtered: 3 })
  })
})
