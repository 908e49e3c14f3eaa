// ChannelSender in-process: a real ring (RingProducer/RingConsumer over a SharedArrayBuffer),
// a real Spool in a temp directory, a real DropReporter, and a scripted Link that records
// every DATA batch and lets the test decide when the "socket" has flushed them
// (test/helpers/scripted-link.ts).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Drops, MAX_BATCH_FRAMES, RECORD_HEADER_BYTES } from '@canbridge/protocol'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ScriptedLink } from '../../test/helpers/scripted-link.ts'
import type { DropPolicy } from '../config.ts'
import {
  createDoorbell,
  createRing,
  MIN_RING_BYTES,
  RING_COUNTER,
  RingConsumer,
  RingProducer,
} from '../ring.ts'
import { Spool } from '../spool/index.ts'
import { ChannelSender, DROP_MARK, DROP_TO, SPOOL_RETRY_MIN_MS } from './channel-sender.ts'
import { DropReporter } from './drop-reporter.ts'
import { EncoderPool } from './encoder-pool.ts'

const payload = new Uint8Array(64)

/** Frame `n`: 8 bytes whose first 4 hold n, so that a frame received shows which it was. */
function writeFrame(producer: RingProducer, n: number): boolean {
  new DataView(payload.buffer).setUint32(0, n, true)
  return producer.write(1_700_000_000, n, n & 0x7ff, 0, 8, payload, 0)
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)

let root: string
const spools: Spool[] = []

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'channel-sender-'))
})
afterEach(async () => {
  for (const spool of spools.splice(0)) await spool.close()
  await rm(root, { recursive: true, force: true })
})

interface SetupOptions {
  spool?: { maxBytes: number; segmentBytes?: number } | undefined
  dropPolicy?: DropPolicy
  highWater?: number
  ringBytes?: number
}

/** One channel over a real ring (and spool), with a DropReporter connected to a recorder. */
async function setup(options: SetupOptions = {}) {
  const ring = createRing(options.ringBytes ?? MIN_RING_BYTES)
  const producer = new RingProducer(ring, createDoorbell())
  let spool: Spool | null = null
  if (options.spool) {
    spool = await Spool.open(join(root, 'can0'), options.spool)
    spools.push(spool)
  }
  const consumer = new RingConsumer(ring, spool?.nextSeq ?? 0)
  const dropped: Drops[] = []
  const drops = new DropReporter({ channels: [{ name: 'can0' }], log: () => {} })
  drops.connected({ send: (report) => dropped.push({ ...report }) })
  const logs: { level: string; msg: string }[] = []
  let wakes = 0
  const clock = { now: 0 }
  const sender = new ChannelSender({
    index: 0,
    name: 'can0',
    fd: false,
    consumer,
    spool,
    highWater: options.highWater ?? 0.5,
    dropPolicy: options.dropPolicy ?? 'drop-newest',
    drops,
    encoders: new EncoderPool(() => wakes++),
    wake: () => wakes++,
    log: (level, msg) => logs.push({ level, msg }),
    now: () => clock.now,
  })
  let written = 0
  /** Writes `count` frames numbered on from the last; returns how many the ring took. */
  const produce = (count: number): number => {
    let took = 0
    for (let i = 0; i < count; i++) if (writeFrame(producer, written++)) took++
    producer.publish()
    return took
  }
  /** Fills the ring until its fill passes `fraction` of its capacity. */
  const fillPast = (fraction: number): void => {
    while (consumer.usedBytes() <= fraction * consumer.capacity) produce(1)
  }
  /** What the worker's pump does, repeated until nothing moves: sends, level, lease. */
  const pump = async (link?: ScriptedLink): Promise<void> => {
    for (;;) {
      const before = link?.batches.length ?? 0
      while (sender.sendOne()) link?.flush()
      sender.maintain()
      await sender.idle()
      link?.flush()
      if ((link?.batches.length ?? 0) === before && !sender.sendOne()) {
        await sender.idle()
        if ((link?.batches.length ?? 0) === before) return
      }
    }
  }
  return {
    producer,
    consumer,
    spool,
    sender,
    dropped,
    logs,
    clock,
    produce,
    fillPast,
    pump,
    get written() {
      return written
    },
    get wakes() {
      return wakes
    },
  }
}

describe('ChannelSender', () => {
  it('sends the ring as DATA batches in sequence order, each frame once', async () => {
    const total = MAX_BATCH_FRAMES * 2 + 100 // more than two batches' worth
    const t = await setup({ ringBytes: 1 << 20 })
    expect(t.produce(total)).toBe(total)
    const link = new ScriptedLink()
    t.sender.resume(link, 0)
    await t.pump(link)
    expect(link.seqs).toEqual(range(0, total))
    expect(link.batches.every((b) => b.channel === 0)).toBe(true)
    expect(link.batches.flatMap((b) => b.frames.map((f) => f.n))).toEqual(range(0, total))
    expect(link.batches.map((b) => b.frames.length)).toEqual([
      MAX_BATCH_FRAMES,
      MAX_BATCH_FRAMES,
      100,
    ])
    for (const b of link.batches) expect(b.frames[0]!.seq).toBe(b.firstSeq)
    expect(t.consumer.counters[RING_COUNTER.FRAMES_SENT]).toBe(total)
    expect(t.dropped).toEqual([])
  })

  it('waits while every encoder is out with the link, and goes on once the link flushed', async () => {
    const t = await setup()
    const link = new ScriptedLink()
    t.sender.resume(link, 0)
    let sent = 0
    for (let i = 0; i < 20; i++) {
      t.produce(10)
      if (t.sender.sendOne()) sent++
    }
    expect(sent).toBe(8) // the pool's size: the socket has not given one back yet
    link.flush()
    await t.pump(link)
    expect(link.seqs).toEqual(range(0, 200))
  })

  it('sends nothing before a link is welcomed, and nothing to a link gone since', async () => {
    const t = await setup()
    t.produce(10)
    expect(t.sender.sendOne()).toBe(false)
    const link = new ScriptedLink()
    t.sender.resume(link, 0)
    t.sender.disconnected()
    expect(t.sender.sendOne()).toBe(false)
    expect(link.batches).toEqual([])
  })

  it('an ACK frees the ring and the spool, and counts the acknowledged frames', async () => {
    const t = await setup({ spool: { maxBytes: 1 << 20, segmentBytes: 64 * 1024 } })
    t.fillPast(0.5)
    await t.pump() // no link: the move to the spool alone
    const spool = t.spool!
    expect(spool.frames).toBeGreaterThan(0)
    const total = t.written
    const link = new ScriptedLink()
    t.sender.resume(link, 0)
    await t.pump(link)
    expect(link.seqs).toEqual(range(0, total)) // spool first, then the ring: one sequence
    t.sender.release(total)
    await t.sender.idle()
    expect(t.consumer.usedBytes()).toBe(0)
    expect(spool.frames).toBe(0)
    expect(spool.ackSeq).toBe(total)
    expect(t.consumer.counters[RING_COUNTER.FRAMES_ACKED]).toBe(total)
    expect(t.sender.drained).toBe(true)
  })

  it('a partial ACK frees only what it covers', async () => {
    const t = await setup()
    t.produce(100)
    const link = new ScriptedLink()
    t.sender.resume(link, 0)
    await t.pump(link)
    const used = t.consumer.usedBytes()
    t.sender.release(40)
    expect(t.consumer.releaseSeq).toBe(40)
    expect(t.consumer.usedBytes()).toBe((used * 60) / 100)
    expect(t.consumer.counters[RING_COUNTER.FRAMES_ACKED]).toBe(40)
  })

  it("a reconnect resumes from the WELCOME's nextSeq: every frame the server lacks once, nothing it holds", async () => {
    const t = await setup()
    t.produce(500)
    const first = new ScriptedLink()
    t.sender.resume(first, 0)
    await t.pump(first)
    t.sender.release(200) // the server acknowledged 0..199, then the link went
    first.closed = true
    t.sender.disconnected()
    t.produce(100)
    const second = new ScriptedLink()
    // the server stored up to 349 before the link broke (no ACK reached us)
    t.sender.resume(second, 350)
    await t.pump(second)
    expect(second.seqs).toEqual(range(350, 600))
    expect(t.consumer.releaseSeq).toBe(350) // what the WELCOME said the server holds is freed
    expect(t.consumer.counters[RING_COUNTER.FRAMES_ACKED]).toBe(350)
    // and a WELCOME that asks for more than was acknowledged resends from there
    second.closed = true
    t.sender.disconnected()
    const third = new ScriptedLink()
    t.sender.resume(third, 350)
    await t.pump(third)
    expect(third.seqs).toEqual(range(350, 600))
    expect(t.dropped).toEqual([])
  })

  it("a WELCOME inside the spooled range resumes the spool's replay there, each frame once", async () => {
    const t = await setup({ spool: { maxBytes: 1 << 20, segmentBytes: 64 * 1024 } })
    t.fillPast(0.5)
    await t.pump()
    const spool = t.spool!
    const inSpool = Math.floor(spool.frames / 2)
    expect(inSpool).toBeGreaterThan(0)
    const link = new ScriptedLink()
    t.sender.resume(link, inSpool)
    await t.pump(link)
    expect(link.seqs).toEqual(range(inSpool, t.written))
    expect(spool.ackSeq).toBe(inSpool) // what the server holds is freed in the spool too
  })

  it('a gap in the ring ends a batch; its numbers are reported, not sent', async () => {
    const t = await setup()
    t.produce(10)
    t.producer.dropKernel(5)
    t.produce(10)
    const link = new ScriptedLink()
    t.sender.resume(link, 0)
    await t.pump(link)
    expect(link.batches.map((b) => [b.firstSeq, b.frames.length])).toEqual([
      [0, 10],
      [15, 10],
    ])
    expect(t.dropped).toEqual([{ channel: 0, fromSeq: 10, count: 5, reason: 'kernel-overflow' }])
  })

  it('a server without history resumes from the oldest frame held, spool included', async () => {
    const t = await setup({ spool: { maxBytes: 1 << 20, segmentBytes: 64 * 1024 } })
    t.fillPast(0.5)
    await t.pump()
    expect(t.sender.oldestHeld()).toBe(0)
    const link = new ScriptedLink()
    t.sender.resume(link, null)
    await t.pump(link)
    expect(link.seqs).toEqual(range(0, t.written))
  })

  it('moves to the spool once the ring passes its high-water mark, not before, down below it', async () => {
    const t = await setup({
      spool: { maxBytes: 1 << 20, segmentBytes: 64 * 1024 },
      highWater: 0.6,
    })
    const capacity = t.consumer.capacity
    while (t.consumer.usedBytes() + 64 <= 0.6 * capacity) t.produce(1)
    await t.pump()
    expect(t.spool!.frames).toBe(0)
    t.fillPast(0.6)
    await t.pump()
    expect(t.spool!.frames).toBeGreaterThan(0)
    expect(t.consumer.usedBytes()).toBeLessThanOrEqual(0.5 * capacity)
    expect(t.sender.counters()).toMatchObject({
      spoolFrames: t.spool!.frames,
      spoolBytes: t.spool!.bytes,
      ringBytes: t.consumer.usedBytes(),
      spoolErrors: 0,
    })
    // nothing lost on the way: the spool and the ring together hold every frame once
    expect(t.spool!.firstSeq).toBe(0)
    expect(t.spool!.nextSeq).toBe(t.consumer.releaseSeq)
    expect(t.dropped).toEqual([])
  })

  it('drop-oldest without a spool: frees the ring below its mark and reports exactly what went', async () => {
    const t = await setup({ dropPolicy: 'drop-oldest' })
    const capacity = t.consumer.capacity
    t.fillPast(DROP_MARK)
    t.sender.maintain()
    const dropped = t.consumer.releaseSeq
    expect(dropped).toBeGreaterThan(0)
    expect(t.consumer.usedBytes()).toBeLessThanOrEqual(DROP_TO * capacity)
    // and no further: only what takes the ring down to the mark goes (less than one record past it)
    expect(t.consumer.usedBytes()).toBeGreaterThan(DROP_TO * capacity - (RECORD_HEADER_BYTES + 64))
    expect(t.dropped).toEqual([{ channel: 0, fromSeq: 0, count: dropped, reason: 'ring-full' }])
    expect(t.sender.counters().dropsRingOldest).toBe(dropped)
    const link = new ScriptedLink()
    t.sender.resume(link, 0)
    await t.pump(link)
    // the rest arrives, from right after the dropped range
    expect(link.seqs).toEqual(range(dropped, t.written))
  })

  it('drop-oldest of frames already sent: reported only when the next WELCOME shows the server lacks them', async () => {
    const t = await setup({ dropPolicy: 'drop-oldest' })
    t.produce(100)
    const first = new ScriptedLink()
    t.sender.resume(first, 0)
    await t.pump(first)
    first.closed = true
    t.sender.disconnected() // no ACK for 0..99
    t.fillPast(DROP_MARK)
    t.sender.maintain()
    const gone = t.consumer.releaseSeq
    expect(gone).toBeGreaterThan(100)
    // 0..99 were handed to a connection and may have arrived: not reported yet
    expect(t.dropped).toEqual([
      { channel: 0, fromSeq: 100, count: gone - 100, reason: 'ring-full' },
    ])
    const second = new ScriptedLink()
    t.sender.resume(second, 60) // the server stored 0..59 only
    expect(t.dropped.slice(1)).toEqual([
      { channel: 0, fromSeq: 60, count: 40, reason: 'ring-full' },
    ])
    await t.pump(second)
    expect(second.seqs).toEqual(range(gone, t.written))
  })

  it('drop-newest: the frames a full ring refused are reported with their exact range, in order', async () => {
    const t = await setup({ dropPolicy: 'drop-newest' })
    let kept = 0
    while (t.produce(1) === 1) kept++
    const refused = 1 + (10 - t.produce(10)) // the one that found it full, and ten more
    expect(refused).toBe(11)
    const link = new ScriptedLink()
    t.sender.resume(link, 0)
    await t.pump(link)
    expect(link.seqs).toEqual(range(0, kept))
    t.sender.release(kept)
    expect(t.produce(5)).toBe(5) // room again: the gap goes in before these
    await t.pump(link)
    expect(t.dropped).toEqual([{ channel: 0, fromSeq: kept, count: refused, reason: 'ring-full' }])
    expect(link.seqs.slice(kept)).toEqual(range(kept + refused, kept + refused + 5))
  })

  it('drop-oldest with a full spool: the oldest spooled frames go, reported as spool-full', async () => {
    const t = await setup({
      spool: { maxBytes: 64 * 1024, segmentBytes: 16 * 1024 },
      dropPolicy: 'drop-oldest',
      ringBytes: 64 * 1024,
    })
    // several ring loads through the spool, no server: the spool must drop its oldest
    for (let round = 0; round < 6; round++) {
      t.fillPast(0.5)
      await t.pump()
    }
    const spool = t.spool!
    const counters = t.sender.counters()
    expect(counters.dropsSpoolFull).toBeGreaterThan(0)
    expect(spool.bytes).toBeLessThanOrEqual(64 * 1024)
    const lost = t.dropped.filter((d) => d.reason === 'spool-full')
    expect(lost.reduce((sum, d) => sum + d.count, 0)).toBe(counters.dropsSpoolFull)
    // the reports cover exactly what the spool no longer holds: from 0 up to its first frame
    expect(lost[0]!.fromSeq).toBe(0)
    let next = 0
    for (const d of lost) {
      expect(d.fromSeq).toBe(next)
      next += d.count
    }
    expect(next).toBe(spool.firstSeq)
    const link = new ScriptedLink()
    t.sender.resume(link, 0)
    await t.pump(link)
    expect(link.seqs).toEqual(range(next, t.written))
  })

  it('a failed spool keeps frames in the ring and is tried again only after its backoff (injected clock)', async () => {
    const t = await setup({ spool: { maxBytes: 1 << 20, segmentBytes: 64 * 1024 } })
    await t.pump() // the sequence lease is taken while the spool works
    const spool = t.spool!
    await spool.close() // every spool operation fails from here on
    spools.splice(0)
    t.fillPast(0.5)
    await t.pump()
    expect(t.sender.counters().spoolErrors).toBe(1)
    expect(t.logs.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([
      'spool append failed; this channel keeps frames in the memory ring and retries the spool with backoff',
    ])
    const held = t.consumer.usedBytes()
    expect(held).toBeGreaterThan(0.5 * t.consumer.capacity)
    t.clock.now = SPOOL_RETRY_MIN_MS - 1
    await t.pump()
    expect(t.sender.counters().spoolErrors).toBe(1) // not before the backoff
    t.clock.now = SPOOL_RETRY_MIN_MS
    await t.pump()
    expect(t.sender.counters().spoolErrors).toBe(2) // tried once more, failed again
    expect(t.consumer.usedBytes()).toBe(held)
    // with the server, the ring's frames still go out in order
    const link = new ScriptedLink()
    t.sender.resume(link, 0)
    await t.pump(link)
    expect(link.seqs).toEqual(range(0, t.written))
  })

  it('flush() at shutdown moves what is unacknowledged to the spool, numbered to the end', async () => {
    const t = await setup({ spool: { maxBytes: 1 << 20, segmentBytes: 64 * 1024 } })
    t.produce(300)
    const link = new ScriptedLink()
    t.sender.resume(link, 0)
    await t.pump(link)
    t.sender.release(100)
    await t.sender.idle()
    t.sender.stop()
    expect(await t.sender.flush()).toEqual({ unacked: 200, spooled: 200, lost: 0 })
    spools.splice(0) // flush closed it
    const reopened = await Spool.open(join(root, 'can0'), { maxBytes: 1 << 20 })
    spools.push(reopened)
    expect([reopened.firstSeq, reopened.nextSeq, reopened.frames]).toEqual([100, 300, 200])
  })

  it('refuses a high-water mark out of range, naming it', () => {
    const ring = createRing(MIN_RING_BYTES)
    expect(
      () =>
        new ChannelSender({
          index: 0,
          name: 'can0',
          fd: false,
          consumer: new RingConsumer(ring, 0),
          spool: null,
          highWater: 1.5,
          dropPolicy: 'drop-newest',
          drops: new DropReporter({ channels: [{ name: 'can0' }], log: () => {} }),
          encoders: new EncoderPool(() => {}),
          wake: () => {},
        }),
    ).toThrow(/highWater: expected a fraction in \(0, 1\], got 1\.5/)
  })
})
