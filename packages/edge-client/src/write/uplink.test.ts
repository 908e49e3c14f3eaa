// Uplink in-process: real rings and ChannelSenders, links made by a scripted OpenLink that
// the test answers as the server would (WELCOME, ACK, closing), reconnect timers and the
// pump under the test's control. No socket, no worker thread.
import type { Welcome } from '@canbridge/protocol'
import { describe, expect, it, vi } from 'vitest'
import { manualTimers } from '../../test/helpers/manual-timers.ts'
import { ScriptedLink } from '../../test/helpers/scripted-link.ts'
import type { ServerAddress } from '../config.ts'
import type { OpenLink } from '../link/connection.ts'
import { PLAIN_LINK } from '../link/security/link-security.ts'
import type { WriteToPoll } from '../messages.ts'
import { createDoorbell, createRing, MIN_RING_BYTES, RingConsumer, RingProducer } from '../ring.ts'
import { ChannelSender } from './channel-sender.ts'
import { DropReporter } from './drop-reporter.ts'
import { EncoderPool } from './encoder-pool.ts'
import { Uplink } from './uplink.ts'

const SERVERS: ServerAddress[] = [
  { kind: 'tcp', host: 'a.lab', port: 29536 },
  { kind: 'tcp', host: 'b.lab', port: 29536 },
]
const ACCOUNTING = { kernelDrops: true, interfaceDrops: true, fdFlags: false, kernelEcho: false }

function welcome(...nextSeqs: (number | null)[]): Welcome {
  return {
    serverId: 'test',
    heartbeatMs: 1000,
    capabilities: ['own-messages'],
    channels: nextSeqs.map((nextSeq, i) => ({ name: `can${i}`, nextSeq })),
  }
}

/** Two channels over real rings; every link the Uplink opens is a ScriptedLink kept here. */
function setup() {
  const channels = [
    { name: 'can0', fd: false, ...ACCOUNTING },
    { name: 'can1', fd: true, ...ACCOUNTING },
  ]
  const deferred: (() => void)[] = []
  const { timers: fakeTimers, set: timers } = manualTimers()
  const links: ScriptedLink[] = []
  const opened: ServerAddress[] = []
  const openLink: OpenLink = (address, hello, handlers) => {
    opened.push(address)
    const link = new ScriptedLink({ hello, handlers })
    links.push(link)
    return link
  }
  const toPoll: WriteToPoll[] = []
  const logs: string[] = []
  const drops = new DropReporter({ channels, log: () => {} })
  const senders: ChannelSender[] = []
  const encoders = new EncoderPool(() => uplink.schedulePump())
  const uplink = new Uplink({
    settings: {
      servers: SERVERS,
      edgeId: 'pi-test',
      instanceId: 'i-1',
      software: 'test',
      channels,
      listenOnly: false,
      security: PLAIN_LINK,
      handshakeTimeoutMs: 1000,
      reconnectMinMs: 100,
      reconnectMaxMs: 1000,
    },
    senders,
    drops,
    encoders,
    toPoll: (message) => toPoll.push(message),
    flushed: () => {},
    openLink,
    log: (_level, msg) => logs.push(msg),
    timers: fakeTimers,
    random: () => 0,
    defer: (run) => deferred.push(run),
  })
  const producers = channels.map((_, index) => {
    const ring = createRing(MIN_RING_BYTES)
    senders.push(
      new ChannelSender({
        index,
        name: `can${index}`,
        fd: index === 1,
        consumer: new RingConsumer(ring, 0),
        spool: null,
        highWater: 0.5,
        dropPolicy: 'drop-newest',
        drops,
        encoders,
        wake: () => uplink.schedulePump(),
        log: (_level, msg) => logs.push(msg),
      }),
    )
    return new RingProducer(ring, createDoorbell())
  })
  const payload = new Uint8Array(8)
  let written = [0, 0]
  const produce = (channel: number, count: number) => {
    for (let i = 0; i < count; i++) {
      const n = written[channel]!++
      new DataView(payload.buffer).setUint32(0, n, true)
      producers[channel]!.write(0, n, n, 0, 8, payload, 0)
    }
    producers[channel]!.publish()
  }
  /** Runs the deferred pumps, the way setImmediate would, with the link flushing at once. */
  const settle = () => {
    for (let i = 0; i < 100 && deferred.length > 0; i++) {
      deferred.shift()!()
      for (const link of links) if (!link.closed) link.flush()
    }
  }
  /** Frames each channel received on a link, in order. */
  const received = (link: ScriptedLink, channel: number) =>
    link.batches.filter((b) => b.channel === channel).flatMap((b) => b.frames.map((f) => f.seq))
  written = [0, 0]
  return { uplink, senders, links, opened, timers, toPoll, logs, produce, settle, received }
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)

/** Connected, welcomed at 0 on both channels, and `frames` of channel 0 sent: the link. */
function streaming(t: ReturnType<typeof setup>, frames: number): ScriptedLink {
  t.produce(0, frames)
  t.uplink.connect()
  const link = t.links[0]!
  link.welcome(welcome(0, 0))
  t.settle()
  expect(t.received(link, 0)).toEqual(range(0, frames))
  return link
}

describe('Uplink', () => {
  it('says HELLO with each channel and what the edge can do, and sends nothing before WELCOME', () => {
    const t = setup()
    t.produce(0, 10)
    t.uplink.connect()
    const [link] = t.links
    expect(t.opened).toEqual([SERVERS[0]])
    expect(link!.hello).toMatchObject({
      edgeId: 'pi-test',
      channels: [
        { name: 'can0', fd: false, nextSeq: 0 },
        { name: 'can1', fd: true, nextSeq: 0 },
      ],
      capabilities: [
        'fd',
        'transmit',
        'periodic',
        'filters',
        'own-messages',
        'kernel-drops',
        'interface-drops',
      ],
    })
    t.uplink.pump()
    expect(link!.batches).toEqual([])
    expect(t.uplink.connected).toBe(false)
  })

  it('on WELCOME resumes every channel where it says, and sends each frame once', () => {
    const t = setup()
    t.produce(0, 100)
    t.produce(1, 50)
    t.uplink.connect()
    const link = t.links[0]!
    link.welcome(welcome(40, null))
    t.settle()
    expect(t.uplink.connected).toBe(true)
    expect(t.toPoll).toContainEqual({ type: 'link', connected: true, ownMessages: true })
    // a fresh edge behind the server continues at its number: the 100 frames become 40..139
    expect(t.logs).toContain('server is ahead of this edge; continuing at its sequence')
    expect(t.received(link, 0)).toEqual(range(40, 140))
    expect(t.received(link, 1)).toEqual(range(0, 50))
  })

  it('a lost link: reconnects to the next server after the backoff and resumes from its WELCOME, each frame once', () => {
    const t = setup()
    const first = streaming(t, 300)
    first.receive({ type: 'ACK', body: { channel: 0, nextSeq: 100 } })
    first.destroy('connection closed by the server', 'closed')
    expect(t.toPoll.at(-1)).toEqual({ type: 'link', connected: false, ownMessages: false })
    expect(t.logs).toContain('server connection lost; moving to the next server')
    // the reconnect waits for its timer: nothing opened before it fires
    expect(t.links).toHaveLength(1)
    const timer = t.timers.at(-1)!
    expect(timer.delayMs).toBe(50) // half the first ceiling with no jitter
    t.produce(0, 50)
    timer.run()
    expect(t.opened).toEqual([SERVERS[0], SERVERS[1]])
    const second = t.links[1]!
    // HELLO offers the oldest frame still held: the ACK freed 0..99
    expect(second.hello!.channels[0]!.nextSeq).toBe(100)
    second.welcome(welcome(250, 0))
    t.settle()
    expect(t.received(second, 0)).toEqual(range(250, 350))
    expect(t.uplink.reconnector.reconnects).toBe(1)
    expect(t.uplink.reconnector.failovers).toBe(1)
  })

  it('abandoned (its side failed, a successor takes the rings): the link is cut, and no pump, reconnect or toPoll follows', () => {
    const t = setup()
    const link = streaming(t, 100)
    const told = t.toPoll.length
    // a pump already queued, and frames that arrive after
    t.uplink.schedulePump()
    t.produce(0, 50)
    t.uplink.abandon('the sending side is restarting')
    // a pump's upkeep moves ring frames to the spool: the successor's rings now
    const upkeep = t.senders.map((sender) => vi.spyOn(sender, 'maintain'))
    expect(link.closed).toBe(true)
    expect(link.closedBecause).toBe('the sending side is restarting')
    t.settle()
    t.uplink.pump()
    // the successor sends these: this uplink took none of them from the ring
    expect(t.received(link, 0)).toEqual(range(0, 100))
    for (const spy of upkeep) expect(spy).not.toHaveBeenCalled()
    expect(t.links).toHaveLength(1)
    expect(t.timers.filter((timer) => !timer.cleared)).toEqual([])
    expect(t.toPoll.length).toBe(told)
    expect(t.uplink.stopped).toBe(true)
  })

  it('a late close of an old link changes nothing on the new one', () => {
    const t = setup()
    t.uplink.connect()
    const first = t.links[0]!
    first.destroy('no connection within 1000 ms', 'socket')
    t.timers.at(-1)!.run()
    const second = t.links[1]!
    second.welcome(welcome(0, 0))
    const before = t.toPoll.length
    first.lateClose('late')
    expect(t.toPoll.length).toBe(before)
    expect(t.timers).toHaveLength(1) // no second reconnect
    expect(t.uplink.connected).toBe(true)
    expect(t.uplink.link).toBe(second)
  })

  it('an ACK for a channel that does not exist closes the link as a protocol error', () => {
    const t = setup()
    t.uplink.connect()
    const link = t.links[0]!
    link.welcome(welcome(0, 0))
    link.receive({ type: 'ACK', body: { channel: 7, nextSeq: 1 } })
    expect(link.controls).toContainEqual({
      type: 'ERROR',
      body: { code: 'protocol', message: 'ACK for unknown channel 7', fatal: true },
    })
    expect(link.closedBecause).toBe('ACK for unknown channel 7')
  })

  it('a bus state other than active is sent now and again after a reconnect', () => {
    const t = setup()
    t.uplink.busState(1, 'passive', 1234) // before any link: kept
    t.uplink.connect()
    const first = t.links[0]!
    first.welcome(welcome(0, 0))
    expect(first.controls).toContainEqual({
      type: 'BUS_STATE',
      body: { channel: 1, state: 'passive', timeMs: 1234 },
    })
    first.destroy('gone', 'closed')
    t.timers.at(-1)!.run()
    const second = t.links[1]!
    second.welcome(welcome(0, 0))
    expect(second.controls.filter((c) => c.type === 'BUS_STATE')).toHaveLength(1)
  })

  it('the shutdown flush ends with the link once everything is acknowledged; no reconnect after', async () => {
    const t = setup()
    t.produce(0, 20)
    t.uplink.connect()
    const link = t.links[0]!
    link.welcome(welcome(0, 0))
    t.settle()
    t.uplink.startFlush(5000)
    expect(t.uplink.stopped).toBe(false)
    link.receive({ type: 'ACK', body: { channel: 0, nextSeq: 20 } })
    await Promise.resolve()
    await new Promise((resolve) => setImmediate(resolve))
    expect(t.uplink.stopped).toBe(true)
    expect(link.closedBecause).toBe('shutdown')
    // the deadline was cleared, and the link's close scheduled no reconnect
    expect(t.timers.map((timer) => [timer.delayMs, timer.cleared])).toEqual([[5000, true]])
  })
})
