// Edges that drop and come back: resume from the server's sequence, duplicates discarded and
// counted, gaps and edge-reported drops visible, bus state, heartbeats, replaced connections.
import { afterEach, describe, expect, it } from 'vitest'
import type { DropsEvent, EdgeInfo, GapEvent, StateChangeEvent, TCPBus } from '../src/index.ts'
import {
  ScriptedEdge,
  type ScriptedEdgeOptions,
  sequenceFrame,
  sequenceOf,
} from '../src/testing/scripted-edge.ts'
import { BUS_MODES, listen, sleep, useBusMode, waitUntil } from './support/helpers.ts'

let bus: TCPBus | undefined
const edges: ScriptedEdge[] = []

afterEach(async () => {
  for (const edge of edges.splice(0)) edge.destroy()
  await bus?.shutdown()
  bus = undefined
})

async function start(options: ScriptedEdgeOptions = {}): Promise<ScriptedEdge> {
  const edge = await ScriptedEdge.connect(bus!.address, options)
  edges.push(edge)
  await edge.handshake()
  return edge
}

async function receive(count: number): Promise<number[]> {
  const seqs: number[] = []
  while (seqs.length < count) {
    const batch = await bus!.recvBatch({ timeoutMs: 2000 })
    if (batch.length === 0) throw new Error(`only ${seqs.length} of ${count} frames arrived`)
    for (const message of batch) seqs.push(sequenceOf(message.data))
  }
  return seqs
}

describe.each(BUS_MODES)('reconnect and resume ($mode)', (mode) => {
  useBusMode(mode)
  it('resumes from the server sequence, discards the overlap and loses nothing', async () => {
    ;({ bus } = await listen())
    const first = await start({ instanceId: 'run-1' })
    expect(first.welcome?.channels).toEqual([{ name: 'can0', nextSeq: null }])
    await first.stream(0, 0, 6000, 500)
    // Cut the connection in the middle of the next batch.
    const frames = Array.from({ length: 500 }, (_, i) => sequenceFrame(6000 + i))
    await first.waitFor('ACK', (a) => a.nextSeq === 6000)
    first.sendRaw(encodeHalf(first, frames))
    first.destroy()
    await waitUntil(() => bus!.edges.length === 0, 3000, 'the disconnect')

    // The edge restarted and still holds frames from 5000 on; the server wants 6000.
    const second = await start({ instanceId: 'run-2', channels: [{ name: 'can0', nextSeq: 5000 }] })
    expect(second.welcome?.channels).toEqual([{ name: 'can0', nextSeq: 6000 }])
    // A careless edge resends from what it holds: 1000 duplicates, then new frames.
    await second.stream(0, 5000, 5000, 700)

    const seqs = await receive(10_000)
    expect(seqs).toEqual(Array.from({ length: 10_000 }, (_, i) => i))
    expect(await bus.recv(50)).toBeNull()
    const stats = bus.stats().channels['pi-test/can0']!
    expect(stats.duplicates).toBe(1000)
    expect(stats.gaps).toBe(0)
    expect(stats.framesIn).toBe(10_000)
    expect(stats.nextSeq).toBe(10_000)
    await second.waitFor('ACK', (a) => a.nextSeq === 10_000)
  })

  it('counts gaps, reports them as events, and delivers what follows', async () => {
    ;({ bus } = await listen())
    const gaps: GapEvent[] = []
    bus.on('gap', (gap) => gaps.push(gap))
    const edge = await start()
    await edge.stream(0, 0, 100)
    await edge.stream(0, 150, 50)
    await edge.stream(0, 210, 10)
    const seqs = await receive(160)
    expect(seqs.slice(98, 102)).toEqual([98, 99, 150, 151])
    expect(gaps).toEqual([
      { channel: 'pi-test/can0', expectedSeq: 100, firstSeq: 150, missing: 50, newlyLost: 50 },
      { channel: 'pi-test/can0', expectedSeq: 200, firstSeq: 210, missing: 10, newlyLost: 10 },
    ])
    const stats = bus.stats().channels['pi-test/can0']!
    expect(stats.gaps).toBe(60)
    expect(stats.gapEvents).toBe(2)
    expect(stats.lost).toBe(60)
  })

  it('adds the drops the edge reports to the stats, by reason, with an event and a warning', async () => {
    let logger: Awaited<ReturnType<typeof listen>>['logger']
    ;({ bus, logger } = await listen())
    const events: DropsEvent[] = []
    bus.on('drops', (drops) => events.push(drops))
    const edge = await start()
    edge.sendControl('DROPS', { channel: 0, fromSeq: null, count: 7, reason: 'kernel-overflow' })
    edge.sendControl('DROPS', { channel: 0, fromSeq: 100, count: 50, reason: 'ring-full' })
    edge.sendControl('DROPS', { channel: 0, fromSeq: null, count: 3, reason: 'kernel-overflow' })
    await waitUntil(() => events.length === 3)
    expect(bus.stats().channels['pi-test/can0']?.edgeDrops).toEqual({
      'kernel-overflow': 10,
      'ring-full': 50,
    })
    expect(events[1]).toEqual({
      channel: 'pi-test/can0',
      count: 50,
      reason: 'ring-full',
      fromSeq: 100,
      newlyLost: 50,
    })
    expect(logger.at('warn').filter((e) => e.message.includes('lost'))).toHaveLength(3)
  })

  it('counts a DROPS range the edge resends after a reconnect once: no second event, no double count', async () => {
    let logger: Awaited<ReturnType<typeof listen>>['logger']
    ;({ bus, logger } = await listen())
    const events: DropsEvent[] = []
    bus.on('drops', (drops) => events.push(drops))
    const first = await start({ instanceId: 'run-1' })
    await first.stream(0, 0, 100)
    first.sendControl('DROPS', { channel: 0, fromSeq: 100, count: 50, reason: 'ring-full' })
    await first.stream(0, 150, 50)
    await waitUntil(() => events.length === 1)
    // the connection dies before the edge saw an ACK past the range: it reports it again
    first.destroy()
    await waitUntil(() => bus!.edges.length === 0, 3000, 'the disconnect')
    const second = await start({ instanceId: 'run-1', channels: [{ name: 'can0', nextSeq: 100 }] })
    second.sendControl('DROPS', { channel: 0, fromSeq: 100, count: 50, reason: 'ring-full' })
    // a range overlapping the counted one adds only its new part; rangeless reports add up
    second.sendControl('DROPS', { channel: 0, fromSeq: 140, count: 20, reason: 'ring-full' })
    second.sendControl('DROPS', { channel: 0, fromSeq: 100, count: 50, reason: 'spool-full' })
    second.sendControl('DROPS', { channel: 0, fromSeq: null, count: 3, reason: 'kernel-overflow' })
    second.sendControl('DROPS', { channel: 0, fromSeq: null, count: 3, reason: 'kernel-overflow' })
    await second.stream(0, 200, 10)
    await waitUntil(() => bus!.stats().channels['pi-test/can0']?.nextSeq === 210)
    await waitUntil(() => events.length === 5)
    await sleep(50)
    const stats = bus.stats().channels['pi-test/can0']!
    expect(stats.edgeDrops).toEqual({ 'ring-full': 60, 'spool-full': 50, 'kernel-overflow': 6 })
    expect(stats.edgeDropReportsRepeated).toBe(1)
    expect(events).toEqual([
      { channel: 'pi-test/can0', count: 50, reason: 'ring-full', fromSeq: 100, newlyLost: 50 },
      // 150..159 arrived as frames: a report for them is believed, but counted lost once
      { channel: 'pi-test/can0', count: 10, reason: 'ring-full', fromSeq: 150, newlyLost: 10 },
      { channel: 'pi-test/can0', count: 50, reason: 'spool-full', fromSeq: 100, newlyLost: 0 },
      { channel: 'pi-test/can0', count: 3, reason: 'kernel-overflow', fromSeq: null, newlyLost: 3 },
      { channel: 'pi-test/can0', count: 3, reason: 'kernel-overflow', fromSeq: null, newlyLost: 3 },
    ])
    expect(logger.at('warn').filter((e) => e.message.includes('lost'))).toHaveLength(5)
    expect(
      logger.at('debug').filter((e) => e.message.includes('repeated drop report')),
    ).toHaveLength(1)
    // the frames themselves were not affected; the gap is the reported range, counted once
    expect(stats.gaps).toBe(50)
    expect(stats.lost).toBe(50 + 10 + 6)
    expect(stats.framesIn).toBe(160)
  })

  it('tracks the bus state per channel and reports the worst', async () => {
    ;({ bus } = await listen())
    const changes: StateChangeEvent[] = []
    bus.on('stateChange', (change) => changes.push(change))
    const edge = await start({ channels: [{ name: 'can0' }, { name: 'can1' }] })
    expect(bus.state).toBe('active')
    edge.sendControl('BUS_STATE', { channel: 1, state: 'passive' })
    await waitUntil(() => changes.length === 1)
    expect(bus.state).toBe('passive')
    edge.sendControl('BUS_STATE', { channel: 0, state: 'bus-off' })
    await waitUntil(() => changes.length === 2)
    expect(bus.channelState('pi-test/can0')).toBe('bus-off')
    expect(bus.channelState('pi-test/can1')).toBe('passive')
    expect(bus.state).toBe('bus-off')
    expect(changes[1]).toEqual({ channel: 'pi-test/can0', state: 'bus-off', previous: 'active' })
    expect(() => bus!.channelState('nope/can0')).toThrow(/unknown channel/)
  })

  it('keeps the edge counters from STATS', async () => {
    ;({ bus } = await listen())
    const edge = await start()
    edge.sendControl('STATS', {
      uptimeMs: 1000,
      reconnects: 2,
      channels: [{ channel: 0, counters: { framesRead: 42, 'drops.ring-full': 1 } }],
    })
    await waitUntil(() => bus!.stats().channels['pi-test/can0']?.edgeCounters['framesRead'] === 42)
  })
})

describe.each(BUS_MODES)('heartbeats ($mode)', (mode) => {
  useBusMode(mode)
  it('sends HEARTBEAT when idle and closes an edge silent for 3 intervals', async () => {
    let logger: Awaited<ReturnType<typeof listen>>['logger']
    ;({ bus, logger } = await listen({ heartbeatMs: 100 }))
    const disconnected: [EdgeInfo, string][] = []
    bus.on('edgeDisconnected', (edge, reason) => disconnected.push([edge, reason]))
    const edge = await start()
    expect(edge.welcome?.heartbeatMs).toBe(100)
    await edge.waitFor('HEARTBEAT', () => true, 1000)
    // The edge answers nothing: after ~300 ms the server gives up on it.
    await edge.closed
    expect(disconnected[0]?.[1]).toMatch(/HEARTBEAT_TIMEOUT/)
    expect(logger.at('warn').some((e) => e.fields['code'] === 'HEARTBEAT_TIMEOUT')).toBe(true)
  })

  it('keeps an edge that sends heartbeats', async () => {
    ;({ bus } = await listen({ heartbeatMs: 300 }))
    const edge = await start()
    const timer = setInterval(() => edge.sendControl('HEARTBEAT', { timeMs: Date.now() }), 50)
    await sleep(1200) // four intervals: without the edge's heartbeats it would be closed
    clearInterval(timer)
    expect(bus.edges).toHaveLength(1)
    expect(edge.socket.destroyed).toBe(false)
  })
})

describe.each(BUS_MODES)('a stalled server process ($mode)', (mode) => {
  useBusMode(mode)
  // The scripted edge shares the stalled thread: with worker: true the server is not stalled,
  // hears nothing from the edge for 4 heartbeats and rightly closes it (HEARTBEAT_TIMEOUT).
  it.skipIf(mode.worker)(
    'does not close an edge whose heartbeat waited unread during the stall',
    async () => {
      ;({ bus } = await listen({ heartbeatMs: 100 }))
      const edge = await start()
      // Late in a loop turn (an immediate) the edge's heartbeat goes out, then this process
      // blocks for 4 heartbeats: the bytes sit unread, and the next turn runs the heartbeat
      // timer before it reads them.
      await new Promise<void>((resolve) =>
        setImmediate(() => {
          edge.sendControl('HEARTBEAT', { timeMs: Date.now() })
          const until = performance.now() + 400
          while (performance.now() < until) {}
          resolve()
        }),
      )
      await sleep(150)
      expect(edge.socket.destroyed).toBe(false)
      expect(bus.edges).toHaveLength(1)
    },
  )
})

describe.each(BUS_MODES)('a second connection from the same edge ($mode)', (mode) => {
  useBusMode(mode)
  it('replaces the first one', async () => {
    ;({ bus } = await listen())
    const first = await start({ instanceId: 'a' })
    first.sendFrames(0, 0, [sequenceFrame(0)])
    await first.waitFor('ACK')
    const second = await start({ instanceId: 'b' })
    await first.closed
    expect(second.welcome?.channels).toEqual([{ name: 'can0', nextSeq: 1 }])
    await waitUntil(() => bus!.edges[0]?.instanceId === 'b')
    second.sendFrames(0, 1, [sequenceFrame(1)])
    expect(await receive(2)).toEqual([0, 1])
  })
})

/** The first half of a DATA message with these frames (the rest never arrives). */
function encodeHalf(edge: ScriptedEdge, frames: ReturnType<typeof sequenceFrame>[]): Uint8Array {
  const chunks: Uint8Array[] = []
  const write = edge.socket.write.bind(edge.socket)
  edge.socket.write = ((bytes: Uint8Array) => {
    chunks.push(Uint8Array.from(bytes))
    return true
  }) as typeof edge.socket.write
  edge.sendFrames(0, 6000, frames)
  edge.socket.write = write
  const whole = chunks[0]!
  return whole.subarray(0, Math.floor(whole.length / 2))
}
