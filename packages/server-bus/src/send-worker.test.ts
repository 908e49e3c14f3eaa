// The hold queue's TTL counts from the caller's send(), also when send() ran in another
// thread (the bus worker): the frame's age includes its trip to this thread.
import type { TxFrame } from '@canbridge/protocol'
import { describe, expect, it } from 'vitest'
import { ChannelTracker } from './channel-tracker.ts'
import type { EdgeSession } from './edge-session.ts'
import { SendWorker } from './send-worker.ts'

/** What SendWorker uses of a session: its socket's backpressure, transmit(), forgetTransmit(). */
function fakeSession(transmits: { ttlMs: number }[]): EdgeSession {
  return {
    closed: false,
    socket: { writableNeedDrain: false },
    transmit: (_id: number, _index: number, _frame: TxFrame, ttlMs: number) => {
      transmits.push({ ttlMs })
    },
    forgetTransmit: () => {},
  } as unknown as EdgeSession
}

const frame: TxFrame = { id: 0x1, flags: 0, len: 1, data: Uint8Array.of(1) }

describe('SendWorker hold queue', () => {
  function held(sentAt: number | undefined) {
    const worker = new SendWorker(
      new ChannelTracker('pi', 'can0'),
      () => 1,
      { ttlMs: 600, maxFrames: 4 },
      0,
    )
    const sent = worker.send(frame, 5000, sentAt)
    sent.catch(() => {})
    const transmits: { ttlMs: number }[] = []
    worker.attach(fakeSession(transmits), 0)
    return { worker, transmits }
  }

  it('gives the edge what is left of the TTL, counted from a send() in another thread', async () => {
    // sent 300 ms ago by the caller's clock (wall clock, as the bus worker gets it)
    const before = performance.now()
    const { worker, transmits } = held(performance.timeOrigin + before - 300)
    await new Promise((resolve) => setTimeout(resolve, 10))
    // at most what was left at send(), less what this machine took since then
    const taken = performance.now() - before
    expect(transmits).toHaveLength(1)
    expect(transmits[0]!.ttlMs).toBeLessThanOrEqual(300)
    expect(transmits[0]!.ttlMs).toBeGreaterThanOrEqual(Math.floor(300 - taken))
    worker.close()
  })

  it('fails a frame that is already older than the TTL when its edge returns', async () => {
    const { worker, transmits } = held(performance.timeOrigin + performance.now() - 700)
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(transmits).toEqual([])
    expect(worker.outstanding).toBe(0)
    worker.close()
  })

  it('counts from now without a time from another thread, and never from the future', async () => {
    for (const sentAt of [undefined, performance.timeOrigin + performance.now() + 10_000]) {
      const before = performance.now()
      const { worker, transmits } = held(sentAt)
      await new Promise((resolve) => setTimeout(resolve, 10))
      const taken = performance.now() - before
      expect(transmits[0]!.ttlMs).toBeGreaterThanOrEqual(Math.floor(600 - taken))
      expect(transmits[0]!.ttlMs).toBeLessThanOrEqual(600)
      worker.close()
    }
  })
})
