import type { Drops } from '@canbridge/protocol'
import { describe, expect, it } from 'vitest'
import { type DropLogFields, DropReporter } from './drop-reporter.ts'

/** A reporter with a recording sink, log and timers under the test's control. */
function setup(maxPending?: number) {
  let now = 0
  const timers: { at: number; run: () => void }[] = []
  const logs: DropLogFields[] = []
  const reporter = new DropReporter({
    channels: [{ name: 'can0' }, { name: 'can1' }],
    log: (fields) => logs.push(fields),
    ...(maxPending === undefined ? {} : { maxPending }),
    now: () => now,
    setTimer: (run, ms) => timers.push({ at: now + ms, run }),
  })
  const connection = () => {
    const sent: Drops[] = []
    reporter.connected({ send: (drops) => sent.push({ ...drops }) })
    return sent
  }
  const advance = (ms: number) => {
    now += ms
    for (const timer of timers.splice(0)) {
      if (timer.at <= now) timer.run()
      else timers.push(timer)
    }
  }
  return { reporter, logs, connection, advance }
}

describe('DropReporter', () => {
  it('queues reports while disconnected, merging adjacent runs, and sends them on connect', () => {
    const { reporter, connection } = setup()
    reporter.report(0, 10, 5, 'ring-full')
    reporter.report(0, 15, 5, 'ring-full') // adjacent, same reason: one report
    reporter.report(0, 20, 2, 'spool-full')
    reporter.report(1, 0, 3, 'ring-full')
    expect(reporter.pending).toBe(3)
    expect(connection()).toEqual([
      { channel: 0, fromSeq: 10, count: 10, reason: 'ring-full' },
      { channel: 0, fromSeq: 20, count: 2, reason: 'spool-full' },
      { channel: 1, fromSeq: 0, count: 3, reason: 'ring-full' },
    ])
    expect(reporter.pending).toBe(0)
  })

  it('reports each range once: a gap passed again sends only its new part', () => {
    const { reporter, connection } = setup()
    const sent = connection()
    reporter.report(0, 100, 10, 'ring-full')
    reporter.report(0, 105, 10, 'ring-full')
    expect(sent).toEqual([
      { channel: 0, fromSeq: 100, count: 10, reason: 'ring-full' },
      { channel: 0, fromSeq: 110, count: 5, reason: 'ring-full' },
    ])
  })

  it('sends unconfirmed reports again, unchanged, on the next connection; an ACK past them confirms', () => {
    const { reporter, connection } = setup()
    connection()
    reporter.report(0, 0, 4, 'ring-full')
    reporter.report(0, 50, 4, 'spool-full')
    reporter.acknowledged(0, 10) // past the first only
    reporter.disconnected()
    reporter.report(0, 54, 2, 'spool-full') // adjacent to a sent one: not merged into it
    expect(connection()).toEqual([
      { channel: 0, fromSeq: 50, count: 4, reason: 'spool-full' },
      { channel: 0, fromSeq: 54, count: 2, reason: 'spool-full' },
    ])
  })

  it('sends a report without a range at most once', () => {
    const { reporter, connection } = setup()
    const first = connection()
    reporter.reportUnranged(1, 7, 'interface-loss')
    reporter.disconnected()
    expect(first).toEqual([{ channel: 1, fromSeq: null, count: 7, reason: 'interface-loss' }])
    expect(connection()).toEqual([])
  })

  it('forgets ranges the server holds: numbers below are never reported again', () => {
    const { reporter, connection } = setup()
    const sent = connection()
    reporter.report(0, 0, 10, 'ring-full')
    reporter.forgetBelow(0, 10)
    reporter.report(0, 0, 10, 'ring-full')
    expect(sent).toHaveLength(2)
  })

  it('keeps at most maxPending reports while disconnected, the newest', () => {
    const { reporter, connection } = setup(2)
    for (let i = 0; i < 4; i++) reporter.report(0, i * 10, 1, 'ring-full')
    expect(connection().map((d) => d.fromSeq)).toEqual([20, 30])
  })

  it('logs the first run of a kind at once and sums the rest over the interval', () => {
    const { reporter, logs, advance } = setup()
    reporter.report(0, 0, 3, 'ring-full')
    reporter.report(0, 10, 2, 'ring-full')
    reporter.report(0, 20, 4, 'ring-full')
    reporter.report(1, 0, 1, 'ring-full') // another channel: its own line
    expect(logs).toEqual([
      { channel: 'can0', fromSeq: 0, count: 3, reason: 'ring-full' },
      { channel: 'can1', fromSeq: 0, count: 1, reason: 'ring-full' },
    ])
    advance(4999)
    expect(logs).toHaveLength(2)
    advance(1)
    expect(logs[2]).toEqual({
      channel: 'can0',
      fromSeq: 10,
      count: 6,
      reason: 'ring-full',
      runs: 2,
      untilSeq: 24,
    })
    advance(5000) // quiet since: the next run is logged at once again
    reporter.report(0, 30, 1, 'ring-full')
    expect(logs.at(-1)).toEqual({ channel: 'can0', fromSeq: 30, count: 1, reason: 'ring-full' })
  })
})
