// The pieces of a fleet for the end-to-end tests, all real: a nats-server, `canbridge gateway`
// processes, canbridge-edge processes streaming their virtual counter channel (frame n carries
// n, little-endian, in its first bytes) that fail over between the gateways they are given.
import { CliProcess } from '@canbridge/cli/testing'
import { DIST_MAIN, EdgeProcess } from '@canbridge/edge-client/testing'
import { Gateway } from '@canbridge/fleet'
import { NatsServer } from '@canbridge/fleet/testing'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'

/** A nats-server and a gateway in this process storing into `stream`, both on loopback. */
export async function startFleet(
  stream: string,
): Promise<{ nats: NatsServer; gateway: Gateway; port: number; stop(): Promise<void> }> {
  const nats = await NatsServer.start()
  const gateway = await Gateway.start({
    port: 0,
    host: '127.0.0.1',
    nats: { servers: nats.url },
    stream: { name: stream },
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  }).catch(async (error: unknown) => {
    await nats.remove()
    throw error
  })
  return {
    nats,
    gateway,
    port: (gateway.address as { port: number }).port,
    stop: async () => {
      await gateway.close()
      await nats.remove()
    },
  }
}

/** A gateway process; `port()` is where it listens. */
export function startGateway(
  natsUrl: string,
  stream: string,
  id: string,
  prefix = 'can',
): CliProcess {
  return new CliProcess([
    'gateway',
    '--port',
    '0',
    '--nats',
    natsUrl,
    '--stream',
    stream,
    '--prefix',
    prefix,
    '--gateway-id',
    id,
  ])
}

/**
 * An edge streaming `count` counter frames at `rate` frames/s on channel `virtual:v`, to the
 * gateway on `port`, or to several in that order (failing over between them).
 */
export function startEdge(
  port: number | readonly number[],
  edgeId: string,
  rate: number,
  count: number,
  extra: readonly string[] = [],
): EdgeProcess {
  return new EdgeProcess(
    [
      ...extra,
      '--server',
      (typeof port === 'number' ? [port] : port).map((p) => `127.0.0.1:${p}`).join(','),
      '--channel',
      `virtual:v?rate=${rate}&pattern=counter&count=${count}`,
      '--edge-id',
      edgeId,
    ],
    {},
    DIST_MAIN,
  )
}

/**
 * What the stream holds, read message by message with the NATS client alone and decoded by
 * hand from the payload counters (not through the code under test): per subject, every frame
 * number in stream order.
 */
export async function streamContents(
  natsUrl: string,
  stream: string,
): Promise<Map<string, number[]>> {
  const nc: NatsConnection = await connect({ servers: natsUrl })
  try {
    const jsm = await jetstreamManager(nc)
    const info = await jsm.streams.info(stream)
    const bySubject = new Map<string, number[]>()
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const message = await jsm.streams.getMessage(stream, { seq })
      if (message === null || !message.subject.includes('.raw.')) continue
      const body = message.data
      const view = new DataView(body.buffer, body.byteOffset, body.byteLength)
      const count = view.getUint16(2, true)
      const frames = bySubject.get(message.subject) ?? []
      let offset = 12
      for (let i = 0; i < count; i++) {
        const len = body[offset + 13]!
        frames.push(view.getUint32(offset + 14, true)) // the record's data: the frame number
        offset += 14 + len
      }
      bySubject.set(message.subject, frames)
    }
    return bySubject
  } finally {
    await nc.close()
  }
}

/** How a channel's stored frame numbers compare with 0..count-1. */
export function audit(
  frames: readonly number[],
  count: number,
): { missing: number; duplicated: number; reordered: number } {
  const seen = new Set<number>()
  let duplicated = 0
  let reordered = 0
  for (let i = 0; i < frames.length; i++) {
    const n = frames[i]!
    if (seen.has(n)) duplicated++
    seen.add(n)
    if (i > 0 && n < frames[i - 1]!) reordered++
  }
  let missing = 0
  for (let n = 0; n < count; n++) if (!seen.has(n)) missing++
  return { missing, duplicated, reordered }
}
