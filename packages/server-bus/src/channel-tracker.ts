// Per-channel state that outlives connections: the next expected sequence number (so a
// reconnecting edge resumes where the server stopped), duplicates, gaps, drops, counters.
import { type BusStateName, SequenceRanges } from '@canbridge/protocol'

/** Counters of one channel, as `TCPBus.stats()` reports them. */
export interface ChannelStats {
  /** `edgeId/interface`, e.g. `pi-garage/can0` */
  channel: string
  connected: boolean
  state: BusStateName
  /** next sequence number expected from the edge; null before the first batch */
  nextSeq: number | null
  /** frames accepted into the receive queue (after duplicates were discarded) */
  framesIn: number
  /** frames handed to the application */
  framesDelivered: number
  /** frames dropped on the server by the filters, or echoes of own frames not asked for */
  framesFiltered: number
  /** frames the edge confirmed it put on the bus */
  framesOut: number
  /** sends that failed (any reason) */
  sendFailures: number
  /** frames missing in the sequence (sum of all gaps) */
  gaps: number
  /** how many times a gap was seen */
  gapEvents: number
  /** frames received again (sequence already held) and discarded */
  duplicates: number
  /**
   * frames the edge reported lost, by reason (`ring-full`, `kernel-overflow`, ...); a report
   * that repeats a range already counted (resent after a reconnect) is not counted again
   */
  edgeDrops: Record<string, number>
  /** DROPS reports whose whole range had been counted already (resends), ignored */
  edgeDropReportsRepeated: number
  /** frames of this channel waiting in the receive queue */
  receiveQueued: number
  /** sends waiting: held while disconnected, queued for the socket, or awaiting a result */
  sendQueued: number
  /** the edge's own counters from its last STATS message */
  edgeCounters: Record<string, number>
  /**
   * whether the edge counts the frames its kernel drops (HELLO capability `kernel-drops`):
   * false means such loss shows neither as a gap nor as `edgeDrops`; null before any edge
   */
  kernelDropsCounted: boolean | null
}

/** Distinct DROPS ranges remembered per reason; beyond, the oldest are forgotten. */
export const MAX_DROP_RANGES = 4096

export class ChannelTracker {
  readonly name: string
  readonly edgeId: string
  readonly iface: string
  fd = false
  connected = false
  state: BusStateName = 'active'
  nextSeq: number | null = null
  framesIn = 0
  framesDelivered = 0
  framesFiltered = 0
  framesOut = 0
  sendFailures = 0
  gaps = 0
  gapEvents = 0
  duplicates = 0
  /** frames of this channel in the receive queue */
  queued = 0
  edgeDrops: Record<string, number> = Object.create(null)
  edgeDropReportsRepeated = 0
  /** per reason: the ranges already counted in edgeDrops */
  readonly #dropRanges = new Map<string, SequenceRanges>()
  edgeCounters: Record<string, number> = Object.create(null)
  kernelDropsCounted: boolean | null = null
  /** size of the last gap `admit` found (0 when none) */
  lastGap = 0

  constructor(edgeId: string, iface: string) {
    this.edgeId = edgeId
    this.iface = iface
    this.name = `${edgeId}/${iface}`
  }

  /**
   * Checks a batch's sequence range against what was received before. Returns how many
   * leading records are duplicates to skip; sets `lastGap`; advances `nextSeq`.
   */
  admit(firstSeq: number, count: number): number {
    const expected = this.nextSeq
    let skip = 0
    this.lastGap = 0
    if (expected !== null) {
      if (firstSeq + count <= expected) skip = count
      else if (firstSeq < expected) skip = expected - firstSeq
      else if (firstSeq > expected) this.lastGap = firstSeq - expected
    }
    if (skip > 0) this.duplicates += skip
    if (this.lastGap > 0) {
      this.gaps += this.lastGap
      this.gapEvents++
    }
    if (skip < count) this.nextSeq = firstSeq + count
    this.framesIn += count - skip
    return skip
  }

  /**
   * Counts frames the edge reports lost. A report with a range (`fromSeq`) counts only the
   * frames of the range not counted before for that reason: the edge sends a report again
   * on its next connection when the one that carried it died before confirming it, so an
   * identical range may come twice (PROTOCOL.md §5.4: ranges are exact). Returns the new
   * [from, to) parts (empty for a repeat), or null for a report without a range, which is
   * always counted.
   */
  addDrops(
    reason: string,
    count: number,
    fromSeq: number | null = null,
  ): [number, number][] | null {
    if (fromSeq === null) {
      this.edgeDrops[reason] = (this.edgeDrops[reason] ?? 0) + count
      return null
    }
    let ranges = this.#dropRanges.get(reason)
    if (!ranges) {
      ranges = new SequenceRanges(MAX_DROP_RANGES)
      this.#dropRanges.set(reason, ranges)
    }
    const fresh = ranges.addNew(fromSeq, fromSeq + count)
    if (fresh.length === 0) {
      this.edgeDropReportsRepeated++
      return fresh
    }
    let added = 0
    for (const [from, to] of fresh) added += to - from
    this.edgeDrops[reason] = (this.edgeDrops[reason] ?? 0) + added
    return fresh
  }

  snapshot(sendQueued: number): ChannelStats {
    return {
      channel: this.name,
      connected: this.connected,
      state: this.state,
      nextSeq: this.nextSeq,
      framesIn: this.framesIn,
      framesDelivered: this.framesDelivered,
      framesFiltered: this.framesFiltered,
      framesOut: this.framesOut,
      sendFailures: this.sendFailures,
      gaps: this.gaps,
      gapEvents: this.gapEvents,
      duplicates: this.duplicates,
      edgeDrops: { ...this.edgeDrops },
      edgeDropReportsRepeated: this.edgeDropReportsRepeated,
      receiveQueued: this.queued,
      sendQueued,
      edgeCounters: { ...this.edgeCounters },
      kernelDropsCounted: this.kernelDropsCounted,
    }
  }
}
