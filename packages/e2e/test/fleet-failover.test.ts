// An edge given two gateways (`--server a,b`) over one JetStream stream, every part real
// (nats-server, `canbridge gateway` processes, canbridge-edge processes): gateway A killed
// mid-stream, the edges move to B by themselves (no relay in front) and resume where B's
// WELCOME says, which B reads from the stream. The stream is audited frame by frame.
import { FleetClient } from '@canbridge/fleet'
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

describe('edge failover between two gateways', () => {
  it('gateway A killed mid-stream: every edge moves to B and the stream holds every frame once, in order', async () => {
    const EDGES = 3
    const COUNT = 3000
    const RATE = 300
    const stream = 'FAILOVER'
    const a = startGateway(nats.url, stream, 'gw-a', 'fo')
    const b = startGateway(nats.url, stream, 'gw-b', 'fo')
    cleanups.push(
      () => a.kill(),
      () => b.kill(),
    )
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
      const lost = await edge.waitForLog(
        (l) => l.msg.startsWith('server connection lost'),
        10_000,
        'the loss of A',
      )
      expect(lost).toMatchObject({
        msg: 'server connection lost; moving to the next server',
        server: `127.0.0.1:${portA}`,
        next: `127.0.0.1:${portB}`,
      })
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
})
