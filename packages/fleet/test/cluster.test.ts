// A replicated stream on a real three-node NATS cluster (loopback): batches stored through
// one node survive that node's restart, and a reader connected to another node gets every
// frame once, in order.
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { ChannelPublisher } from '../src/channel-publisher.ts'
import { FleetClient } from '../src/fleet-client.ts'
import { ensureStream } from '../src/stream.ts'
import { FleetSubjects } from '../src/subjects.ts'
import { NatsServer } from '../src/testing/nats-server.ts'
import { counterBatch, seqOfPayload } from './batches.ts'

let nodes: NatsServer[] = []
let nc: NatsConnection

beforeAll(async () => {
  nodes = await NatsServer.startCluster(3)
  nc = await connect({
    servers: nodes.map((node) => node.url),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 100,
  })
})

afterAll(async () => {
  await nc?.close()
  await Promise.all(nodes.map((node) => node.remove()))
})

/** The cluster elects its JetStream meta leader on its own time: retry until it answers. */
async function untilReady<T>(attempt: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await attempt()
    } catch (error) {
      const text = String(error)
      if (!/unavailable|no responders|timeout|leader|insufficient/i.test(text)) throw error
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
}

it('keeps every frame of a replicated stream through the restart of a node', async () => {
  const subjects = new FleetSubjects('cl')
  const jsm = await jetstreamManager(nc)
  const stream = await untilReady(() => ensureStream(jsm, subjects, { name: 'CL', replicas: 3 }))
  expect((await jsm.streams.info(stream)).config.num_replicas).toBe(3)
  const publisher = new ChannelPublisher({
    js: jetstream(nc),
    jsm,
    stream,
    subject: subjects.raw('veh-1', 'can0'),
    edgeId: 'veh-1',
    channel: 'can0',
    gateway: 'gw-a',
    publishTimeoutMs: 1000,
  })
  await untilReady(() => publisher.resume())
  for (let seq = 0; seq < 500; seq += 50) await publisher.store(counterBatch(seq, 50), 'i1')
  // one node goes away and comes back while the writer goes on
  await nodes[0]!.stop()
  for (let seq = 500; seq < 1000; seq += 50) await publisher.store(counterBatch(seq, 50), 'i1')
  await nodes[0]!.restart()
  for (let seq = 1000; seq < 1500; seq += 50) await publisher.store(counterBatch(seq, 50), 'i1')

  const reader = await FleetClient.connect({ servers: nodes[2]!.url }, { stream, prefix: 'cl' })
  const seqs: number[] = []
  for await (const frame of reader.frames({ from: 'all' })) {
    expect(seqOfPayload(frame.data)).toBe(frame.seq)
    seqs.push(frame.seq)
    if (seqs.length === 1500) break
  }
  await reader.close()
  expect(seqs).toEqual(Array.from({ length: 1500 }, (_, i) => i))
})
