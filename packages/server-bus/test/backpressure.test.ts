// Backpressure: a slow consumer with a small receive queue loses nothing; the queue stays
// within its bound plus one socket read, and the edge's socket sees the push back.
import { FRAME_FLAG } from '@canbridge/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import type { TCPBus } from '../src/index.ts'
import { ScriptedEdge, sequenceOf } from '../src/testing/scripted-edge.ts'
import { BUS_MODES, listen, sleep, useBusMode } from './support/helpers.ts'

let bus: TCPBus | undefined
let edge: ScriptedEdge | undefined

afterEach(async () => {
  edge?.destroy()
  await bus?.shutdown()
})

describe.each(BUS_MODES)('backpressure ($mode)', (mode) => {
  useBusMode(mode)
  it('pauses the edge instead of dropping: 200k frames through a 2,000-frame queue', async () => {
    const bound = 2000
    ;({ bus } = await listen({ receiveQueueFrames: bound }))
    edge = await ScriptedEdge.start(bus.address, { channels: [{ name: 'can0', fd: true }] })
    const total = 200_000
    // 64-byte CAN FD frames: 15.6 MB, more than the kernel's socket buffers can hide.
    const streaming = edge.stream(0, 0, total, 512, (seq) => {
      const data = new Uint8Array(64)
      new DataView(data.buffer).setUint32(0, seq, true)
      return { id: seq % 0x800, flags: FRAME_FLAG.FD, data }
    })

    let expected = 0
    let outOfOrder = 0
    let maxQueued = 0
    let sawPaused = false
    let round = 0
    while (expected < total) {
      const stats = bus.stats().receiveQueue
      maxQueued = Math.max(maxQueued, stats.frames)
      if (stats.pausedEdges > 0) sawPaused = true
      const batch = await bus.recvBatch({ maxFrames: 1000, timeoutMs: 3000 })
      if (batch.length === 0) throw new Error(`stalled after ${expected} frames`)
      for (const message of batch) {
        if (sequenceOf(message.data) !== expected) outOfOrder++
        expected++
      }
      // Slow: give the event loop (and the edge) time between small batches.
      if (++round % 4 === 0) await sleep(1)
    }
    await streaming

    expect(expected).toBe(total)
    expect(outOfOrder).toBe(0)
    expect(edge.sawBackpressure).toBe(true)
    expect(sawPaused).toBe(true)
    const stats = bus.stats()
    // At most the bound plus what one socket read carried (64 KiB: < 1,000 FD frames here).
    expect(stats.receiveQueue.peak).toBeLessThanOrEqual(bound + 4096)
    expect(maxQueued).toBeLessThanOrEqual(bound + 4096)
    const channel = stats.channels['pi-test/can0']!
    expect(channel.framesIn).toBe(total)
    expect(channel.framesDelivered).toBe(total)
    expect(channel.gaps).toBe(0)
    expect(channel.duplicates).toBe(0)
    expect(stats.receiveQueue.pausedEdges).toBe(0)
  })

  it('withholds ACKs while paused, so the edge keeps what it sent', async () => {
    ;({ bus } = await listen({ receiveQueueFrames: 100 }))
    edge = await ScriptedEdge.start(bus.address)
    await edge.stream(0, 0, 100, 100)
    await edge.waitFor('ACK', (a) => a.nextSeq === 100)
    // The queue is full and the edge paused: more frames go unread and unacknowledged.
    const streaming = edge.stream(0, 100, 200_000, 1000)
    await sleep(200)
    const acked = Math.max(...edge.messages('ACK').map((a) => a.nextSeq))
    expect(acked).toBeLessThan(200_100)
    expect(bus.stats().receiveQueue.pausedEdges).toBe(1)
    expect(bus.stats().receiveQueue.frames).toBeLessThanOrEqual(100 + 4096)
    let received = 0
    while (received < 200_100)
      received += (await bus.recvBatch({ maxFrames: 5000, timeoutMs: 3000 })).length
    await streaming
    await edge.waitFor('ACK', (a) => a.nextSeq === 200_100)
  })
})
