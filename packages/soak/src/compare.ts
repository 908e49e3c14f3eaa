// The comparison engine: received frames against the ground truth (candump) of one channel.
// Pure: two frame tables in, a classification out.
//
// Each received frame, in arrival order, is matched to a ground-truth frame:
//  1. the next expected truth frame (after the last match) with the same content and a
//     timestamp within the tolerance: the common case, O(1);
//  2. else a truth frame with the same timestamp (within the tolerance): same content and
//     not yet matched → matched; same content but already matched → a duplicate;
//  3. else the unmatched truth frame with the same content
//     nearest in time (within `timeWindowUs`), else the nearest to the expected position
//     (within `searchWindow` frames): matched, with a timestamp
//     mismatch; a matched one with the same content there → a duplicate;
//  4. else, if an unmatched truth frame has its timestamp, that frame arrived corrupted (the
//     differing fields are recorded); else it is an unexpected frame (counted as corrupted:
//     it matches nothing that was on the bus).
// Truth frames never matched are lost, except those inside a blind window (a span of time
// when, by the test's own doing, no edge had the interface open: they are reported as
// missed there). Reordering is counted over the matched frames in arrival order: the frames
// outside a longest increasing run of truth positions are the reordered ones.
import { FRAME_FLAG } from '@canbridge/protocol'
import type { FrameTable } from './frames.ts'

/**
 * `exact` (the default): every flag must match. `socketcan-binding`: for an edge without
 * the patched npm `socketcan` binding (its HELLO has no `fd-flags`), whose limits are not
 * corruption: BRS and ESI are never reported, and an FD frame of 8 bytes or fewer reads as
 * classic. Frames that differ only that way are matched and counted in `flagLimitDiffs`.
 */
export type FlagPolicy = 'exact' | 'socketcan-binding'

export interface BlindWindow {
  startUs: number
  endUs: number
  /** what caused it, e.g. `edge-restart #2` */
  label: string
}

export interface CompareOptions {
  /** largest |received − truth| timestamp difference that still counts as equal (µs; default 0) */
  timestampToleranceUs?: number | undefined
  flagPolicy?: FlagPolicy | undefined
  /** how far (in truth frames) a content match is looked for without a timestamp (default 4096) */
  searchWindow?: number | undefined
  /** how far in time (µs) a content match is looked for without a timestamp (default 2 s) */
  timeWindowUs?: number | undefined
  blindWindows?: readonly BlindWindow[] | undefined
  /** examples kept per kind (default 20) */
  maxExamples?: number | undefined
}

export type CorruptField = 'id' | 'flags' | 'len' | 'data'

export interface CorruptExample {
  /** truth index, or -1 for an unexpected frame */
  truth: number
  received: number
  fields: CorruptField[]
}

export interface TimestampExample {
  truth: number
  received: number
  /** received − truth, µs */
  diffUs: number
}

export interface CompareResult {
  truthFrames: number
  receivedFrames: number
  /** received frames paired with a truth frame (content equal, or corrupted) */
  matched: number
  /** truth frames never received (outside blind windows) */
  lost: number
  /** truth frames never received inside a blind window, per window label */
  missedBlind: number
  missedByWindow: Record<string, number>
  duplicated: number
  reordered: number
  /** received frames whose content differs from their truth frame, plus unexpected frames */
  corrupted: number
  corruptedFields: Record<CorruptField, number>
  /** received frames that match nothing on the bus (included in `corrupted`) */
  unexpected: number
  /** matched frames whose timestamp is off by more than the tolerance */
  timestampMismatches: number
  /** largest |timestamp difference| among matched frames, µs */
  maxTimestampDiffUs: number
  /** matched frames whose flags differ only by the binding's documented limits */
  flagLimitDiffs: number
  /** for every received frame: its truth index, or -1 (duplicate or unexpected) */
  matchOf: Int32Array
  /** for every truth frame: the received index paired with it, or -1 */
  receivedOf: Int32Array
  examples: {
    lost: number[]
    duplicated: TimestampExample[]
    reordered: number[]
    corrupted: CorruptExample[]
    timestamp: TimestampExample[]
  }
}

const UNMATCHED = -1

/** Flags as the policy compares them. */
export function normalizeFlags(flags: number, len: number, policy: FlagPolicy): number {
  if (policy === 'exact') return flags
  let f = flags & ~(FRAME_FLAG.BRS | FRAME_FLAG.ESI)
  if (f & FRAME_FLAG.FD && len <= 8) f &= ~FRAME_FLAG.FD
  return f
}

export function compareFrames(
  truth: FrameTable,
  received: FrameTable,
  options: CompareOptions = {},
): CompareResult {
  const tolerance = options.timestampToleranceUs ?? 0
  const policy = options.flagPolicy ?? 'exact'
  const window = options.searchWindow ?? 4096
  const timeWindowUs = options.timeWindowUs ?? 2_000_000
  const maxExamples = options.maxExamples ?? 20
  const n = truth.length
  const m = received.length
  const receivedOf = new Int32Array(n).fill(UNMATCHED)
  const matchOf = new Int32Array(m).fill(UNMATCHED)
  const byTime = sortedByTime(truth)

  const result: CompareResult = {
    truthFrames: n,
    receivedFrames: m,
    matched: 0,
    lost: 0,
    missedBlind: 0,
    missedByWindow: {},
    duplicated: 0,
    reordered: 0,
    corrupted: 0,
    corruptedFields: { id: 0, flags: 0, len: 0, data: 0 },
    unexpected: 0,
    timestampMismatches: 0,
    maxTimestampDiffUs: 0,
    flagLimitDiffs: 0,
    matchOf,
    receivedOf,
    examples: { lost: [], duplicated: [], reordered: [], corrupted: [], timestamp: [] },
  }
  const ex = result.examples

  const fieldsDiffering = (t: number, r: number): CorruptField[] => {
    const fields: CorruptField[] = []
    if (truth.id(t) !== received.id(r)) fields.push('id')
    const tf = truth.flags(t)
    const rf = received.flags(r)
    if (normalizeFlags(tf, truth.len(t), policy) !== normalizeFlags(rf, received.len(r), policy)) {
      fields.push('flags')
    }
    if (truth.len(t) !== received.len(r)) fields.push('len')
    else if (!(tf & FRAME_FLAG.RTR) && !truth.sameData(t, received, r)) fields.push('data')
    return fields
  }
  const sameContent = (t: number, r: number): boolean =>
    truth.id(t) === received.id(r) &&
    truth.len(t) === received.len(r) &&
    normalizeFlags(truth.flags(t), truth.len(t), policy) ===
      normalizeFlags(received.flags(r), received.len(r), policy) &&
    (truth.flags(t) & FRAME_FLAG.RTR ? true : truth.sameData(t, received, r))
  const timeOk = (t: number, r: number): boolean =>
    Math.abs(received.tsUs(r) - truth.tsUs(t)) <= tolerance

  let cursor = 0
  const pair = (t: number, r: number): void => {
    receivedOf[t] = r
    matchOf[r] = t
    result.matched++
    const diff = received.tsUs(r) - truth.tsUs(t)
    if (Math.abs(diff) > result.maxTimestampDiffUs) result.maxTimestampDiffUs = Math.abs(diff)
    if (Math.abs(diff) > tolerance) {
      result.timestampMismatches++
      if (ex.timestamp.length < maxExamples)
        ex.timestamp.push({ truth: t, received: r, diffUs: diff })
    }
    if (truth.flags(t) !== received.flags(r) && sameContent(t, r)) result.flagLimitDiffs++
    if (t + 1 > cursor) cursor = t + 1
  }
  const duplicate = (t: number, r: number): void => {
    result.duplicated++
    if (ex.duplicated.length < maxExamples) {
      ex.duplicated.push({ truth: t, received: r, diffUs: received.tsUs(r) - truth.tsUs(t) })
    }
  }
  const corrupt = (t: number, r: number, fields: CorruptField[]): void => {
    result.corrupted++
    for (const field of fields) result.corruptedFields[field]++
    if (ex.corrupted.length < maxExamples) ex.corrupted.push({ truth: t, received: r, fields })
  }

  for (let r = 0; r < m; r++) {
    // 1. the expected next frame
    if (
      cursor < n &&
      receivedOf[cursor] === UNMATCHED &&
      timeOk(cursor, r) &&
      sameContent(cursor, r)
    ) {
      pair(cursor, r)
      continue
    }
    // 2. frames with this timestamp
    const lo = lowerBound(truth, byTime, received.tsUs(r) - tolerance)
    const hi = upperBound(truth, byTime, received.tsUs(r) + tolerance)
    let other = UNMATCHED
    if (lo < hi) {
      let free = UNMATCHED
      let taken = UNMATCHED
      for (let k = lo; k < hi; k++) {
        const t = byTime[k]!
        if (sameContent(t, r)) {
          if (receivedOf[t] === UNMATCHED) {
            if (free === UNMATCHED || Math.abs(t - cursor) < Math.abs(free - cursor)) free = t
          } else if (taken === UNMATCHED) taken = t
        } else if (receivedOf[t] === UNMATCHED && other === UNMATCHED) other = t
      }
      if (free !== UNMATCHED) {
        pair(free, r)
        continue
      }
      if (taken !== UNMATCHED) {
        duplicate(taken, r)
        continue
      }
    }
    // 3. same content, timestamp off: first among the truth frames close in time (the
    //    nearest), then around the expected position
    let found = UNMATCHED
    let dup = UNMATCHED
    const near = received.tsUs(r)
    const from = lowerBound(truth, byTime, near - timeWindowUs)
    const to = upperBound(truth, byTime, near + timeWindowUs)
    let best = Number.POSITIVE_INFINITY
    for (let k = from; k < to; k++) {
      const t = byTime[k]!
      if (!sameContent(t, r)) continue
      const distance = Math.abs(truth.tsUs(t) - near)
      if (receivedOf[t] === UNMATCHED) {
        if (distance < best) {
          best = distance
          found = t
        }
      } else if (dup === UNMATCHED) dup = t
    }
    for (let d = 0; d <= window && found === UNMATCHED; d++) {
      for (let side = 0; side < (d === 0 ? 1 : 2); side++) {
        const t = side === 0 ? cursor + d : cursor - d
        if (t < 0 || t >= n || !sameContent(t, r)) continue
        if (receivedOf[t] === UNMATCHED) {
          found = t
          break
        }
        if (dup === UNMATCHED) dup = t
      }
    }
    if (found !== UNMATCHED) {
      pair(found, r)
      continue
    }
    if (dup !== UNMATCHED) {
      duplicate(dup, r)
      continue
    }
    if (other !== UNMATCHED) {
      // a frame with its timestamp whose content differs: corrupted (paired, so not lost)
      pair(other, r)
      corrupt(other, r, fieldsDiffering(other, r))
      continue
    }
    result.unexpected++
    corrupt(UNMATCHED, r, [])
  }

  // lost, or missed inside a blind window
  const blind = options.blindWindows ?? []
  for (let t = 0; t < n; t++) {
    if (receivedOf[t] !== UNMATCHED) continue
    const ts = truth.tsUs(t)
    const w = blind.find((b) => ts >= b.startUs && ts <= b.endUs)
    if (w !== undefined) {
      result.missedBlind++
      result.missedByWindow[w.label] = (result.missedByWindow[w.label] ?? 0) + 1
    } else {
      result.lost++
      if (ex.lost.length < maxExamples) ex.lost.push(t)
    }
  }

  // reordering: matched truth positions in arrival order, outside a longest increasing run
  const order: number[] = []
  const orderReceived: number[] = []
  for (let r = 0; r < m; r++) {
    const t = matchOf[r]!
    if (t !== UNMATCHED) {
      order.push(t)
      orderReceived.push(r)
    }
  }
  const keep = longestIncreasing(order)
  result.reordered = order.length - keep.size
  for (let k = 0; k < order.length && ex.reordered.length < maxExamples; k++) {
    if (!keep.has(k)) ex.reordered.push(orderReceived[k]!)
  }
  return result
}

/** Truth indices sorted by timestamp (stable). */
function sortedByTime(truth: FrameTable): Uint32Array {
  const n = truth.length
  const index = new Uint32Array(n)
  let sorted = true
  for (let i = 0; i < n; i++) {
    index[i] = i
    if (i > 0 && truth.tsUs(i) < truth.tsUs(i - 1)) sorted = false
  }
  if (sorted) return index
  return Uint32Array.from([...index].sort((a, b) => truth.tsUs(a) - truth.tsUs(b) || a - b))
}

function lowerBound(truth: FrameTable, byTime: Uint32Array, ts: number): number {
  let lo = 0
  let hi = byTime.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (truth.tsUs(byTime[mid]!) < ts) lo = mid + 1
    else hi = mid
  }
  return lo
}

function upperBound(truth: FrameTable, byTime: Uint32Array, ts: number): number {
  let lo = 0
  let hi = byTime.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (truth.tsUs(byTime[mid]!) <= ts) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Positions (into `values`) of one longest strictly increasing subsequence. O(n log n). */
export function longestIncreasing(values: readonly number[]): Set<number> {
  const n = values.length
  const tails: number[] = [] // index into values of the smallest tail of each length
  const previous = new Int32Array(n).fill(-1)
  for (let i = 0; i < n; i++) {
    const v = values[i]!
    let lo = 0
    let hi = tails.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (values[tails[mid]!]! < v) lo = mid + 1
      else hi = mid
    }
    if (lo > 0) previous[i] = tails[lo - 1]!
    tails[lo] = i
  }
  const keep = new Set<number>()
  let k = tails.length > 0 ? tails[tails.length - 1]! : -1
  while (k !== -1) {
    keep.add(k)
    k = previous[k]!
  }
  return keep
}

/** True when the comparison found nothing that fails a soak. */
export function isClean(
  result: Pick<CompareResult, 'lost' | 'duplicated' | 'reordered' | 'corrupted'>,
): boolean {
  return (
    result.lost === 0 && result.duplicated === 0 && result.reordered === 0 && result.corrupted === 0
  )
}
