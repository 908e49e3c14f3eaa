// The JetStream half of the fleet against a real nats-server (started here, on loopback):
// storing batches exactly once across writers, restarts and outages, and reading them back.
import { jetstream, jetstreamManager, RetentionPolicy } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ChannelPublisher } from '../src/channel-publisher.ts'
import { FLEET_ERROR, FleetError } from '../src/errors.ts'
import { FleetClient } from '../src/fleet-client.ts'
import { ensureStream } from '../src/stream.ts'
import { FleetSubjects } from '../src/subjects.ts'
import { NatsServer } from '../src/testing/nats-server.ts'
import { counterBatch, seqOfPayload } from './batches.ts'

let server: NatsServer
let nc: NatsConnection
let streamNumber = 0
let stream = ''

beforeAll(async () => {
  server = await NatsServer.start()
  nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 })
})

afterAll(async () => {
  await nc?.close()
  await server?.remove()
})

/** A fresh stream per test, so tests share the server and nothing else. */
async function freshStream(prefix = `t${++streamNumber}`): Promise<FleetSubjects> {
  const own = new FleetSubjects(prefix)
  stream = `S${streamNumber}`
  await ensureStream(await jetstreamManager(nc), own, { name: stream })
  return own
}

async function publisher(own: FleetSubjects, gateway: string, edgeId = 'pi-1', channel = 'can0') {
  return new ChannelPublisher({
    js: jetstream(nc),
    jsm: await jetstreamManager(nc),
    stream,
    subject: own.raw(edgeId, channel),
    edgeId,
    channel,
    gateway,
    publishTimeoutMs: 1000,
  })
}

/** Every frame sequence stored for one channel, in stream order (read with a raw consumer). */
async function storedSequences(
  own: FleetSubjects,
  edgeId = 'pi-1',
  channel = 'can0',
): Promise<number[]> {
  const jsm = await jetstreamManager(nc)
  const info = await jsm.streams.info(stream)
  const seqs: number[] = []
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const message = await jsm.streams.getMessage(stream, { seq })
    if (message?.subject !== own.raw(edgeId, channel)) continue
    // decode the body by hand from the payload counters (not through the code under test)
    const body = message.data
    const count = body[2]! | (body[3]! << 8)
    let offset = 12
    for (let i = 0; i < count; i++) {
      const len = body[offset + 13]!
      seqs.push(seqOfPayload(body.subarray(offset + 14, offset + 14 + len)))
      offset += 14 + len
    }
  }
  return seqs
}

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from }, (_, i) => from + i)

describe('ChannelPublisher', () => {
  afterEach(async () => {
    if (!server.running) await server.restart()
  })

  it('stores batches in order and a new gateway resumes from the stream, not from memory', async () => {
    const own = await freshStream()
    const first = await publisher(own, 'gw-a')
    expect(await first.resume()).toBeNull()
    for (let seq = 0; seq < 300; seq += 100) await first.store(counterBatch(seq, 100), 'inst-1')
    // a second gateway (or this one restarted) learns where the channel stands
    const second = await publisher(own, 'gw-b')
    expect(await second.resume()).toBe(300)
    await second.store(counterBatch(300, 50), 'inst-1')
    expect(await storedSequences(own)).toEqual(range(0, 350))
  })

  it('stores each frame once when an edge resends what was stored, whole or in part', async () => {
    const own = await freshStream()
    const gateway = await publisher(own, 'gw-a')
    await gateway.resume()
    await gateway.store(counterBatch(0, 100), 'inst-1')
    await gateway.store(counterBatch(0, 100), 'inst-1') // the same batch again
    await gateway.store(counterBatch(50, 100), 'inst-1') // half old, half new
    expect(await storedSequences(own)).toEqual(range(0, 150))
  })

  it('stores batches that wait together as one message, and a gap between them as a boundary', async () => {
    const own = await freshStream()
    const gateway = await publisher(own, 'gw-a')
    await gateway.resume()
    // stored without waiting for each other: they are all waiting when the first publish starts
    const stores = [0, 10, 20, 30, 50, 60].map((seq) =>
      gateway.store(counterBatch(seq, 10), 'inst-1'),
    )
    await Promise.all(stores)
    expect(await storedSequences(own)).toEqual([...range(0, 40), ...range(50, 70)])
    const info = await (await jetstreamManager(nc)).streams.info(stream)
    // 0..39 as one message, then 50..69 after the gap
    expect(info.state.messages).toBe(2)
  })

  it('makes a second writer of the same channel fail instead of interleaving', async () => {
    const own = await freshStream()
    const a = await publisher(own, 'gw-a')
    const b = await publisher(own, 'gw-b')
    await a.resume()
    await b.resume()
    await a.store(counterBatch(0, 50), 'inst-1')
    // b has not seen a's batch: its expectation fails, it re-reads, and refuses to write 0..79
    const refused = await b.store(counterBatch(0, 80), 'inst-1').catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(FleetError)
    expect((refused as FleetError).code).toBe(FLEET_ERROR.PUBLISH_CONFLICT)
    expect((refused as Error).message).toMatch(/through sequence 49/)
    // a batch b now holds entirely stored is simply confirmed
    await b.store(counterBatch(0, 50), 'inst-1')
    expect(await storedSequences(own)).toEqual(range(0, 50))
  })

  it('keeps a batch through a NATS restart and stores it once', async () => {
    const own = await freshStream()
    const gateway = await publisher(own, 'gw-a')
    await gateway.resume()
    await gateway.store(counterBatch(0, 10), 'inst-1')
    await server.stop()
    const pending = gateway.store(counterBatch(10, 10), 'inst-1')
    let settled = false
    pending.then(
      () => {
        settled = true
      },
      () => {
        settled = true
      },
    )
    // not stored while the server is away, so not confirmed either
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(settled).toBe(false)
    await server.restart()
    await pending
    expect(gateway.retries).toBeGreaterThan(0)
    expect(await storedSequences(own)).toEqual(range(0, 20))
  })
})

describe('ensureStream', () => {
  it('names what is wrong with an existing stream', async () => {
    const jsm = await jetstreamManager(nc)
    const own = new FleetSubjects('bad1')
    await jsm.streams.add({
      name: 'BAD1',
      subjects: ['bad1.raw.>'],
      retention: RetentionPolicy.Workqueue,
    })
    const error = await ensureStream(jsm, own, { name: 'BAD1' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(FleetError)
    expect((error as FleetError).code).toBe(FLEET_ERROR.STREAM_CONFIG)
    expect((error as Error).message).toMatch(/do not capture bad1\.\*\.\*\.\*/)
    expect((error as Error).message).toMatch(/retention is workqueue/)
  })
})

describe('FleetClient', () => {
  it('says which address did not answer', async () => {
    const error = await FleetClient.connect({
      servers: '127.0.0.1:1',
      maxReconnectAttempts: 0,
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(FleetError)
    expect((error as FleetError).code).toBe(FLEET_ERROR.NATS_UNREACHABLE)
    expect((error as Error).message).toMatch(/127\.0\.0\.1:1/)
  })

  it('reads every frame once and in order, with gaps and the drops that explain them', async () => {
    const own = await freshStream()
    const gateway = await publisher(own, 'gw-a')
    await gateway.resume()
    await gateway.store(counterBatch(0, 10), 'inst-1')
    // the edge reported 10..14 dropped; 15..19 never arrived and were never reported
    nc.publish(
      own.of('drops', 'pi-1', 'can0'),
      JSON.stringify({ fromSeq: 10, count: 5, reason: 'ring-full' }),
    )
    await nc.flush()
    await gateway.store(counterBatch(20, 10), 'inst-1')
    const fleet = await FleetClient.connect({ servers: server.url }, { stream, prefix: own.prefix })
    const gaps: unknown[] = []
    const drops: unknown[] = []
    fleet.on('gap', (gap) => gaps.push(gap))
    fleet.on('drop', (drop) => drops.push(drop))
    const seqs: number[] = []
    for await (const frame of fleet.frames({ edge: 'pi-*', from: 'all' })) {
      expect(frame.seq).toBe(seqOfPayload(frame.data))
      expect(frame.channel).toBe('pi-1/can0')
      expect(frame.edgeId).toBe('pi-1')
      seqs.push(frame.seq)
      if (seqs.length === 20) break
    }
    await fleet.close()
    expect(seqs).toEqual([...range(0, 10), ...range(20, 30)])
    expect(drops).toEqual([
      { edgeId: 'pi-1', channel: 'can0', fromSeq: 10, count: 5, reason: 'ring-full' },
    ])
    expect(gaps).toEqual([{ edgeId: 'pi-1', channel: 'can0', fromSeq: 10, count: 10, reported: 5 }])
  })

  it('tells a reader that asked for data retention removed, and goes on with what is there', async () => {
    const own = await freshStream()
    const gateway = await publisher(own, 'gw-a')
    await gateway.resume()
    for (let seq = 0; seq < 50; seq += 10) await gateway.store(counterBatch(seq, 10), 'inst-1')
    const jsm = await jetstreamManager(nc)
    await jsm.streams.purge(stream, { keep: 2 }) // as max_age or max_bytes would
    const fleet = await FleetClient.connect({ servers: server.url }, { stream, prefix: own.prefix })
    const retention: unknown[] = []
    fleet.on('retention', (event) => retention.push(event))
    const seqs: number[] = []
    for await (const frame of fleet.frames({ from: 1 })) {
      seqs.push(frame.seq)
      if (seqs.length === 20) break
    }
    await fleet.close()
    expect(retention).toEqual([{ requested: 1, firstAvailable: 4 }])
    expect(seqs).toEqual(range(30, 50))
  })

  it('shares a durable consumer between two readers: every batch handled exactly once', async () => {
    const own = await freshStream()
    const gateway = await publisher(own, 'gw-a')
    await gateway.resume()
    for (let seq = 0; seq < 2000; seq += 20) await gateway.store(counterBatch(seq, 20), 'inst-1')
    const readers = await Promise.all(
      [0, 1].map(() =>
        FleetClient.connect({ servers: server.url }, { stream, prefix: own.prefix }),
      ),
    )
    const handled: number[][] = [[], []]
    let total = 0
    let allHandled: () => void = () => {}
    const done = new Promise<void>((resolve) => {
      allHandled = resolve
    })
    const runs = readers.map((reader, i) =>
      reader.consume({ durable: 'sink', from: 'all', maxAckPending: 8 }, async (stored) => {
        handled[i]!.push(stored.batch.firstSeq)
        // the second reader is slow: the first takes more of the work
        if (i === 1) await new Promise((resolve) => setTimeout(resolve, 5))
        if (++total === 100) allHandled()
      }),
    )
    await done
    await Promise.all(readers.map((reader) => reader.close()))
    await Promise.all(runs)
    const all = [...handled[0]!, ...handled[1]!].sort((a, b) => a - b)
    expect(all).toEqual(range(0, 100).map((i) => i * 20))
    expect(handled[0]!.length).toBeGreaterThan(0)
    expect(handled[1]!.length).toBeGreaterThan(0)
  })
})
