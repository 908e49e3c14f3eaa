// Receiving over real loopback TCP: order across batches, every recv timeout case, message
// iteration, batch iteration and the fields of a received message; ACKs spaced by
// ackIntervalMs (each ACK wakes the edge), none lost.
import { FRAME_FLAG } from '@canbridge/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import type { CanMessage, TCPBus } from '../src/index.ts'
import { ScriptedEdge, sequenceFrame, sequenceOf } from '../src/testing/scripted-edge.ts'
import { BUS_MODES, listen, sleep, useBusMode } from './support/helpers.ts'

let bus: TCPBus | undefined
let edge: ScriptedEdge | undefined

afterEach(async () => {
  edge?.destroy()
  await bus?.shutdown()
  bus = undefined
  edge = undefined
})

async function setup(): Promise<{ bus: TCPBus; edge: ScriptedEdge }> {
  const listening = await listen()
  bus = listening.bus
  edge = await ScriptedEdge.start(bus.address)
  await bus.waitForEdge({ timeoutMs: 2000 })
  return { bus, edge }
}

describe.each(BUS_MODES)('receiving ($mode)', (mode) => {
  useBusMode(mode)
  it('delivers frames in sequence order across many batches and chunkings', async () => {
    const { bus, edge } = await setup()
    const total = 20_000
    // Batches of odd sizes so records straddle TCP reads.
    let seq = 0
    for (const size of [1, 7, 333, 4096, 1, 2500]) {
      const frames = Array.from({ length: size }, (_, i) => sequenceFrame(seq + i))
      edge.sendFrames(0, seq, frames)
      seq += size
    }
    await edge.stream(0, seq, total - seq, 977)
    const seen: number[] = []
    while (seen.length < total) {
      const message = await bus.recv(2000)
      expect(message).not.toBeNull()
      seen.push(sequenceOf(message!.data))
    }
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => i))
    expect(await bus.recv(0)).toBeNull()
  })

  it('recv() without a timeout waits until a frame arrives', async () => {
    const { bus, edge } = await setup()
    const pending = bus.recv()
    let settled = false
    void pending.then(() => {
      settled = true
    })
    await sleep(100)
    expect(settled).toBe(false)
    edge.sendFrames(0, 0, [{ id: 0x123, data: [1, 2, 3] }])
    const message = await pending
    expect(message?.arbitrationId).toBe(0x123)
  })

  it('recv(0) polls: null at once when nothing is queued, the frame when one is', async () => {
    const { bus, edge } = await setup()
    const started = performance.now()
    expect(await bus.recv(0)).toBeNull()
    expect(performance.now() - started).toBeLessThan(200)
    edge.sendFrames(0, 0, [{ id: 0x10 }])
    await edge.waitFor('ACK')
    expect((await bus.recv(0))?.arbitrationId).toBe(0x10)
  })

  it('recv(timeout) resolves null after about the timeout', async () => {
    const { bus } = await setup()
    const started = performance.now()
    expect(await bus.recv(150)).toBeNull()
    const elapsed = performance.now() - started
    expect(elapsed).toBeGreaterThanOrEqual(145)
    expect(elapsed).toBeLessThan(1500)
  })

  it('recv(timeout) returns a frame that arrives during the wait', async () => {
    const { bus, edge } = await setup()
    setTimeout(() => edge.sendFrames(0, 0, [{ id: 0x321, data: [9] }]), 50)
    const started = performance.now()
    const message = await bus.recv(2000)
    expect(message?.arbitrationId).toBe(0x321)
    expect(performance.now() - started).toBeLessThan(1000)
  })

  it('rejects a negative or NaN timeout', async () => {
    const { bus } = await setup()
    await expect(bus.recv(-1)).rejects.toThrow(RangeError)
    await expect(bus.recv(Number.NaN)).rejects.toThrow(/timeoutMs/)
  })

  it('for await iterates messages and ends at shutdown', async () => {
    const { bus, edge } = await setup()
    edge.sendFrames(0, 0, [sequenceFrame(0), sequenceFrame(1), sequenceFrame(2)])
    const seen: number[] = []
    const done = (async () => {
      for await (const message of bus) {
        seen.push(sequenceOf(message.data))
        if (seen.length === 3) setTimeout(() => void bus.shutdown(), 10)
      }
    })()
    await done
    expect(seen).toEqual([0, 1, 2])
  })

  it('batches() yields arrays of messages in order; recvBatch honours maxFrames and timeouts', async () => {
    const { bus, edge } = await setup()
    await edge.stream(0, 0, 10_000, 1000)
    const seen: number[] = []
    let batches = 0
    for await (const batch of bus.batches({ maxFrames: 3000 })) {
      expect(batch.length).toBeGreaterThan(0)
      expect(batch.length).toBeLessThanOrEqual(3000)
      batches++
      for (const message of batch) seen.push(sequenceOf(message.data))
      if (seen.length === 10_000) break
    }
    expect(batches).toBeGreaterThanOrEqual(4)
    expect(seen).toEqual(Array.from({ length: 10_000 }, (_, i) => i))

    const started = performance.now()
    expect(await bus.recvBatch({ timeoutMs: 80 })).toEqual([])
    expect(performance.now() - started).toBeGreaterThanOrEqual(75)
    edge.sendFrames(0, 10_000, [sequenceFrame(10_000), sequenceFrame(10_001)])
    const batch = await bus.recvBatch({ maxFrames: 1, timeoutMs: 1000 })
    expect(batch.map((m) => sequenceOf(m.data))).toEqual([10_000])
    expect((await bus.recvBatch({ timeoutMs: 0 })).map((m) => sequenceOf(m.data))).toEqual([10_001])
  })

  it('batches() ends when its signal aborts', async () => {
    const { bus } = await setup()
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 50)
    const batches: CanMessage[][] = []
    for await (const batch of bus.batches({ signal: controller.signal })) batches.push(batch)
    expect(batches).toEqual([])
  })

  it('builds messages with every field from the record', async () => {
    const { bus, edge } = await setup()
    const ts = 1_700_000_000_123_456_789n
    edge.sendFrames(0, 0, [
      {
        id: 0x1abcdef0,
        flags: FRAME_FLAG.EXT,
        data: [0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4],
        timestampNs: ts,
      },
      { id: 0x7ff, flags: FRAME_FLAG.RTR, len: 5, timestampNs: ts },
      {
        id: 0x12,
        flags: FRAME_FLAG.FD | FRAME_FLAG.BRS | FRAME_FLAG.ESI,
        data: Array.from({ length: 64 }, (_, i) => i),
        timestampNs: ts,
      },
      { id: 0x4, flags: FRAME_FLAG.ERR, data: [0, 0, 0, 0, 0, 0, 0, 0], timestampNs: ts },
    ])
    const [ext, rtr, fd, err] = await collect(bus, 4)
    expect(ext!.arbitrationId).toBe(0x1abcdef0)
    expect(ext!.isExtendedId).toBe(true)
    expect(Array.from(ext!.data)).toEqual([0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4])
    expect(ext!.dlc).toBe(8)
    expect(ext!.timestampNs).toBe(ts)
    expect(ext!.timestamp).toBeCloseTo(1_700_000_000.1234567, 6)
    expect(ext!.channel).toBe('pi-test/can0')
    expect(ext!.isRx).toBe(true)
    expect(rtr!.isRemoteFrame).toBe(true)
    expect(rtr!.isExtendedId).toBe(false)
    expect(rtr!.dlc).toBe(5)
    expect(rtr!.data.length).toBe(0)
    expect(fd!.isFd && fd!.bitrateSwitch && fd!.errorStateIndicator).toBe(true)
    expect(Array.from(fd!.data)).toEqual(Array.from({ length: 64 }, (_, i) => i))
    expect(err!.isErrorFrame).toBe(true)
  })
})

async function collect(bus: TCPBus, count: number): Promise<CanMessage[]> {
  const out: CanMessage[] = []
  while (out.length < count) {
    const message = await bus.recv(2000)
    if (message === null) throw new Error(`only ${out.length} of ${count} messages arrived`)
    out.push(message)
  }
  return out
}

/** Sends one frame at `seq` and waits for the ACK that covers it; its arrival time. */
async function ackedAt(e: ScriptedEdge, seq: number): Promise<number> {
  e.sendFrames(0, seq, [{ id: 0x100 + seq }])
  await e.waitFor('ACK', (ack) => ack.nextSeq > seq, 5000)
  return performance.now()
}

describe.each(BUS_MODES)('ACK interval ($mode)', (mode) => {
  useBusMode(mode)

  it('acknowledges at most once per ackIntervalMs, and at the end everything', async () => {
    ;({ bus } = await listen({ ackIntervalMs: 300 }))
    edge = await ScriptedEdge.start(bus.address)
    await bus.waitForEdge({ timeoutMs: 2000 })
    const first = await ackedAt(edge, 0)
    // sent at once after the first ACK: acknowledged no sooner than the interval allows
    const second = await ackedAt(edge, 1)
    expect(second - first).toBeGreaterThanOrEqual(250)
    for (let seq = 2; seq < 6; seq++) edge.sendFrames(0, seq, [{ id: 0x100 + seq }])
    await edge.waitFor('ACK', (ack) => ack.nextSeq === 6, 5000)
    const acks = edge.received.filter((m) => m.type === 'ACK')
    // frames 2..5 arrived within one interval: one ACK (or two, split by the interval) for them
    expect(acks.length).toBeLessThanOrEqual(4)
  })

  it('with ackIntervalMs 0 acknowledges after each turn that read frames', async () => {
    ;({ bus } = await listen({ ackIntervalMs: 0 }))
    edge = await ScriptedEdge.start(bus.address)
    await bus.waitForEdge({ timeoutMs: 2000 })
    for (let seq = 0; seq < 5; seq++) await ackedAt(edge, seq)
    expect(edge.received.filter((m) => m.type === 'ACK')).toHaveLength(5)
  })

  it('refuses an interval out of range', async () => {
    for (const ackIntervalMs of [-1, 1001, 2.5]) {
      await expect(listen({ ackIntervalMs })).rejects.toThrow(/ackIntervalMs/)
    }
  })
})
