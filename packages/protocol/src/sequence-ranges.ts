// Sequence numbers kept as sorted, merged [from, to) ranges. Both ends use it for drop
// accounting: the edge so that no drop is reported twice, the server so that a repeated
// report is counted once.

export class SequenceRanges {
  /** most ranges kept; beyond, the lowest are forgotten */
  readonly limit: number
  #ranges: [number, number][] = []

  constructor(limit = Number.POSITIVE_INFINITY) {
    if (!(limit >= 1)) throw new RangeError(`limit must be at least 1, got ${limit}`)
    this.limit = limit
  }

  get size(): number {
    return this.#ranges.length
  }

  /** Adds [from, to) and returns the parts of it that were not in the set before. */
  addNew(from: number, to: number): [number, number][] {
    const fresh: [number, number][] = []
    let cursor = from
    for (const [a, b] of this.#ranges) {
      if (b <= cursor) continue
      if (a >= to) break
      if (a > cursor) fresh.push([cursor, Math.min(a, to)])
      cursor = Math.max(cursor, b)
      if (cursor >= to) break
    }
    if (cursor < to) fresh.push([cursor, to])
    for (const [a, b] of fresh) this.#insert(a, b)
    if (this.#ranges.length > this.limit) this.#ranges.splice(0, this.#ranges.length - this.limit)
    return fresh
  }

  /** The parts of [from, to) that are in the set. */
  intersect(from: number, to: number): [number, number][] {
    const parts: [number, number][] = []
    for (const [a, b] of this.#ranges) {
      if (b <= from) continue
      if (a >= to) break
      parts.push([Math.max(a, from), Math.min(b, to)])
    }
    return parts
  }

  /** Forgets everything below `seq` (acknowledged: it cannot come up again). */
  forgetBelow(seq: number): void {
    while (this.#ranges.length > 0 && this.#ranges[0]![1] <= seq) this.#ranges.shift()
  }

  #insert(from: number, to: number): void {
    const ranges = this.#ranges
    let i = 0
    while (i < ranges.length && ranges[i]![1] < from) i++
    let start = from
    let end = to
    let j = i
    while (j < ranges.length && ranges[j]![0] <= end) {
      start = Math.min(start, ranges[j]![0])
      end = Math.max(end, ranges[j]![1])
      j++
    }
    ranges.splice(i, j - i, [start, end])
  }
}
