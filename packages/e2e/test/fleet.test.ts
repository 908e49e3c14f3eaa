// The fleet end to end, every part real: nats-server (Debian's, started here on loopback),
// `canbridge gateway` processes, canbridge-edge processes on virtual counter channels, and
// readers through @canbridge/fleet. What the stream holds is audited with the NATS client
// alone, frame by frame from the payload counters.

import { CliProcess } from '@canbridge/cli/testing'
import type { EdgeProcess } from '@canbridge/edge-client/testing'
import { FleetClient, FleetError } from '@canbridge/fleet'
import { NatsServer } from '@canbridge/fleet/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { audit, startEdge, startGateway, streamContents } from './support/fleet-rig.ts'

let nats: NatsServer
const cleanups: (() => unknown)[] = []

beforeAll(async () => {
  nats = await NatsServer.start()
})

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  await nats?.remove()
})

async function waitUntil(
  check: () => boolean | Promise<boolean>,
  what: () => string,
  timeoutMs = 180_000,
) {
  const deadline = performance.now() + timeoutMs
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`gave up waiting for ${what()}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Gateways gw-a and gw-b writing one stream, killed at the end. */
function twoGateways(stream: string, prefix: string) {
  const gateways = ['gw-a', 'gw-b'].map((id) => startGateway(nats.url, stream, id, prefix))
  for (const gateway of gateways) cleanups.push(() => gateway.kill())
  return gateways as [CliProcess, CliProcess]
}

describe('fleet: edges → gateway → JetStream → readers', () => {
  it('stores every frame of several edges once, in order, and a reader gets them all', async () => {
    const gateway = startGateway(nats.url, 'BASIC', 'gw-basic')
    cleanups.push(() => gateway.kill())
    const port = await gateway.port()
    const edges = ['pi-1', 'pi-2', 'pi.3'].map((id) => startEdge(port, id, 500, 600))
    for (const edge of edges) cleanups.push(() => edge.stop())
    const reader = await FleetClient.connect({ servers: nats.url }, { stream: 'BASIC' })
    cleanups.push(() => reader.close())
    const seen = new Map<string, number[]>()
    let total = 0
    for await (const frame of reader.frames({ from: 'all' })) {
      // the frame's number in its payload is its sequence number: an edge counts from 0
      expect(new DataView(frame.data.buffer, frame.data.byteOffset).getUint32(0, true)).toBe(
        frame.seq,
      )
      const list = seen.get(frame.channel!) ?? []
      list.push(frame.seq)
      seen.set(frame.channel!, list)
      if (++total === 1800) break
    }
    expect([...seen.keys()].sort()).toEqual(['pi-1/virtual:v', 'pi-2/virtual:v', 'pi.3/virtual:v'])
    for (const list of seen.values()) expect(list).toEqual(Array.from({ length: 600 }, (_, i) => i))
    // the stream itself holds each frame once (the reader would hide repeats)
    const stored = await streamContents(nats.url, 'BASIC')
    expect(stored.size).toBe(3)
    for (const frames of stored.values())
      expect(audit(frames, 600)).toEqual({ missing: 0, duplicated: 0, reordered: 0 })
  }, 240_000)

  it('names the stream that already holds the subjects a new one would take', async () => {
    const gateway = startGateway(nats.url, 'OTHER', 'gw-other')
    cleanups.push(() => gateway.kill())
    expect(await gateway.exited).toBe(3)
    expect(gateway.stderr).toMatch(
      /stream BASIC already captures can\.\*\.\*\.\*: use that stream, or another subject prefix for OTHER/,
    )
  }, 60_000)

  it('refuses to start without NATS, saying where it looked', async () => {
    const gateway = new CliProcess(['gateway', '--port', '0', '--nats', 'nats://127.0.0.1:1'])
    cleanups.push(() => gateway.kill())
    expect(await gateway.exited).toBe(3)
    expect(gateway.stderr).toMatch(/no NATS server answered at nats:\/\/127\.0\.0\.1:1/)
  }, 60_000)

  it('survives a gateway crash (its edges fail over), a NATS restart and a stalled reader: 20 edges, 2 gateways, every frame exactly once', async () => {
    const EDGES = 20
    const COUNT = 1500
    const RATE = 100
    const stream = 'FAULTS'
    const [a, b] = twoGateways(stream, 'faults')
    const [aPort, bPort] = [await a.port(), await b.port()]
    // half the edges start on A, half on B; each has the other gateway second (--server a,b)
    const edges: EdgeProcess[] = Array.from({ length: EDGES }, (_, i) =>
      startEdge(i % 2 === 0 ? [aPort, bPort] : [bPort, aPort], `veh-${i}`, RATE, COUNT),
    )
    for (const edge of edges) cleanups.push(() => edge.stop())

    // one reader, all channels, counting what it is told
    const reader = await FleetClient.connect(
      { servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 },
      { stream, prefix: 'faults' },
    )
    cleanups.push(() => reader.close())
    let consumed = 0
    let gapsReported = 0
    reader.on('gap', (gap) => {
      gapsReported += gap.count
    })
    let stalled: Promise<void> | undefined
    const reading = (async () => {
      for await (const _frame of reader.frames({ from: 'all' })) {
        consumed++
        if (consumed === 3000) {
          // a reader that stops for a while: the stream keeps everything for it
          stalled = new Promise((resolve) => setTimeout(resolve, 3000))
          await stalled
        }
        if (consumed === EDGES * COUNT) break
      }
    })()

    // a quarter in: gateway A dies without a word; its edges fail over to B by themselves
    await waitUntil(
      () => consumed >= (EDGES * COUNT) / 4,
      () => `a quarter (${consumed})`,
    )
    a.child.kill('SIGKILL')
    // half way: the NATS server restarts (same port, same store)
    await waitUntil(
      () => consumed >= (EDGES * COUNT) / 2,
      () => `half (${consumed})`,
    )
    await nats.stop()
    await new Promise((resolve) => setTimeout(resolve, 1000))
    await nats.restart()

    await reading
    const stored = await streamContents(nats.url, stream)
    const totals = {
      sent: EDGES * COUNT,
      stored: 0,
      consumed,
      lost: 0,
      duplicated: 0,
      reordered: 0,
      gapsReported,
    }
    for (const frames of stored.values()) {
      const result = audit(frames, COUNT)
      totals.stored += frames.length - result.duplicated
      totals.lost += result.missing
      totals.duplicated += result.duplicated
      totals.reordered += result.reordered
    }
    console.log(JSON.stringify(totals))
    expect(stored.size).toBe(EDGES)
    expect(totals).toEqual({
      sent: EDGES * COUNT,
      stored: EDGES * COUNT,
      consumed: EDGES * COUNT,
      lost: 0,
      duplicated: 0,
      reordered: 0,
      gapsReported: 0,
    })
    // every edge ends on B: the ten that started on A moved there
    for (let i = 0; i < EDGES; i += 2) expect(b.stderr).toContain(`edge veh-${i} connected`)
  }, 600_000)

  it("an edge given two gateways (--server a,b), gateway A killed mid-stream: every edge moves to B by itself (no relay), resumes where B's WELCOME says and the stream holds every frame once, in order", async () => {
    const EDGES = 3
    const COUNT = 3000
    const RATE = 300
    const stream = 'FAILOVER'
    const [a, b] = twoGateways(stream, 'fo')
    const [portA, portB] = [await a.port(), await b.port()]
    const edges = Array.from({ length: EDGES }, (_, i) =>
      startEdge([portA, portB], `fo-${i}`, RATE, COUNT, ['--stats-interval', '500ms']),
    )
    for (const edge of edges) cleanups.push(() => edge.stop())
    for (const edge of edges) {
      const connected = await edge.waitForMsg('connected to the server', 30_000)
      expect(connected['server']).toBe(`127.0.0.1:${portA}`)
    }

    const reader = await FleetClient.connect({ servers: nats.url }, { stream, prefix: 'fo' })
    cleanups.push(() => reader.close())
    let consumed = 0
    let killed = false
    for await (const _frame of reader.frames({ from: 'all' })) {
      consumed++
      // a quarter in: A dies without a word, with frames of every edge in flight
      if (!killed && consumed >= (EDGES * COUNT) / 4) {
        killed = true
        a.child.kill('SIGKILL')
      }
      if (consumed === EDGES * COUNT) break
    }

    for (const edge of edges) {
      const lost = await edge.waitForMove(`127.0.0.1:${portA}`, `127.0.0.1:${portB}`)
      expect(lost.msg).toBe('server connection lost; moving to the next server')
      await edge.waitForLog(
        (l) => l.msg === 'connected to the server' && l['server'] === `127.0.0.1:${portB}`,
        10_000,
        'connected to B',
      )
      const stats = await edge.waitForLog(
        (l) => l.msg === 'stats' && l['server'] === `127.0.0.1:${portB}` && l['connected'] === true,
        10_000,
        'stats naming B',
      )
      expect(stats['failovers']).toBe(1)
    }
    const stored = await streamContents(nats.url, stream)
    expect(stored.size).toBe(EDGES)
    for (const frames of stored.values())
      expect(audit(frames, COUNT)).toEqual({ missing: 0, duplicated: 0, reordered: 0 })
    expect(consumed).toBe(EDGES * COUNT)
    expect(b.stderr).toMatch(/edge fo-\d+ connected/)
  }, 240_000)

  it('canbridge monitor shows a fleet: the per-id table of an edge stored through a gateway', async () => {
    const gateway = startGateway(nats.url, 'MONITOR', 'gw-monitor', 'mon')
    cleanups.push(() => gateway.kill())
    const port = await gateway.port()
    const monitor = new CliProcess([
      'monitor',
      '--http',
      '127.0.0.1:0',
      '--fleet',
      nats.url,
      '--stream',
      'MONITOR',
      '--prefix',
      'mon',
      '--edge',
      'pi-*',
    ])
    cleanups.push(() => monitor.kill())
    const url = (await monitor.waitForStderr(/open (http:\/\/127\.0\.0\.1:\d+\/) in a browser/))[1]!
    const edge = startEdge(port, 'pi-fleet', 200, 100_000)
    cleanups.push(() => edge.stop())
    // the page's event stream: wait for a snapshot whose table has the edge's id 0x100
    const events = await fetch(`${url}events`)
    const reader = events.body!.getReader()
    const decoder = new TextDecoder()
    let text = ''
    let row: { channel: string; id: string; count: number } | undefined
    let health: { source: string; edges: { edgeId: string }[] } | undefined
    while (row === undefined) {
      const { value, done } = await reader.read()
      if (done) throw new Error(`the event stream ended: ${text}`)
      text += decoder.decode(value, { stream: true })
      for (const block of text.split('\n\n').slice(0, -1)) {
        const snapshot = JSON.parse(block.slice('data: '.length)) as {
          rows: { channel: string; id: string; count: number }[]
          health: { source: string; edges: { edgeId: string }[] }
        }
        row = snapshot.rows.find((r) => r.id === '100')
        health = snapshot.health
      }
      text = text.slice(text.lastIndexOf('\n\n') + 2)
    }
    await reader.cancel()
    expect(row.channel).toBe('pi-fleet/virtual:v')
    expect(row.count).toBeGreaterThan(0)
    expect(health!.source).toMatch(/^fleet MONITOR on nats:\/\/127\.0\.0\.1:\d+$/)
    expect(health!.edges.map((e) => e.edgeId)).toEqual(['pi-fleet'])
  }, 120_000)

  it('a FleetClient without NATS says so', async () => {
    await expect(
      FleetClient.connect({ servers: '127.0.0.1:1', maxReconnectAttempts: 0 }),
    ).rejects.toThrow(FleetError)
  })
})
