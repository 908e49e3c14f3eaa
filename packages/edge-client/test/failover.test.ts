// The whole daemon with two servers in --server, over loopback TCP (issue 17): the first one
// killed mid-stream, the first one down at start, both down until one comes up. The two
// scripted servers share one store (ServerState), as two gateways share one JetStream: the
// second server's WELCOME says what the first one stored, and the edge resumes there.
// Every frame is accounted by its own counter: delivered or reported dropped, exactly once.
import { afterEach, describe, expect, it } from 'vitest'
import { type EdgeProcess, type LogLine, startEdge } from '../src/testing/edge-process.ts'
import { everyFrameAccounted } from './helpers/frame-accounting.ts'
import {
  ScriptedServer,
  type ScriptedServerOptions,
  ServerState,
} from './helpers/scripted-server.ts'

const cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function serverOn(port: number, options: ScriptedServerOptions = {}) {
  const server = new ScriptedServer(options)
  const bound = await server.listen(port)
  cleanups.push(() => server.close())
  return { server, port: bound, address: `127.0.0.1:${bound}` }
}

/** A port nothing listens on now, for a server that comes later (or never). */
async function freePort(): Promise<number> {
  const probe = new ScriptedServer()
  const port = await probe.listen(0)
  await probe.close()
  return port
}

async function edge(args: string[], readyMsg = 'connected to the server'): Promise<EdgeProcess> {
  const e = await startEdge(
    ['--stats-interval', '250ms', '--log-level', 'debug', ...args],
    {},
    readyMsg,
  )
  cleanups.push(() => e.stop('SIGKILL'))
  return e
}

const connectedTo = (server: string) => (l: LogLine) =>
  l.msg === 'connected to the server' && l['server'] === server

describe('failover between several servers', () => {
  it('the first server killed mid-stream: the edge moves to the second and resumes where its WELCOME says, every frame exactly once', async () => {
    const PRODUCED = 20_000
    const store = new ServerState()
    // A acknowledges only when told: when it dies it holds frames the edge has not seen acknowledged
    const a = await serverOn(0, { state: store, autoAck: false })
    const b = await serverOn(0, { state: store })
    const e = await edge([
      '--server',
      `${a.address},${b.address}`,
      '--channel',
      `virtual:x?rate=5000&count=${PRODUCED}`,
    ])
    expect(e.logs.find((l) => l.msg === 'connected to the server')).toMatchObject({
      server: a.address,
      of: '1/2',
    })
    expect(e.logs.find((l) => l.msg === 'connecting')).toMatchObject({
      servers: [a.address, b.address],
    })

    const acks = setInterval(() => a.server.ack(), 50)
    cleanups.push(() => clearInterval(acks))
    await a.server.waitFor(() => store.count(0) >= 3000, 30_000, '3,000 frames at A')
    clearInterval(acks)
    const acked = store.nextSeq[0]!
    await a.server.waitFor(() => store.count(0) >= acked + 1000, 30_000, 'unacknowledged frames')
    await a.server.close() // killed: nothing more is read, the connection is cut
    const storedByA = store.nextSeq[0]!
    expect(storedByA).toBeGreaterThan(acked)
    const hellosAtA = store.hellos.length

    const lost = await e.waitForMove(a.address, b.address)
    expect(lost.msg).toBe('server connection lost; moving to the next server')
    expect(typeof lost['reason']).toBe('string')
    const atB = await e.waitForLog(connectedTo(b.address), 10_000, 'connected to B')
    // B's WELCOME said what A stored (the shared store), not what A acknowledged
    expect(store.hellos.length).toBe(hellosAtA + 1)

    const account = await everyFrameAccounted(b.server, PRODUCED, 60_000)
    expect(account.reported).toBe(0)
    // nothing A stored came again: the edge resumed where B's WELCOME said
    expect(store.duplicates).toBe(0)
    expect(store.gaps).toEqual([])

    const stats = await e.waitForLog(
      (l) => l.msg === 'stats' && l['server'] === b.address && l['connected'] === true,
      10_000,
      'stats naming B',
    )
    expect(stats).toMatchObject({ failovers: 1, reconnects: 1 })
    // a figure, not a budget: from the loss of A to B's WELCOME, by the edge's own log times
    const failoverMs = Date.parse(atB['time'] as string) - Date.parse(lost['time'] as string)
    console.log(
      JSON.stringify({ failoverMs, storedByA, acknowledgedByA: acked, produced: PRODUCED }),
    )
    expect(await e.stop()).toBe(0)
  }, 120_000)

  it('the first server down at start: the edge connects to the second', async () => {
    const PRODUCED = 5000
    const down = `127.0.0.1:${await freePort()}`
    const b = await serverOn(0)
    const e = await edge([
      '--server',
      `${down},${b.address}`,
      '--channel',
      `virtual:x?rate=5000&count=${PRODUCED}`,
    ])
    expect(e.logs.find((l) => l.msg.startsWith('server unreachable'))).toMatchObject({
      msg: 'server unreachable; moving to the next server',
      server: down,
      next: b.address,
      reason: expect.stringMatching(/ECONNREFUSED/),
    })
    expect(e.logs.find((l) => l.msg === 'connected to the server')).toMatchObject({
      server: b.address,
      of: '2/2',
    })
    await everyFrameAccounted(b.server, PRODUCED, 30_000)
    expect(b.server.state.duplicates).toBe(0)
    expect(await e.stop()).toBe(0)
  }, 60_000)

  it('every server down: the backoff grows only after a whole round failed; once one comes up the edge connects and delivers everything', async () => {
    const PRODUCED = 5000
    const portA = await freePort()
    const portB = await freePort()
    const [addressA, addressB] = [`127.0.0.1:${portA}`, `127.0.0.1:${portB}`]
    const e = await edge(
      ['--server', `${addressA},${addressB}`, '--channel', `virtual:x?rate=5000&count=${PRODUCED}`],
      'connecting',
    )
    const failure = (l: LogLine) => l.msg.startsWith('server unreachable')
    await e.waitForLog(
      (l) => failure(l) && (l['roundsFailed'] as number) >= 4,
      30_000,
      'four failed rounds',
    )
    const failures = e.logs.filter(failure)
    // A, B, A, B, …: each failure names the server that failed and the one tried next
    for (const [i, l] of failures.entries()) {
      expect(l['server']).toBe(i % 2 === 0 ? addressA : addressB)
      expect(l['next']).toBe(i % 2 === 0 ? addressB : addressA)
      expect(l['attempt']).toBe(i + 1)
      // a round ends with B: then the wait is the backoff of the rounds failed so far
      const rounds = l['roundsFailed'] as number
      expect(rounds).toBe(Math.floor((i + 1) / 2))
      expect(l.msg).toBe(
        i % 2 === 1
          ? 'server unreachable; every server failed: backing off, then the next server'
          : 'server unreachable; moving to the next server',
      )
      // the ceiling: 100 ms for the first two rounds, doubling per round; jitter in its upper half
      const ceiling = Math.min(10_000, 100 * 2 ** Math.max(rounds - 1, 0))
      const wait = l['retryInMs'] as number
      expect(wait).toBeGreaterThanOrEqual(ceiling / 2)
      expect(wait).toBeLessThanOrEqual(ceiling)
    }

    const b = await serverOn(portB)
    await e.waitForLog(connectedTo(addressB), 30_000, 'connected to B once it is up')
    await everyFrameAccounted(b.server, PRODUCED, 30_000)
    expect(b.server.state.duplicates).toBe(0)
    const stats = await e.waitForLog(
      (l) => l.msg === 'stats' && l['connected'] === true,
      10_000,
      'stats while connected',
    )
    expect(stats['server']).toBe(addressB)
    expect(await e.stop()).toBe(0)
  }, 90_000)
})
