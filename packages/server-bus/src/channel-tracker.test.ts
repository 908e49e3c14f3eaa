import { SequenceRanges } from '@canbridge/protocol'
import { describe, expect, it } from 'vitest'
import { ChannelTracker } from './channel-tracker.ts'

describe('ChannelTracker.admit', () => {
  it('accepts the first batch from any sequence, then tracks nextSeq', () => {
    const t = new ChannelTracker('pi', 'can0')
    expect(t.name).toBe('pi/can0')
    expect(t.admit(500, 10)).toBe(0)
    expect(t.nextSeq).toBe(510)
    expect(t.admit(510, 5)).toBe(0)
    expect(t.nextSeq).toBe(515)
    expect(t.framesIn).toBe(15)
    expect(t.gaps + t.duplicates).toBe(0)
  })

  it('skips and counts duplicates: a whole batch, or the overlapping head of one', () => {
    const t = new ChannelTracker('pi', 'can0')
    t.admit(0, 100)
    expect(t.admit(50, 50)).toBe(50) // all already held
    expect(t.nextSeq).toBe(100)
    expect(t.admit(90, 20)).toBe(10) // 90..99 held, 100..109 new
    expect(t.nextSeq).toBe(110)
    expect(t.duplicates).toBe(60)
    expect(t.framesIn).toBe(110)
  })

  it('counts a gap in frames and occurrences, and moves on', () => {
    const t = new ChannelTracker('pi', 'can0')
    t.admit(0, 10)
    expect(t.admit(15, 5)).toBe(0)
    expect(t.lastGap).toBe(5)
    t.admit(20, 1)
    expect(t.lastGap).toBe(0)
    t.admit(30, 1)
    expect(t.gaps).toBe(14)
    expect(t.gapEvents).toBe(2)
    expect(t.nextSeq).toBe(31)
  })

  it('sums drops by reason and snapshots copies', () => {
    const t = new ChannelTracker('pi', 'can0')
    t.addDrops('ring-full', 3)
    t.addDrops('ring-full', 4)
    t.addDrops('kernel-overflow', 1)
    const snapshot = t.snapshot(2)
    expect(snapshot.edgeDrops).toEqual({ 'ring-full': 7, 'kernel-overflow': 1 })
    expect(snapshot.sendQueued).toBe(2)
    snapshot.edgeDrops['ring-full'] = 0
    expect(t.edgeDrops['ring-full']).toBe(7)
  })
})

describe('ChannelTracker.addDrops: idempotent by range', () => {
  it('counts an identical range once, an overlapping one by its new part, rangeless ones always', () => {
    const t = new ChannelTracker('pi', 'can0')
    const part = (from: number, to: number, newlyLost = to - from) => ({
      from,
      count: to - from,
      newlyLost,
    })
    expect(t.addDrops('ring-full', 50, 100)).toEqual([part(100, 150)])
    expect(t.addDrops('ring-full', 50, 100)).toEqual([])
    expect(t.addDrops('ring-full', 20, 140)).toEqual([part(150, 160)])
    expect(t.addDrops('ring-full', 30, 90)).toEqual([part(90, 100)])
    // another reason keeps its own ranges; the frames were counted lost already
    expect(t.addDrops('spool-full', 50, 100)).toEqual([part(100, 150, 0)])
    expect(t.addDrops('kernel-overflow', 2)).toEqual([{ from: null, count: 2, newlyLost: 2 }])
    expect(t.addDrops('kernel-overflow', 2, null)).toEqual([{ from: null, count: 2, newlyLost: 2 }])
    expect(t.edgeDrops).toEqual({ 'ring-full': 70, 'spool-full': 50, 'kernel-overflow': 4 })
    expect(t.edgeDropReportsRepeated).toBe(1)
    expect(t.snapshot(0).edgeDropReportsRepeated).toBe(1)
  })

  it('remembers a bounded number of ranges, forgetting the oldest', () => {
    const ranges = new SequenceRanges(3)
    for (const from of [0, 10, 20, 30])
      expect(ranges.addNew(from, from + 5)).toEqual([[from, from + 5]])
    expect(ranges.size).toBe(3)
    expect(ranges.addNew(30, 35)).toEqual([])
    expect(ranges.addNew(0, 5)).toEqual([[0, 5]]) // forgotten: counted again
    // adjacent ranges merge into one
    const merged = new SequenceRanges(2)
    for (let from = 0; from < 100; from += 10) merged.addNew(from, from + 10)
    expect(merged.size).toBe(1)
    expect(merged.addNew(0, 100)).toEqual([])
  })
})

/**
 * The independent oracle: the set of sequence numbers lost, built by brute force from every
 * gap and every ranged report, counted by its size.
 */
class LostSet {
  readonly seqs = new Set<number>()
  add(from: number, to: number): void {
    for (let seq = from; seq < to; seq++) this.seqs.add(seq)
  }
}

describe('ChannelTracker: each lost frame counted once, gaps and DROPS together', () => {
  it('a report before the gap it explains: the gap adds only what the report did not say', () => {
    const t = new ChannelTracker('pi', 'can0')
    t.admit(0, 10)
    expect(t.addDrops('ring-full', 5, 10)).toEqual([{ from: 10, count: 5, newlyLost: 5 }])
    t.admit(20, 1) // 10..19 missing: 10..14 reported, 15..19 not
    expect(t.lastGap).toBe(10)
    expect(t.lastGapNewlyLost).toBe(5)
    expect(t.gaps).toBe(10)
    expect(t.lost).toBe(10)
    expect(t.snapshot(0).lost).toBe(10)
  })

  it('a gap before the report that explains it: the report adds nothing to lost', () => {
    const t = new ChannelTracker('pi', 'can0')
    t.admit(0, 10)
    t.admit(20, 1)
    expect(t.lastGapNewlyLost).toBe(10)
    // the second half of the gap, after it was counted
    expect(t.addDrops('spool-full', 5, 15)).toEqual([{ from: 15, count: 5, newlyLost: 0 }])
    // beyond what arrived (20 did): not seen as a gap yet
    expect(t.addDrops('spool-full', 4, 21)).toEqual([{ from: 21, count: 4, newlyLost: 4 }])
    expect(t.edgeDrops).toEqual({ 'spool-full': 9 })
    expect(t.lost).toBe(14)
    t.admit(25, 1) // 21..24: reported before, nothing new
    expect(t.lastGap).toBe(4)
    expect(t.lastGapNewlyLost).toBe(0)
    expect(t.gaps).toBe(14)
    expect(t.lost).toBe(14)
  })

  it('overlapping, duplicated and partial reports under several reasons, in any order: lost is the union', () => {
    // frames 0..999 numbered; the tracker sees batches with holes and reports that overlap
    // them and each other. Every order of the same events must give the same `lost`.
    const gaps: [number, number][] = [
      [100, 150],
      [300, 305],
      [500, 700],
    ]
    // the edge reports only frames that never arrive: ranges inside the gaps or past the end
    const reports: [string, number, number][] = [
      ['ring-full', 100, 20], // the head of the first gap
      ['spool-full', 110, 30], // overlapping it, another reason, not to the gap's end
      ['ring-full', 100, 50], // exactly the first gap, over both
      ['ring-full', 300, 5], // exactly the second
      ['ring-full', 300, 5], // a duplicate
      ['spool-full', 550, 100], // inside the third
      ['ring-full', 600, 100], // across the previous one, to the third's end
      ['ring-full', 1000, 10], // beyond everything received
    ]
    const oracle = new LostSet()
    for (const [from, to] of gaps) oracle.add(from, to)
    for (const [, from, count] of reports) oracle.add(from, from + count)

    type Event = { kind: 'batch'; from: number; to: number } | { kind: 'report'; index: number }
    const batches: [number, number][] = [
      [0, 100],
      [150, 300],
      [305, 500],
      [700, 1000],
    ]
    const orders: Event[][] = []
    // reports all first, all last, and interleaved both ways
    const batchEvents: Event[] = batches.map(([from, to]) => ({ kind: 'batch', from, to }))
    const reportEvents: Event[] = reports.map((_, index) => ({ kind: 'report', index }))
    orders.push([...reportEvents, ...batchEvents])
    orders.push([...batchEvents, ...reportEvents])
    orders.push([...batchEvents, ...reportEvents].reverse().filter((e) => e.kind === 'report'))
    orders.at(-1)!.push(...batchEvents)
    const interleaved: Event[] = []
    for (let i = 0; i < Math.max(batchEvents.length, reportEvents.length); i++) {
      if (batchEvents[i]) interleaved.push(batchEvents[i]!)
      if (reportEvents[i]) interleaved.push(reportEvents[i]!)
    }
    orders.push(interleaved)

    for (const order of orders) {
      const t = new ChannelTracker('pi', 'can0')
      let summed = 0 // what a consumer summing the events' newlyLost sees
      for (const event of order) {
        if (event.kind === 'batch') {
          t.admit(event.from, event.to - event.from)
          summed += t.lastGapNewlyLost
        } else {
          const [reason, from, count] = reports[event.index]!
          for (const part of t.addDrops(reason, count, from)) summed += part.newlyLost
        }
      }
      expect(t.lost).toBe(oracle.seqs.size)
      expect(summed).toBe(oracle.seqs.size)
      expect(t.framesIn).toBe(1000 - 255)
    }
  })
})
