// Latency statistics: percentiles (nearest rank), a log-spaced histogram, and per-second
// series for the timeline.

export interface LatencySummary {
  count: number
  min: number
  mean: number
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
}

/** Nearest-rank percentile of ascending `sorted` (p in 0..100); NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length
  if (n === 0) return Number.NaN
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in 0..100, got ${p}`)
  const rank = Math.max(1, Math.ceil((p / 100) * n))
  return sorted[rank - 1]!
}

/** Summary of a set of values (any order; not modified). */
export function summarize(values: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(values).sort()
  const n = sorted.length
  let sum = 0
  for (let i = 0; i < n; i++) sum += sorted[i]!
  return {
    count: n,
    min: n === 0 ? Number.NaN : sorted[0]!,
    mean: n === 0 ? Number.NaN : sum / n,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: n === 0 ? Number.NaN : sorted[n - 1]!,
  }
}

export interface HistogramBin {
  /** lower edge (inclusive) */
  from: number
  /** upper edge (exclusive; the last bin includes it) */
  to: number
  count: number
}

/**
 * Log-spaced histogram from `min` to at least the largest value: `perDecade` bins per
 * factor of 10. Values below `min` fall into the first bin.
 */
export function logHistogram(values: ArrayLike<number>, min = 0.1, perDecade = 10): HistogramBin[] {
  let max = min
  for (let i = 0; i < values.length; i++) if (values[i]! > max) max = values[i]!
  const factor = 10 ** (1 / perDecade)
  const bins: HistogramBin[] = []
  for (let from = min; from <= max || bins.length === 0; from *= factor) {
    bins.push({ from, to: from * factor, count: 0 })
  }
  const logMin = Math.log10(min)
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!
    const k = v <= min ? 0 : Math.floor((Math.log10(v) - logMin) * perDecade + 1e-9)
    bins[Math.min(k, bins.length - 1)]!.count++
  }
  return bins
}

export interface SecondBin {
  /** second since the start */
  t: number
  count: number
  p50: number
  p99: number
  max: number
}

/**
 * Per-second statistics of (time, value) pairs: `times` in ms since `startMs`. Seconds
 * without a value have count 0 and NaN statistics.
 */
export function perSecond(
  times: ArrayLike<number>,
  values: ArrayLike<number>,
  startMs: number,
  seconds: number,
): SecondBin[] {
  const buckets: number[][] = Array.from({ length: Math.max(0, seconds) }, () => [])
  for (let i = 0; i < times.length; i++) {
    const s = Math.floor((times[i]! - startMs) / 1000)
    if (s >= 0 && s < buckets.length) buckets[s]!.push(values[i]!)
  }
  return buckets.map((bucket, t) => {
    const sorted = Float64Array.from(bucket).sort()
    return {
      t,
      count: sorted.length,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
    }
  })
}

/** Counts per second of times (ms) since `startMs`. */
export function countPerSecond(
  times: ArrayLike<number>,
  startMs: number,
  seconds: number,
): number[] {
  const counts = new Array<number>(Math.max(0, seconds)).fill(0)
  for (let i = 0; i < times.length; i++) {
    const s = Math.floor((times[i]! - startMs) / 1000)
    if (s >= 0 && s < counts.length) counts[s]!++
  }
  return counts
}
