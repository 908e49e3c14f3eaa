// Fleet benchmark: a real nats-server on loopback, batches of 100 classic frames.
//  - raw:        the NATS client alone, one publisher loop per channel, each publish with its
//                message id and the subject's expected last sequence (chained), as the
//                fastest exactly-once writer could do it
//  - publisher:  the same batches through ChannelPublisher (resume, copy, headers, checks)
//  - consumer:   everything stored read back in order with FleetClient.batches
// for 1, 8 and 50 channels. Ratios compare figures of this one run. Last line: one JSON object.
// Usage: node bench/fleet.bench.ts [--frames N]   (build first: pnpm build)
import { parseArgs } from 'node:util'
import { type DataBatch, FrameReader } from '@canbridge/protocol'
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
await nc.close()
await server.remove()
console.log(JSON.stringify(result))
