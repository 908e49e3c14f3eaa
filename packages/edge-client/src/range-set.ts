// A set of sequence numbers kept as sorted, merged [from, to) ranges: which drops were
// already reported, so that none is reported twice (a resend passes a gap again).

export class RangeSet {
  #ranges: [number, number][] = []

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
