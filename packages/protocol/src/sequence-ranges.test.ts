import { describe, expect, it } from 'vitest'
import { SequenceRanges } from './sequence-ranges.ts'

describe('SequenceRanges', () => {
  it('returns only the parts not reported before, and merges', () => {
    const set = new SequenceRanges()
    expect(set.addNew(10, 20)).toEqual([[10, 20]])
    expect(set.addNew(15, 25)).toEqual([[20, 25]])
    expect(set.addNew(0, 30)).toEqual([
      [0, 10],
      [25, 30],
    ])
    expect(set.size).toBe(1)
    expect(set.addNew(5, 30)).toEqual([])
    expect(set.addNew(40, 50)).toEqual([[40, 50]])
    expect(set.addNew(30, 40)).toEqual([[30, 40]])
    expect(set.size).toBe(1)
    expect(set.intersect(45, 70)).toEqual([[45, 50]])
    expect(set.intersect(60, 70)).toEqual([])
    set.forgetBelow(60)
    expect(set.size).toBe(0)
  })
})
