// Fleet benchmark: a real nats-server on loopback, batches of 100 classic frames.
//  - raw:        the NATS client alone, one publisher loop per channel, each publish with its
//                message id and the subject's expected last sequence (chained), as the
//                fastest exactly-once writer could do it
//  - publisher:  the same batches through ChannelPublisher (resume, copy, headers, checks)
//  - consumer:   everything stored read back in order with FleetClient.batches
//  - e2e:        N synthetic edges (the protocol over TCP) → a Gateway in its own process →
//                JetStream → one FleetClient reader; frames/s from first send to last read,
//                the gateway's CPU per 1,000 frames and peak RSS, lost and duplicated frames
//  - latency:    one edge at 1,000 and 10,000 frames/s, frame time to reader, p99
// for 1, 8 and 50 channels/edges. Ratios compare figures of this one run (gatewayEfficiency:
// the e2e rate with 8 edges over the raw client's with 8 publishers). Last line: one JSON object.
// Usage: node bench/fleet.bench.ts [--frames N]   (build first: pnpm build)
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { type DataBatch, FrameReader } from '@canbridge/protocol'
import { ScriptedEdge } from '@canbridge/server-bus/testing'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect, headers as natsHeaders } from '@nats-io/transport-node'
import { ChannelPublisher } from '../src/channel-publisher.ts'
import { FleetClient } from '../src/fleet-client.ts'
import { ensureStream } from '../src/stream.ts'
import { FleetSubjects } from '../src/subjects.ts'
import { NatsServer } from '../src/testing/nats-server.ts'
import { counterBatch } from '../test/batches.ts'

const { values } = parseArgs({ options: { frames: { type: 'string', default: '400000' } } })
const FRAMES = Number(values.frames)
if (!Number.isInteger(FRAMES) || FRAMES < 10_000) {
  console.error(`--frames must be an integer >= 10000, got ${values.frames}`)
  process.exit(2)
}
const BATCH = 100

const server = await NatsServer.start()
const nc = await connect({ servers: server.url })
const js = jetstream(nc)
const jsm = await jetstreamManager(nc)
let streamNumber = 0

/** One batch per 100 frames, built once per channel count (the same bytes for both writers). */
function batchesFor(channels: number): DataBatch[][] {
  const perChannel = Math.floor(FRAMES / channels / BATCH)
  return Array.from({ length: channels }, (_, c) =>
    Array.from({ length: perChannel }, (_, b) => counterBatch(b * BATCH, BATCH, c % 256)),
  )
}

async function freshStream(): Promise<{ subjects: FleetSubjects; stream: string }> {
  const subjects = new FleetSubjects(`b${++streamNumber}`)
  const stream = await ensureStream(jsm, subjects, { name: `BENCH${streamNumber}` })
  return { subjects, stream }
}

async function raw(batches: DataBatch[][]): Promise<number> {
  const { subjects } = await freshStream()
  const started = performance.now()
  await Promise.all(
    batches.map(async (channel, c) => {
      const subject = subjects.raw('edge', `can${c}`)
      let last = 0
      for (const batch of channel) {
        const h = natsHeaders()
        h.set('Canbridge-Last-Seq', String(batch.firstSeq + batch.count - 1))
        const ack = await js.publish(subject, batch.body, {
          msgID: `edge/can${c}/${batch.firstSeq}`,
          headers: h,
          expect: { lastSubjectSequence: last },
        })
        last = ack.seq
      }
    }),
  )
  return framesOf(batches) / ((performance.now() - started) / 1000)
}

async function viaPublisher(
  batches: DataBatch[][],
): Promise<{ fps: number; stream: string; prefix: string }> {
  const { subjects, stream } = await freshStream()
  const publishers = batches.map(
    (_, c) =>
      new ChannelPublisher({
        js,
        jsm,
        stream,
        subject: subjects.raw('edge', `can${c}`),
        edgeId: 'edge',
        channel: `can${c}`,
        gateway: 'bench',
      }),
  )
  await Promise.all(publishers.map((p) => p.resume()))
  const started = performance.now()
  await Promise.all(
    batches.map(async (channel, c) => {
      for (const batch of channel) await publishers[c]!.store(batch, 'bench')
    }),
  )
  const fps = framesOf(batches) / ((performance.now() - started) / 1000)
  return { fps, stream, prefix: subjects.prefix }
}

async function consume(stream: string, prefix: string, expected: number): Promise<number> {
  const fleet = await FleetClient.connect({ servers: server.url }, { stream, prefix })
  const started = performance.now()
  let frames = 0
  for await (const stored of fleet.batches({ from: 'all' })) {
    const reader = new FrameReader(stored.batch)
    while (reader.next()) frames++
    if (frames >= expected) break
  }
  const fps = frames / ((performance.now() - started) / 1000)
  await fleet.close()
  return fps
}

function framesOf(batches: DataBatch[][]): number {
  return batches.reduce((sum, channel) => sum + channel.length * BATCH, 0)
}

const result: Record<string, number | string | null> = { frames: FRAMES, batchFrames: BATCH }
// warm-up, so the first measured writer does not pay for the JIT and the server's first files
const warmUp = batchesFor(8).map((channel) => channel.slice(0, 20))
await raw(warmUp)
await viaPublisher(warmUp)
for (const channels of [1, 8, 50]) {
  const batches = batchesFor(channels)
  const rawFps = await raw(batches)
  const { fps, stream, prefix } = await viaPublisher(batches)
  const consumerFps = await consume(stream, prefix, framesOf(batches))
  console.log(
    `${String(channels).padStart(2)} channels: raw client ${Math.round(rawFps).toLocaleString()} frames/s, ChannelPublisher ${Math.round(fps).toLocaleString()} frames/s (${(fps / rawFps).toFixed(2)}), consumer ${Math.round(consumerFps).toLocaleString()} frames/s`,
  )
  result[`rawFps${channels}`] = Math.round(rawFps)
  result[`publisherFps${channels}`] = Math.round(fps)
  result[`consumerFps${channels}`] = Math.round(consumerFps)
  result[`publisherEfficiency${channels}`] = Number((fps / rawFps).toFixed(3))
}
/** The gateway in its own process: its port, then its CPU and peak RSS on request. */
class GatewayProcess {
  readonly child: ChildProcess
  readonly #lines: AsyncIterator<string>

  private constructor(child: ChildProcess) {
    this.child = child
    this.#lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  }

  static async start(
    stream: string,
    prefix: string,
  ): Promise<{ gateway: GatewayProcess; port: number }> {
    const here = new URL('./gateway-process.ts', import.meta.url).pathname
    const child = spawn(process.execPath, [here, server.url, stream, prefix], {
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    const gateway = new GatewayProcess(child)
    const { port } = JSON.parse(await gateway.#line()) as { port: number }
    return { gateway, port }
  }

  async stats(): Promise<{ cpuMs: number; peakRssMb: number }> {
    this.child.stdin!.write('stats\n')
    return JSON.parse(await this.#line())
  }

  async stop(): Promise<void> {
    this.child.stdin!.write('exit\n')
    await new Promise((resolve) => this.child.once('exit', resolve))
  }

  async #line(): Promise<string> {
    const next = await this.#lines.next()
    if (next.done) throw new Error('the gateway process ended')
    return next.value
  }
}

interface Reading {
  frames: number
  lost: number
  duplicated: number
  latenciesMs: number[]
}

/** Reads everything stored from the start, checking each channel's sequence; resolves at `total`. */
async function readAll(
  stream: string,
  prefix: string,
  total: number,
  latency = false,
): Promise<Reading> {
  const fleet = await FleetClient.connect({ servers: server.url }, { stream, prefix })
  const reading: Reading = { frames: 0, lost: 0, duplicated: 0, latenciesMs: [] }
  fleet.on('gap', (gap) => {
    reading.lost += gap.count
  })
  const next = new Map<string, number>()
  for await (const stored of fleet.batches({ from: 'all' })) {
    const reader = new FrameReader(stored.batch)
    const key = `${stored.edgeId}/${stored.channel}`
    const expected = next.get(key) ?? 0
    if (stored.batch.firstSeq < expected) reading.duplicated += expected - stored.batch.firstSeq
    next.set(key, stored.batch.firstSeq + stored.batch.count)
    const nowNs = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6))
    while (reader.next()) {
      reading.frames++
      if (latency) reading.latenciesMs.push(Number(nowNs - reader.timestampNs()) / 1e6)
    }
    if (reading.frames >= total) break
  }
  await fleet.close()
  return reading
}

/** N edges stream `perEdge` frames each as fast as the gateway takes them. */
async function e2e(edges: number, perEdge: number) {
  const { subjects, stream } = await freshStream()
  const { gateway, port } = await GatewayProcess.start(stream, subjects.prefix)
  const before = await gateway.stats()
  const total = edges * perEdge
  const started = performance.now()
  const reading = readAll(stream, subjects.prefix, total)
  const connected = await Promise.all(
    Array.from({ length: edges }, (_, i) =>
      ScriptedEdge.start({ port, host: '127.0.0.1' }, { edgeId: `e${i}` }),
    ),
  )
  await Promise.all(connected.map((edge) => edge.stream(0, 0, perEdge, BATCH)))
  const read = await reading
  const seconds = (performance.now() - started) / 1000
  const after = await gateway.stats()
  for (const edge of connected) edge.destroy()
  await gateway.stop()
  return {
    fps: read.frames / seconds,
    cpuMsPer1k: ((after.cpuMs - before.cpuMs) / read.frames) * 1000,
    rssMb: after.peakRssMb,
    lost: read.lost + (total - read.frames),
    duplicated: read.duplicated,
  }
}

/** One edge at `rate` frames/s for `seconds`, in batches every 10 ms: p99 frame time → reader. */
async function latencyAt(rate: number, seconds: number): Promise<number> {
  const { subjects, stream } = await freshStream()
  const { gateway, port } = await GatewayProcess.start(stream, subjects.prefix)
  const edge = await ScriptedEdge.start({ port, host: '127.0.0.1' }, { edgeId: 'lat' })
  const perTick = Math.max(1, Math.round(rate / 100))
  const total = perTick * 100 * seconds
  const reading = readAll(stream, subjects.prefix, total, true)
  const started = performance.now()
  for (let seq = 0, tick = 0; seq < total; seq += perTick, tick++) {
    const wait = started + tick * 10 - performance.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    const nowNs = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6))
    edge.sendFrames(
      0,
      seq,
      Array.from({ length: perTick }, (_, i) => ({
        id: 0x100,
        data: [i & 0xff],
        timestampNs: nowNs,
      })),
    )
  }
  const read = await reading
  edge.destroy()
  await gateway.stop()
  const sorted = read.latenciesMs.sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length * 0.99)] ?? Number.NaN
}

let lost = 0
let duplicated = 0
for (const [edges, key] of [
  [1, 'e2eFps1'],
  [8, 'e2eFps8'],
  [50, 'e2eFps50'],
] as const) {
  const run = await e2e(edges, Math.floor(FRAMES / edges))
  console.log(
    `${String(edges).padStart(2)} edges → gateway → JetStream → reader: ${Math.round(run.fps).toLocaleString()} frames/s, gateway ${run.cpuMsPer1k.toFixed(2)} CPU ms per 1,000 frames, peak RSS ${run.rssMb.toFixed(1)} MB, lost ${run.lost}, duplicated ${run.duplicated}`,
  )
  result[key] = Math.round(run.fps)
  lost += run.lost
  duplicated += run.duplicated
  if (edges === 8) {
    result['gatewayCpuMsPer1k'] = Number(run.cpuMsPer1k.toFixed(3))
    result['gatewayRssMb'] = Number(run.rssMb.toFixed(1))
    result['gatewayEfficiency'] = Number((run.fps / (result['rawFps8'] as number)).toFixed(3))
  }
}
for (const [rate, key] of [
  [1000, 'p99Ms1k'],
  [10_000, 'p99Ms10k'],
] as const) {
  const p99 = await latencyAt(rate, 5)
  console.log(
    `latency at ${rate.toLocaleString()} frames/s, edge → reader: p99 ${p99.toFixed(2)} ms`,
  )
  result[key] = Number(p99.toFixed(3))
}
result['lost'] = lost
result['duplicated'] = duplicated
await nc.close()
await server.remove()
console.log(JSON.stringify(result))
