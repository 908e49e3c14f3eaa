// What a consumer knows of each channel it reads: the next sequence it expects, so a batch
// that starts later is a gap (with the drops the edge reported for it) and one that starts
// earlier is a repeat it skips. Exactly-once for the reader, whatever the stream holds.
import { SequenceRanges } from '@canbridge/protocol'

export interface Gap {
  edgeId: string
  channel: string
  /** first missing sequence number */
  fromSeq: number
  count: number
  /** how many of them the edge reported as dropped (the rest: missing without a report) */
  reported: number
}

export interface DropReport {
  fromSeq: number | null
  count: number
  reason: string
}

export class ChannelOrder {
  readonly edgeId: string
  readonly channel: string
  /** next sequence expected; undefined until the first batch */
  next: number | undefined
  /** ranges the edge reported dropped that are not yet passed */
  #reported = new SequenceRanges()
  /** frames dropped before being numbered (kernel overflow), counted */
  unnumberedDrops = 0

  constructor(edgeId: string, channel: string, next?: number) {
    this.edgeId = edgeId
    this.channel = channel
    this.next = next
  }

  report(drop: DropReport): void {
    if (drop.fromSeq === null) this.unnumberedDrops += drop.count
    else this.#reported.addNew(drop.fromSeq, drop.fromSeq + drop.count)
  }

  /**
   * A batch of `count` frames from `firstSeq` arrives: returns how many leading frames to
   * skip (already delivered) and the gap before it, if any.
   */
  accept(firstSeq: number, count: number): { skip: number; gap: Gap | undefined } {
    const next = this.next
    const last = firstSeq + count - 1
    if (next === undefined) {
      this.next = last + 1
      return { skip: 0, gap: undefined }
    }
    if (last < next) return { skip: count, gap: undefined }
    if (firstSeq <= next) {
      this.next = last + 1
      return { skip: next - firstSeq, gap: undefined }
    }
    const missing = firstSeq - next
    let reported = 0
    for (const [from, to] of this.#reported.intersect(next, firstSeq)) reported += to - from
    this.#reported.forgetBelow(firstSeq)
    this.next = last + 1
    return {
      skip: 0,
      gap: { edgeId: this.edgeId, channel: this.channel, fromSeq: next, count: missing, reported },
    }
  }
}
