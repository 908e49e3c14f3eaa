// The flood test of issue 7: while the real daemon streams 1,000 frames/s over TLS 1.3 with a
// token to a TCPBus, 1,000 bogus connections (garbage, stalled handshakes at each stage,
// wrong tokens) hit the same server. The edge loses nothing, no bogus peer gets in, and the
// server's heap returns to its baseline. Latency under the flood is a benchmark figure
// (`pnpm bench:flood` in packages/server-bus), not asserted here.
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { edgeFiles, initPki } from '@canbridge/cli/keys'
import { type EdgeProcess, startEdge } from '@canbridge/edge-client/testing'
import { TCPBus } from '@canbridge/server-bus'
import { runBogusPeers } from '@canbridge/server-bus/testing'
import { afterEach, expect, it } from 'vitest'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const quiet = { debug() {}, info() {}, warn() {}, error() {} }
const cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function heapMb(): number {
  gc()
  return process.memoryUsage().heapUsed / 1024 / 1024
}

it('1,000 bogus connections: the streaming edge loses nothing and the heap returns', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'canbridge-flood-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  const { layout } = await initPki({
    dir: join(dir, 'pki'),
    serverNames: ['localhost'],
    serverIps: ['127.0.0.1'],
    edges: ['pi-flood'],
  })
  const bus = await TCPBus.listen({
    port: 0,
    host: '127.0.0.1',
    tls: { certFile: layout.serverCert, keyFile: layout.serverKey },
    auth: { tokensFile: layout.tokenTable },
    handshakeTimeoutMs: 1000,
    logger: quiet,
  })
  cleanups.push(() => bus.shutdown())
  const { port } = bus.address as { port: number }
  const edge: EdgeProcess = await startEdge([
    '--server',
    `127.0.0.1:${port}`,
    '--edge-id',
    'pi-flood',
    '--channel',
    'virtual:flood?rate=1000',
    '--tls-ca',
    layout.caCert,
    '--tls-servername',
    'localhost',
    '--token-file',
    edgeFiles(layout, 'pi-flood').token,
  ])
  cleanups.push(() => edge.stop('SIGKILL'))
  await bus.waitForEdge({ edgeId: 'pi-flood', timeoutMs: 10_000 })

  // every frame carries its sequence number in its first three data bytes
  let expected = 0
  let outOfOrder = 0
  const receiving = (async () => {
    for await (const batch of bus.batches({ maxFrames: 512 })) {
      for (const message of batch) {
        const d = message.data
        if ((d[0]! | (d[1]! << 8) | (d[2]! << 16)) !== expected) outOfOrder++
        expected++
      }
    }
  })()
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const baseline = heapMb()
  const tally = await runBogusPeers({
    port,
    ca: readFileSync(layout.caCert),
    total: 1000,
    concurrency: 50,
    stallMs: 3000,
  })
  expect(Object.values(tally.opened).reduce((a, b) => a + b, 0)).toBe(1000)
  expect(tally.welcomed).toBe(0)
  // the stalled handshakes time out (1 s here), then the server holds nothing of the flood
  const deadline = Date.now() + 10_000
  while (bus.stats().handshaking > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  expect(bus.stats().handshaking).toBe(0)
  const refused = Object.values(bus.stats().refused).reduce((a, b) => a + b, 0)
  expect(refused).toBeGreaterThanOrEqual(1000)
  expect(heapMb()).toBeLessThan(baseline + 4)

  // the edge streamed all along: stop it cleanly, then everything it read must be here
  await edge.stop('SIGTERM')
  await new Promise((resolve) => setTimeout(resolve, 200))
  const channel = bus.stats().channels['pi-flood/virtual:flood']!
  await bus.shutdown()
  await receiving
  expect(outOfOrder).toBe(0)
  expect(channel.gaps).toBe(0)
  expect(channel.duplicates).toBe(0)
  expect(channel.edgeDrops).toEqual({})
  expect(expected).toBeGreaterThan(3000)
  // the edge's last statistics, logged after its shutdown flush: all it read arrived
  const last = edge.lastStats()!['channels'] as { framesRead: number; framesAcked: number }[]
  expect(last[0]!.framesRead).toBe(expected)
}, 60_000)
