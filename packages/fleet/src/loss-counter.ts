// Frames a reader will never get, each counted once: a gap in a channel's sequence and the
// edge's drop report for the same frames are one loss, whichever the stream delivers first
// (the gateway stores drop reports beside the batches, not in their order).
import { SequenceRanges } from '@canbridge/protocol'
import type { DropReport, Gap } from './channel-order.ts'

/** Distinct lost ranges remembered per channel; beyond, the oldest are forgotten. */
const MAX_RANGES = 4096

export class LossCounter {
  readonly #ranges = new Map<string, SequenceRanges>()
  /** frames lost so far, per channel `edgeId/interface` */
  readonly byChannel = new Map<string, number>()
  total = 0

  /** A `'gap'` event of FleetClient; returns how many of its frames are newly lost. */
  gap(gap: Gap): number {
    return this.#add(gap.edgeId, gap.channel, gap.fromSeq, gap.count)
  }

  /** A `'drop'` event of FleetClient; returns how many of its frames are newly lost. */
  drop(drop: { edgeId: string; channel: string } & DropReport): number {
    return this.#add(drop.edgeId, drop.channel, drop.fromSeq, drop.count)
  }

  #add(edgeId: string, channel: string, fromSeq: number | null, count: number): number {
    const name = `${edgeId}/${channel}`
    let added = count // frames dropped before they were numbered cannot show as a gap
    if (fromSeq !== null) {
      let ranges = this.#ranges.get(name)
      if (ranges === undefined) {
        ranges = new SequenceRanges(MAX_RANGES)
        this.#ranges.set(name, ranges)
      }
      added = 0
      for (const [from, to] of ranges.addNew(fromSeq, fromSeq + count)) added += to - from
    }
    if (added > 0) {
      this.total += added
      this.byChannel.set(name, (this.byChannel.get(name) ?? 0) + added)
    }
    return added
  }
}
