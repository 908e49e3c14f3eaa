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
    expect(t.addDrops('ring-full', 50, 100)).toEqual([[100, 150]])
    expect(t.addDrops('ring-full', 50, 100)).toEqual([])
    expect(t.addDrops('ring-full', 20, 140)).toEqual([[150, 160]])
    expect(t.addDrops('ring-full', 30, 90)).toEqual([[90, 100]])
    // another reason keeps its own ranges
    expect(t.addDrops('spool-full', 50, 100)).toEqual([[100, 150]])
    expect(t.addDrops('kernel-overflow', 2)).toBeNull()
    expect(t.addDrops('kernel-overflow', 2, null)).toBeNull()
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
