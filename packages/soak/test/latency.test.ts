import { describe, expect, it } from 'vitest'
import { countPerSecond, logHistogram, percentile, perSecond, summarize } from '../src/latency.ts'

describe('latency statistics', () => {
  it('nearest-rank percentiles', () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1)
    expect(percentile(sorted, 50)).toBe(50)
    expect(percentile(sorted, 99)).toBe(99)
    expect(percentile(sorted, 100)).toBe(100)
    expect(percentile(sorted, 0)).toBe(1)
    expect(percentile([], 50)).toBeNaN()
    expect(() => percentile(sorted, 101)).toThrow(RangeError)
  })

  it('summarize sorts a copy', () => {
    const values = [5, 1, 3, 2, 4]
    expect(summarize(values)).toMatchObject({ count: 5, min: 1, p50: 3, max: 5, mean: 3 })
    expect(values).toEqual([5, 1, 3, 2, 4])
    expect(summarize([]).count).toBe(0)
  })

  it('log histogram: every value in exactly one bin', () => {
    const values = [0.05, 0.1, 0.15, 1, 1.3, 9.9, 10, 250]
    const bins = logHistogram(values, 0.1, 10)
    expect(bins.reduce((n, b) => n + b.count, 0)).toBe(values.length)
    expect(bins[0]!.count).toBe(2) // 0.05 and 0.1
    const binOf = (v: number) => bins.findIndex((b) => v >= b.from * (1 - 1e-9) && v < b.to)
    expect(bins[binOf(250)]!.count).toBe(1)
    expect(bins.at(-1)!.to).toBeGreaterThan(250)
  })

  it('per-second series', () => {
    const times = [1000, 1500, 2100, 4999]
    expect(countPerSecond(times, 1000, 4)).toEqual([2, 1, 0, 1])
    const bins = perSecond(times, [1, 3, 7, 9], 1000, 4)
    expect(bins[0]).toMatchObject({ count: 2, p50: 1, max: 3 })
    expect(bins[2]!.count).toBe(0)
    expect(bins[2]!.p99).toBeNaN()
  })
})
