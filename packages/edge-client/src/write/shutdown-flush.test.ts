// ShutdownFlush in-process: real rings and spools, the deadline on the test's own timers.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { manualTimers } from '../../test/helpers/manual-timers.ts'
import { createDoorbell, createRing, MIN_RING_BYTES, RingConsumer, RingProducer } from '../ring.ts'
import { Spool } from '../spool/index.ts'
import { ChannelSender, type FlushResult } from './channel-sender.ts'
import { DropReporter } from './drop-reporter.ts'
import { EncoderPool } from './encoder-pool.ts'
import { ShutdownFlush } from './shutdown-flush.ts'

let root: string
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'shutdown-flush-'))
})
afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

/** Two channels holding `frames` each, can0 with a spool and can1 without. */
async function setup(frames: number) {
  const payload = new Uint8Array(8)
  const drops = new DropReporter({ channels: [{ name: 'can0' }, { name: 'can1' }], log: () => {} })
  const encoders = new EncoderPool(() => {})
  const spool = await Spool.open(join(root, 'can0'), { maxBytes: 1 << 20 })
  const senders = [spool, null].map((channelSpool, index) => {
    const ring = createRing(MIN_RING_BYTES)
    const producer = new RingProducer(ring, createDoorbell())
    for (let n = 0; n < frames; n++) producer.write(0, n, n, 0, 8, payload, 0)
    producer.publish()
    return new ChannelSender({
      index,
      name: `can${index}`,
      fd: false,
      consumer: new RingConsumer(ring, 0),
      spool: channelSpool,
      highWater: 0.5,
      dropPolicy: 'drop-newest',
      drops,
      encoders,
      wake: () => {},
    })
  })
  const { timers: fakeTimers, set: timers } = manualTimers()
  let stopped = false
  let finishedCalls = 0
  let resolveFinished: (result: FlushResult & { why: string }) => void = () => {}
  const finished = new Promise<FlushResult & { why: string }>((resolve) => {
    resolveFinished = resolve
  })
  const flush = new ShutdownFlush({
    senders,
    stop: () => {
      stopped = true
    },
    finished: (result) => {
      finishedCalls++
      resolveFinished(result)
    },
    log: () => {},
    timers: fakeTimers,
  })
  return {
    senders,
    spool,
    timers,
    flush,
    finished,
    isStopped: () => stopped,
    finishedCalls: () => finishedCalls,
  }
}

describe('ShutdownFlush', () => {
  it('not connected: at once, the spool takes its channel, the other counts as lost', async () => {
    const t = await setup(50)
    t.flush.start(5000, false)
    expect(await t.finished).toEqual({ why: 'not connected', unacked: 100, spooled: 50, lost: 50 })
    expect(t.isStopped()).toBe(true)
    expect(t.timers[0]!.cleared).toBe(true)
    const reopened = await Spool.open(join(root, 'can0'), { maxBytes: 1 << 20 })
    expect([reopened.firstSeq, reopened.nextSeq, reopened.frames]).toEqual([0, 50, 50])
    await reopened.close()
  })

  it('connected: waits for the ACKs, and ends once every channel is acknowledged', async () => {
    const t = await setup(20)
    t.flush.start(5000, true)
    t.flush.check()
    expect(t.flush.done).toBe(false)
    t.senders[0]!.release(20)
    t.flush.check()
    expect(t.flush.done).toBe(false) // can1 still holds frames
    t.senders[1]!.release(20)
    await t.senders[0]!.idle()
    t.flush.check()
    expect(await t.finished).toEqual({
      why: 'all frames acknowledged',
      unacked: 0,
      spooled: 0,
      lost: 0,
    })
  })

  it('the deadline ends it with what is left; later calls change nothing', async () => {
    const t = await setup(30)
    t.flush.start(2500, true)
    t.senders[1]!.release(10)
    const deadline = t.timers[0]!
    expect(deadline.delayMs).toBe(2500)
    deadline.run()
    expect(await t.finished).toEqual({
      why: 'deadline of 2500 ms passed',
      unacked: 50,
      spooled: 30,
      lost: 20,
    })
    await t.flush.finish('connection lost: late')
    t.flush.check()
    expect(t.finishedCalls()).toBe(1)
  })

  it('refuses a deadline that is not a duration', async () => {
    const t = await setup(0)
    expect(() => t.flush.start(Number.NaN, true)).toThrow(
      /deadlineMs: expected a non-negative number, got NaN/,
    )
    await t.spool.close()
  })
})
