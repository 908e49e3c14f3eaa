// `pnpm bench:flood`: a real edge (canbridge-edge, virtual channel at 1,000 frames/s) streams
// to a TCPBus over TLS 1.3 with a token, first calm, then while another process opens
// bogus connections against the same server (garbage, stalled handshakes, failed logins).
// Prints latency calm vs flood, what the edge lost (must be 0), the server's refusals, and
// its memory before, at the peak and after (baseline check). Last line: one JSON object.
import { type ChildProcess, fork, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { edgeFiles, initPki } from '@canbridge/cli/keys'
import { DIST_MAIN } from '@canbridge/edge-client/testing'
import { TCPBus } from '@canbridge/server-bus'
import type { BogusTally } from '@canbridge/server-bus/testing'

const RATE = 1000
const CALM_MS = Number(process.env['FLOOD_CALM_MS'] ?? 15_000)
const BOGUS_TOTAL = Number(process.env['FLOOD_BOGUS'] ?? 1500)
const BOGUS_CONCURRENCY = Number(process.env['FLOOD_CONCURRENCY'] ?? 100)
/** new bogus connections per second at most (0: as fast as they go) */
const BOGUS_PER_SECOND = Number(process.env['FLOOD_PER_SECOND'] ?? 150)
/** floods in a row: memory after each shows whether it returns or grows */
const ROUNDS = Number(process.env['FLOOD_ROUNDS'] ?? 2)
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc (pnpm bench:flood does)')

const dir = mkdtempSync(join(tmpdir(), 'canbridge-flood-'))
const { layout } = await initPki({
  dir: join(dir, 'pki'),
  serverNames: ['localhost'],
  serverIps: ['127.0.0.1'],
  edges: ['pi-flood'],
})
const edgeFilesOf = edgeFiles(layout, 'pi-flood')
const bus = await TCPBus.listen({
  port: 0,
  host: '127.0.0.1',
  tls: { certFile: layout.serverCert, keyFile: layout.serverKey },
  auth: { tokensFile: layout.tokenTable },
  logger: { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} },
})
const { port } = bus.address as { port: number }
let edge: ChildProcess | undefined
let flood: ChildProcess | undefined
const fail = (why: string): never => {
  console.error(`flood bench: ${why}`)
  edge?.kill('SIGKILL')
  flood?.kill('SIGKILL')
  process.exit(1)
}
setTimeout(() => fail('gave up after 240 s'), 240_000).unref()

edge = spawn(
  process.execPath,
  [
    DIST_MAIN,
    '--server',
    `127.0.0.1:${port}`,
    '--edge-id',
    'pi-flood',
    '--channel',
    `virtual:flood?rate=${RATE}&pattern=counter`,
    '--tls-ca',
    layout.caCert,
    '--tls-servername',
    'localhost',
    '--token-file',
    edgeFilesOf.token,
    '--log-level',
    'warn',
  ],
  { stdio: ['ignore', 'inherit', 'inherit'] },
)
edge.once('exit', (code) => {
  if (!stopping) fail(`the edge exited (${code})`)
})
let stopping = false
await bus.waitForEdge({ timeoutMs: 20_000 })

type Phase = 'warmup' | 'calm' | 'flood' | 'after'
let phase: Phase = 'warmup'
const samples: Record<Phase, number[]> = { warmup: [], calm: [], flood: [], after: [] }
let received = 0
const receiving = (async () => {
  for await (const batch of bus.batches({ maxFrames: 512 })) {
    const nowNs = (performance.timeOrigin + performance.now()) * 1e6
    for (const message of batch) samples[phase].push((nowNs - Number(message.timestampNs)) / 1e6)
    received += batch.length
  }
})()

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const memory = () => {
  gc()
  const usage = process.memoryUsage()
  return {
    heapMb: mb(usage.heapUsed),
    /** the V8 heap as allocated from the system (young generation included) */
    heapTotalMb: mb(usage.heapTotal),
    /** memory of C++ objects bound to JavaScript ones (sockets, TLS) */
    externalMb: mb(usage.external),
    rssMb: mb(usage.rss),
  }
}
let peakRss = 0
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss())
}, 20)

await sleep(3000)
phase = 'calm'
await sleep(CALM_MS)
const baseline = memory()
phase = 'flood'
const rounds: {
  tally: BogusTally
  floodMs: number
  peakHandshaking: number
  heapMb: number
  heapTotalMb: number
  externalMb: number
  rssMb: number
}[] = []
for (let round = 0; round < ROUNDS; round++) rounds.push(await floodRound())
phase = 'after'
const after = memory()
clearInterval(sampler)

/** One flood of bogus peers; returns what they did and the server's memory once it is over. */
async function floodRound() {
  const started = performance.now()
  flood = fork(
    // the bogus peers run as a script of the built test tooling
    fileURLToPath(
      new URL('./bogus-peers.js', import.meta.resolve('@canbridge/server-bus/testing')),
    ),
    [
      String(port),
      layout.caCert,
      String(BOGUS_TOTAL),
      String(BOGUS_CONCURRENCY),
      String(BOGUS_PER_SECOND),
    ],
    { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
  )
  let out = ''
  flood.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString()
  })
  let peakHandshaking = 0
  const watcher = setInterval(() => {
    peakHandshaking = Math.max(peakHandshaking, bus.stats().handshaking)
  }, 50)
  const code = await new Promise<number | null>((resolve) => flood!.once('exit', resolve))
  clearInterval(watcher)
  const floodMs = Math.round(performance.now() - started)
  if (code !== 0) fail(`the bogus peers failed (exit ${code})`)
  const tally = JSON.parse(out.trim().split('\n').at(-1)!) as BogusTally
  // the server drops what the flood left once the last stalled handshake timed out
  while (bus.stats().handshaking > 0) await sleep(100)
  await sleep(2000)
  return { tally, floodMs, peakHandshaking, ...memory() }
}

stopping = true
edge.kill('SIGTERM')
await new Promise((resolve) => edge!.once('exit', resolve))
await sleep(200)
const stats = bus.stats()
const channel = Object.values(stats.channels)[0]!
await bus.shutdown()
await receiving
rmSync(dir, { recursive: true, force: true })

const calm = percentiles(samples.calm)
const flooded = percentiles(samples.flood)
const edgeDrops = Object.values(channel.edgeDrops).reduce((a, b) => a + b, 0)
const result = {
  rate: RATE,
  calmFrames: samples.calm.length,
  floodFrames: samples.flood.length,
  calmP50Ms: calm.p50,
  calmP99Ms: calm.p99,
  floodP50Ms: flooded.p50,
  floodP99Ms: flooded.p99,
  floodMaxMs: flooded.max,
  p99Ratio: round(flooded.p99 / calm.p99),
  bogusConnections: sum(rounds.map((r) => sum(Object.values(r.tally.opened)))),
  bogusByKind: rounds[0]!.tally.opened,
  bogusWelcomed: sum(rounds.map((r) => r.tally.welcomed)),
  floodMs: rounds.map((r) => r.floodMs),
  peakHandshaking: Math.max(...rounds.map((r) => r.peakHandshaking)),
  refused: stats.refused,
  framesReceived: received,
  edgeFramesRead: channel.edgeCounters['framesRead'] ?? null,
  gaps: channel.gaps,
  duplicates: channel.duplicates,
  edgeDrops,
  heapBaselineMb: baseline.heapMb,
  heapAfterRoundsMb: rounds.map((r) => r.heapMb),
  heapAfterMb: after.heapMb,
  heapTotalBaselineMb: baseline.heapTotalMb,
  heapTotalAfterRoundsMb: rounds.map((r) => r.heapTotalMb),
  externalBaselineMb: baseline.externalMb,
  externalAfterRoundsMb: rounds.map((r) => r.externalMb),
  rssBaselineMb: baseline.rssMb,
  rssAfterRoundsMb: rounds.map((r) => r.rssMb),
  rssAfterMb: after.rssMb,
  rssPeakMb: mb(peakRss),
}
console.log(`calm:  p50 ${calm.p50} ms, p99 ${calm.p99} ms (${samples.calm.length} frames)`)
console.log(
  `flood: p50 ${flooded.p50} ms, p99 ${flooded.p99} ms, max ${flooded.max} ms (${samples.flood.length} frames, ${result.bogusConnections} bogus connections in ${ROUNDS} rounds of ${result.floodMs.join(' and ')} ms); p99 ratio ${result.p99Ratio} (target <= 2)`,
)
console.log(
  `lost: gaps ${channel.gaps}, edge drops ${edgeDrops}, duplicates ${channel.duplicates} (target 0); bogus peers welcomed: ${result.bogusWelcomed} (must be 0)`,
)
console.log(`refused by reason: ${JSON.stringify(stats.refused)}`)
console.log(
  `server heap ${baseline.heapMb} MB before, ${result.heapAfterRoundsMb.join(' / ')} MB after each flood; RSS ${baseline.rssMb} MB before, ${result.rssAfterRoundsMb.join(' / ')} MB after each flood (peak ${result.rssPeakMb} MB)`,
)
console.log(JSON.stringify(result))

function percentiles(values: number[]): { p50: number; p99: number; max: number } {
  const sorted = Float64Array.from(values).sort()
  const at = (q: number) =>
    round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN)
  return { p50: at(0.5), p99: at(0.99), max: round(sorted[sorted.length - 1] ?? Number.NaN) }
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0)
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000
}

function mb(bytes: number): number {
  return round(bytes / 1024 / 1024)
}
