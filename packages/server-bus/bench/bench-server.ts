// The measured process of `pnpm bench` (started by bus.bench.ts, never directly): a TCPBus fed
// by the synthetic edge. Measures frames/s through batches(), for await and recv(), latency
// from the edge's write to the application at 1,000 and 10,000 frames/s, and peak RSS.
// Then the same over TLS 1.3 with token authentication (a second bus and edge): frames/s through
// batches() and latency at 1,000 frames/s. Then a blocking application, in both modes (a bus
// on this thread, and one with `worker: true`): the edge streams 10,000 frames/s while this
// thread busy-loops 200 ms of every second, and reports its ACK latency, the frames its ring
// would have spilled to its spool, and the server's silences; and recvBatch throughput across
// the thread boundary of the worker mode. Prints its figures as one JSON line.
// argv: <url of dist/index.js> <path of synthetic-edge.ts> <PKI dir from `canbridge keys`>
// <inline | worker>: one process runs the phases of one mode; bus.bench.ts merges the two.
import { type ChildProcess, fork } from 'node:child_process'
import { createServer } from 'node:net'
import { loadavg } from 'node:os'
import type * as ServerBus from '../src/index.ts'
import type { AckReport, EdgeCommand, EdgeReport } from './synthetic-edge.ts'

const [distUrl, edgePath, pkiDir, mode] = process.argv.slice(2) as [string, string, string, string]
if (mode !== 'inline' && mode !== 'worker')
  throw new Error(`mode must be inline or worker, got ${mode}`)
/** the phases of the link on the application's thread, or those of `worker: true` */
const MODE: 'inline' | 'worker' = mode
// The compiled package, as an application runs it; types from src.
const { TCPBus } = (await import(distUrl)) as typeof ServerBus

const BATCH_FRAMES = Number(process.env['BENCH_BATCH_N'] ?? 8_000_000)
const ITER_FRAMES = Number(process.env['BENCH_ITER_N'] ?? 4_000_000)
const RECV_FRAMES = Number(process.env['BENCH_RECV_N'] ?? 3_000_000)
const LATENCY_MS = Number(process.env['BENCH_LATENCY_MS'] ?? 4000)
const BLOCKED_MS = Number(process.env['BENCH_BLOCKED_MS'] ?? 5000)
/**
 * The edge whose spool is counted: a ring of this many bytes (its `--ring-bytes`) moving
 * unacknowledged frames to the spool above half of it (`--high-water 0.5`), 22 bytes a record
 * (an 8-byte frame). 64 KiB: a small edge; the default 8 MiB ring hides any stall under 19 s.
 */
const EDGE_RING_BYTES = Number(process.env['BENCH_EDGE_RING_BYTES'] ?? 65_536)
const EDGE_RING_FRAMES = Math.floor((EDGE_RING_BYTES * 0.5) / 22)
/** read each message's data too (allocates its Uint8Array); on by default */
const TOUCH_DATA = process.env['BENCH_TOUCH_DATA'] !== '0'

// Never hang a benchmark run: the whole thing takes well under a minute.
setTimeout(() => {
  console.error('bench server: gave up after 180 s')
  process.exit(1)
}, 180_000).unref()

// RSS of this whole process, the application's thread and the worker's (the edge runs in a
// process of its own). One process per mode: a `worker: true` application does not carry
// what the other mode's phases (TLS among them) left in its heap and its allocator.
let peakRss = process.memoryUsage.rss()
const sampler = setInterval(sampleRss, 10)
function sampleRss(): void {
  const rss = process.memoryUsage.rss()
  if (rss > peakRss) peakRss = rss
}

let finished = false
/** edges told to exit (their exit is no failure) */
const retired = new WeakSet<ChildProcess>()
let { bus, child } = await connectEdge('plain', MODE === 'worker')

/** A bus and its synthetic edge, on plain TCP or on TLS 1.3 with a token. */
async function connectEdge(
  link: 'plain' | 'tls',
  worker = false,
): Promise<{ bus: ServerBus.TCPBus; child: ChildProcess }> {
  const token = 'bench-token-0123456789abcdef'
  const bus = await TCPBus.listen(
    link === 'plain'
      ? { port: 0, host: '127.0.0.1', worker }
      : {
          port: 0,
          host: '127.0.0.1',
          tls: { certFile: `${pkiDir}/server.crt`, keyFile: `${pkiDir}/server.key` },
          auth: { tokens: { 'bench-edge': token } },
        },
  )
  const address = bus.address
  if (!('port' in address)) throw new Error('expected a TCP address')
  const args =
    link === 'plain' ? [String(address.port)] : [String(address.port), `${pkiDir}/ca.crt`, token]
  const child = fork(edgePath, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  child.once('exit', (code) => {
    if (finished || retired.has(child)) return
    console.error(`synthetic edge exited early (code ${code})`)
    process.exit(1)
  })
  await waitReport(child, 'ready')
  await bus.waitForEdge({ timeoutMs: 10_000 })
  return { bus, child }
}

let sink = 0
function touch(message: ServerBus.CanMessage): void {
  sink += message.arbitrationId + message.dlc
  if (TOUCH_DATA) sink += message.data[0]!
}

async function viaBatches(count: number): Promise<number> {
  const started = performance.now()
  command({ cmd: 'stream', count })
  let received = 0
  for await (const batch of bus.batches()) {
    for (let i = 0; i < batch.length; i++) touch(batch[i]!)
    received += batch.length
    if (received >= count) break
  }
  return count / ((performance.now() - started) / 1000)
}

async function viaIterator(count: number): Promise<number> {
  const started = performance.now()
  command({ cmd: 'stream', count })
  let received = 0
  for await (const message of bus) {
    touch(message)
    if (++received >= count) break
  }
  return count / ((performance.now() - started) / 1000)
}

async function viaRecv(count: number): Promise<number> {
  const started = performance.now()
  command({ cmd: 'stream', count })
  for (let received = 0; received < count; received++) {
    const message = await bus.recv()
    if (message === null) throw new Error('bus closed')
    touch(message)
  }
  return count / ((performance.now() - started) / 1000)
}

/** Latency of every frame at a fixed rate: receipt time minus the edge's write time. */
async function latency(
  fps: number,
  durationMs = LATENCY_MS,
): Promise<{ p50: number; p99: number; max: number }> {
  const total = Math.round((fps * durationMs) / 1000)
  const samples = new Float64Array(total)
  command({ cmd: 'rate', fps, durationMs })
  let received = 0
  for await (const message of bus) {
    // The edge writes process.hrtime (CLOCK_MONOTONIC, shared by both processes) as the time.
    samples[received] = Number(process.hrtime.bigint() - message.timestampNs) / 1e6
    touch(message)
    if (++received >= total) break
  }
  await waitReport(child, 'done')
  if (process.env['BENCH_VERBOSE'] === '1') {
    const slow = Array.from(samples.entries()).filter(([, ms]) => ms > 0.5)
    console.log(
      `${fps}/s: ${slow.length} samples > 0.5 ms at frame #: ${slow.map(([i, ms]) => `${i}:${ms.toFixed(1)}`).join(' ')}`,
    )
  }
  samples.sort()
  const at = (q: number) => samples[Math.min(total - 1, Math.floor(q * total))]!
  return { p50: at(0.5), p99: at(0.99), max: samples[total - 1]! }
}

/**
 * A busy application: the edge streams at 10,000 frames/s for BLOCKED_MS while this thread
 * consumes batches but busy-loops 200 ms of every second. What the edge saw of the ACKs, and
 * the heartbeat timeouts the server reported.
 */
async function blockedApplication(): Promise<AckReport & { serverHeartbeatTimeouts: number }> {
  let serverHeartbeatTimeouts = 0
  const onError = (error: Error) => {
    if ((error as { code?: string }).code === 'HEARTBEAT_TIMEOUT') serverHeartbeatTimeouts++
  }
  bus.on('edgeError', onError)
  const report = new Promise<EdgeReport & { event: 'acked' }>((resolve) => {
    const onMessage = (message: EdgeReport) => {
      if (message.event !== 'acked') return
      child.off('message', onMessage)
      resolve(message)
    }
    child.on('message', onMessage)
  })
  const stop = new AbortController()
  void report.then(() => stop.abort())
  command({ cmd: 'acked', fps: 10_000, durationMs: BLOCKED_MS, ringFrames: EDGE_RING_FRAMES })
  const blocker = setInterval(() => {
    const until = performance.now() + 200
    while (performance.now() < until) {}
  }, 1000)
  for await (const batch of bus.batches({ signal: stop.signal })) {
    for (let i = 0; i < batch.length; i++) touch(batch[i]!)
  }
  clearInterval(blocker)
  bus.off('edgeError', onError)
  return { ...(await report).acks, serverHeartbeatTimeouts }
}

/** The machine's floor at this rate: bare timestamps over plain TCP between the same processes. */
async function floor(fps: number): Promise<{ p50: number; p99: number }> {
  const total = Math.round((fps * LATENCY_MS) / 1000)
  const samples = new Float64Array(total)
  let received = 0
  const done = new Promise<void>((resolve) => {
    const server = createServer({ noDelay: true }, (socket) => {
      let held: Buffer = Buffer.alloc(0)
      socket.on('data', (chunk: Buffer) => {
        const now = process.hrtime.bigint()
        held = held.length === 0 ? chunk : Buffer.concat([held, chunk])
        let offset = 0
        for (; offset + 8 <= held.length && received < total; offset += 8) {
          samples[received++] = Number(now - held.readBigUInt64LE(offset)) / 1e6
        }
        held = held.subarray(offset)
        if (received >= total) {
          server.close()
          resolve()
        }
      })
    })
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      command({ cmd: 'raw', port, fps, durationMs: LATENCY_MS })
    })
  })
  await done
  await waitReport(child, 'done')
  samples.sort()
  return { p50: samples[Math.floor(0.5 * total)]!, p99: samples[Math.floor(0.99 * total)]! }
}

const phaseRss: Record<string, number> = {}
// What the RSS is made of after each phase: V8's heap (committed), buffers outside it.
const phaseMemory: Record<string, { heapTotalMb: number; arrayBuffersMb: number }> = {}
function endPhase(name: string): void {
  sampleRss()
  const usage = process.memoryUsage()
  phaseRss[name] = mb(peakRss)
  phaseMemory[name] = { heapTotalMb: mb(usage.heapTotal), arrayBuffersMb: mb(usage.arrayBuffers) }
}

console.log(JSON.stringify(MODE === 'inline' ? await inlinePhases() : await workerPhases()))

/** Every phase with the link on this thread (the default): plain, TLS, a blocking application. */
async function inlinePhases(): Promise<Record<string, unknown>> {
  // Warm-up: let the JIT see every path before measuring.
  await viaBatches(500_000)
  await viaIterator(300_000)
  await viaRecv(300_000)
  endPhase('warmup')
  const batchFps = await viaBatches(BATCH_FRAMES)
  endPhase('batch')
  const iterFps = await viaIterator(ITER_FRAMES)
  endPhase('iter')
  const recvFps = await viaRecv(RECV_FRAMES)
  endPhase('recv')
  if (process.env['BENCH_VERBOSE'] === '1')
    console.log(`--- latency phases start at ${Math.round(performance.now())} ms`)
  // One second at the rate first, not measured: the garbage collector finishes with what the
  // flat-out phases left, and the paced path is compiled, as in a process that runs at this rate.
  await latency(1000, 1000)
  const lat1k = await latency(1000)
  endPhase('lat1k')
  const lat10k = await latency(10_000)
  endPhase('lat10k')
  const floor1k = await floor(1000)
  const stats = bus.stats().channels['bench-edge/can0']!

  // The same edge over TLS 1.3 with a token: a fresh bus and edge, warmed up like the first.
  await replaceEdge('tls')
  await viaBatches(500_000)
  const tlsBatchFps = await viaBatches(BATCH_FRAMES)
  await latency(1000, 1000)
  const tlsLat1k = await latency(1000)
  const tlsStats = bus.stats().channels['bench-edge/can0']!
  endPhase('tls')

  // A blocking application, with the link on its thread.
  await replaceEdge('plain')
  await viaBatches(100_000)
  const blockedInline = await blockedApplication()
  endPhase('blockedInline')
  await finish()
  return {
    batchFps: Math.round(batchFps),
    iterFps: Math.round(iterFps),
    recvFps: Math.round(recvFps),
    p50Ms1k: round(lat1k.p50),
    p99Ms1k: round(lat1k.p99),
    maxMs1k: round(lat1k.max),
    p50Ms10k: round(lat10k.p50),
    p99Ms10k: round(lat10k.p99),
    maxMs10k: round(lat10k.max),
    tlsBatchFps: Math.round(tlsBatchFps),
    tlsP50Ms1k: round(tlsLat1k.p50),
    tlsP99Ms1k: round(tlsLat1k.p99),
    tlsBatchRatio: round(tlsBatchFps / batchFps),
    tlsP99Ratio1k: round(tlsLat1k.p99 / lat1k.p99),
    floorP50Ms1k: round(floor1k.p50),
    floorP99Ms1k: round(floor1k.p99),
    ackP50MsBlocked: round(blockedInline.p50Ms),
    ackP99MsBlocked: round(blockedInline.p99Ms),
    ackMaxMsBlocked: round(blockedInline.maxMs),
    spooledBlocked: blockedInline.spooled,
    maxUnackedBlocked: blockedInline.maxUnacked,
    heartbeatTimeoutsBlocked:
      blockedInline.heartbeatTimeouts + blockedInline.serverHeartbeatTimeouts,
    maxServerSilenceMsBlocked: round(blockedInline.maxSilenceMs),
    edgeRingFrames: EDGE_RING_FRAMES,
    ...processFigures(),
    framesIn: stats.framesIn,
    gaps: stats.gaps + tlsStats.gaps,
    duplicates: stats.duplicates + tlsStats.duplicates,
  }
}

/** `worker: true`: recvBatch across the thread boundary, then the blocking application. */
async function workerPhases(): Promise<Record<string, unknown>> {
  await viaBatches(500_000)
  endPhase('workerWarmup')
  const workerBatchFps = await viaBatches(BATCH_FRAMES)
  endPhase('workerBatch')
  const blockedWorker = await blockedApplication()
  endPhase('blockedWorker')
  const workerStats = bus.stats().channels['bench-edge/can0']!
  await finish()
  return {
    ackP50MsBlockedWorker: round(blockedWorker.p50Ms),
    ackP99MsBlockedWorker: round(blockedWorker.p99Ms),
    ackMaxMsBlockedWorker: round(blockedWorker.maxMs),
    spooledBlockedWorker: blockedWorker.spooled,
    maxUnackedBlockedWorker: blockedWorker.maxUnacked,
    heartbeatTimeoutsBlockedWorker:
      blockedWorker.heartbeatTimeouts + blockedWorker.serverHeartbeatTimeouts,
    maxServerSilenceMsBlockedWorker: round(blockedWorker.maxSilenceMs),
    workerBatchFps: Math.round(workerBatchFps),
    ...processFigures(),
    gaps: workerStats.gaps,
    duplicates: workerStats.duplicates,
  }
}

/** What both modes report of their process. */
function processFigures(): Record<string, unknown> {
  return {
    peakRssMb: mb(peakRss),
    peakRssMbAfter: phaseRss,
    memoryAfter: phaseMemory,
    touchData: TOUCH_DATA,
    v8Flags: process.execArgv.join(' '),
    loadAvg1m: round(loadavg()[0]!),
    checksum: sink % 1000,
  }
}

/** The current edge told to exit and its bus shut down; a new pair in their place. */
async function replaceEdge(link: 'plain' | 'tls'): Promise<void> {
  retired.add(child)
  command({ cmd: 'exit' })
  await bus.shutdown()
  ;({ bus, child } = await connectEdge(link, MODE === 'worker'))
}

async function finish(): Promise<void> {
  finished = true
  command({ cmd: 'exit' })
  await bus.shutdown()
  sampleRss()
  clearInterval(sampler)
}

function command(message: EdgeCommand): void {
  child.send(message)
}

function waitReport(from: ChildProcess, event: EdgeReport['event']): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: EdgeReport) => {
      if (message.event !== event) return
      from.off('message', onMessage)
      from.off('exit', onExit)
      resolve()
    }
    const onExit = (code: number | null) => reject(new Error(`synthetic edge exited (${code})`))
    from.on('message', onMessage)
    from.once('exit', onExit)
  })
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000
}

function mb(bytes: number): number {
  return round(bytes / 1024 / 1024)
}
