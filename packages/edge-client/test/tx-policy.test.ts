// Least privilege on the reverse path, on a virtual channel that loops every sent frame back
// as received traffic (so "nothing reached the bus" is observable): listen-only, the id
// allow-list, the rate limit, and their counters in STATS, logs and metrics.
import { once } from 'node:events'
import { type AddressInfo, createServer } from 'node:net'
import { FRAME_FLAG, type TxFrame } from '@canbridge/protocol'
import { describe, expect, it } from 'vitest'
import type { ScriptedServer } from './helpers/scripted-server.ts'
import { cleanUpAfterEach, runEdge, serve, sleep, transmitResults } from './helpers/secure-link.ts'

cleanUpAfterEach()

const LOOPBACK = 'virtual:bus?rate=0&loopback=1'
const std = (id: number, byte = 0): TxFrame => ({ id, flags: 0, len: 1, data: Uint8Array.of(byte) })
const ext = (id: number): TxFrame => ({ id, flags: FRAME_FLAG.EXT, len: 1, data: Uint8Array.of(0) })

async function connectedEdge(args: string[]): Promise<ScriptedServer> {
  const { server, address } = await serve()
  const edge = runEdge([
    '--server',
    address,
    '--channel',
    LOOPBACK,
    '--stats-interval',
    '200ms',
    ...args,
  ])
  await edge.waitForMsg('connected to the server')
  return server
}

function notices(server: ScriptedServer): { code: string; message: string; fatal: boolean }[] {
  return server.state.messages
    .filter((m) => m.type === 'ERROR')
    .map((m) => m.body as { code: string; message: string; fatal: boolean })
}

/** A port nothing listens on now (the kernel's pick, released at once). */
async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as AddressInfo
  probe.close()
  return port
}

describe('transmit policy', () => {
  it('listen-only: TRANSMIT and PERIODIC_START are refused with a clear result and nothing reaches the bus', async () => {
    const server = await connectedEdge(['--listen-only'])
    server.send('TRANSMIT', { requestId: 1, channel: 0, frame: std(0x123) })
    server.send('TRANSMIT', { requestId: 2, channel: 0, frame: std(0x124) })
    server.send('PERIODIC_START', { taskId: 4, channel: 0, periodMs: 10, frames: [std(0x125)] })
    await server.waitFor(() => transmitResults(server).length === 2 && notices(server).length === 1)
    expect(transmitResults(server)).toEqual([
      {
        requestId: 1,
        ok: false,
        error: 'listen-only',
        message: 'the edge runs in listen-only mode',
      },
      {
        requestId: 2,
        ok: false,
        error: 'listen-only',
        message: 'the edge runs in listen-only mode',
      },
    ])
    expect(notices(server)).toEqual([
      {
        code: 'listen-only',
        message: 'periodic task 4 refused: the edge runs in listen-only mode',
        fatal: false,
      },
    ])
    await server.waitFor(
      () => server.state.statsCounters(0)['periodic.refused'] === 1,
      5000,
      'STATS',
    )
    expect(server.state.statsCounters(0)).toMatchObject({
      'tx.refused.listen-only': 2,
      'periodic.refused': 1,
    })
    expect(server.state.count(0)).toBe(0)
  })

  it('--tx-allow: an id outside the list gets not-allowed naming it; a periodic task with one is refused; counted in metrics', async () => {
    const metricsPort = await freePort()
    const server = await connectedEdge([
      '--tx-allow',
      '100-1FF,18DAF100-18DAF1FF',
      '--metrics-port',
      String(metricsPort),
    ])
    server.send('TRANSMIT', { requestId: 1, channel: 0, frame: std(0x123) })
    server.send('TRANSMIT', { requestId: 2, channel: 0, frame: std(0x200) })
    server.send('TRANSMIT', { requestId: 3, channel: 0, frame: ext(0x18daf110) })
    server.send('TRANSMIT', { requestId: 4, channel: 0, frame: ext(0x123) })
    server.send('PERIODIC_START', {
      taskId: 9,
      channel: 0,
      periodMs: 5,
      frames: [std(0x150), std(0x7e0)],
    })
    await server.waitFor(() => transmitResults(server).length === 4 && notices(server).length === 1)
    const list = "this edge's transmit allow-list (--tx-allow 100-1FF,18DAF100-18DAF1FF)"
    expect(transmitResults(server)).toEqual([
      { requestId: 1, ok: true },
      {
        requestId: 2,
        ok: false,
        error: 'not-allowed',
        message: `id 200 (standard) is not in ${list}`,
      },
      { requestId: 3, ok: true },
      {
        requestId: 4,
        ok: false,
        error: 'not-allowed',
        message: `id 00000123 (extended) is not in ${list}`,
      },
    ])
    expect(notices(server)).toEqual([
      {
        code: 'not-allowed',
        message: `periodic task 9 refused: frame 2 of 2: id 7E0 (standard) is not in ${list}`,
        fatal: false,
      },
    ])
    await server.waitFor(() => server.state.count(0) === 2, 5000, 'the two allowed frames')
    await sleep(200)
    expect(server.state.channel(0).map((f) => [f.id, f.flags])).toEqual([
      [0x123, 0],
      [0x18daf110, FRAME_FLAG.EXT],
    ])
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
    const channel = 'virtual:bus'
    expect(metrics).toContain(
      `canbridge_edge_tx_refused_total{channel="${channel}",reason="not-allowed"} 2`,
    )
    expect(metrics).toContain(
      `canbridge_edge_tx_refused_total{channel="${channel}",reason="rate-limited"} 0`,
    )
    expect(metrics).toContain(`canbridge_edge_periodic_refused_total{channel="${channel}"} 1`)
  })

  it('--tx-rate-limit: past a burst of 5 exactly the rest is rate-limited, and only 5 frames reach the bus', async () => {
    const server = await connectedEdge(['--tx-rate-limit', '1', '--tx-burst', '5'])
    // one write: all twelve arrive within a millisecond, far less than the 1 s a token takes
    for (let i = 1; i <= 12; i++)
      server.send('TRANSMIT', { requestId: i, channel: 0, frame: std(0x100 + i, i) })
    await server.waitFor(() => transmitResults(server).length === 12)
    const results = transmitResults(server)
    expect(results.filter((r) => r.ok).map((r) => r.requestId)).toEqual([1, 2, 3, 4, 5])
    expect(results.filter((r) => !r.ok).map((r) => [r.requestId, r.error])).toEqual(
      [6, 7, 8, 9, 10, 11, 12].map((id) => [id, 'rate-limited']),
    )
    expect(results[5]!.message).toBe(
      "over this edge's transmit rate limit of 1 frames/s (burst 5) on this channel (--tx-rate-limit)",
    )
    await server.waitFor(
      () => server.state.statsCounters(0)['tx.refused.rate-limited'] === 7,
      5000,
      'STATS',
    )
    expect(server.state.channel(0).map((f) => f.data[0])).toEqual([1, 2, 3, 4, 5])
  })

  it('periodic frames share the budget: those over the limit are skipped and counted', async () => {
    const server = await connectedEdge(['--tx-rate-limit', '20', '--tx-burst', '2'])
    // 100 sends a second for 1 s against 20 a second plus a burst of 2
    server.send('PERIODIC_START', {
      taskId: 1,
      channel: 0,
      periodMs: 10,
      durationMs: 1000,
      frames: [std(0x321)],
    })
    await sleep(1400)
    const sent = server.state.count(0)
    expect(sent).toBeGreaterThanOrEqual(18)
    expect(sent).toBeLessThanOrEqual(25)
    await server.waitFor(
      () => (server.state.statsCounters(0)['periodic.rate-limited'] ?? 0) > 0,
      5000,
      'STATS',
    )
    await sleep(300)
    const skipped = server.state.statsCounters(0)['periodic.rate-limited']!
    // the schedule has 100 slots; the limit skipped most, a late timer may skip a few more
    // (the scheduler's own count, not a rate-limit one)
    expect(skipped).toBeGreaterThanOrEqual(50)
    expect(sent + skipped).toBeLessThanOrEqual(101)
    expect(notices(server)[0]).toMatchObject({
      code: 'periodic',
      message: "task 1: 1 send(s) skipped by the edge's transmit rate limit (--tx-rate-limit)",
      fatal: false,
    })
  })
})
