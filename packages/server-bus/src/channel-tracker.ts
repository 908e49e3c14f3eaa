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
  /**
   * frames missing in the sequence (sum of all gaps), whether or not a DROPS report explains
   * them: a gap the edge reported is in `edgeDrops` too, so do not add the two (use `lost`)
   */
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
  /**
   * frames lost, each counted once: the sequence gaps and the edge's DROPS reports together,
   * a gap a report explains counted as that one drop (in either order of arrival)
   */
  lost: number
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

/** One part of a DROPS report not counted before for its reason. */
export interface CountedDrops {
  /** the part's [from, to) sequence range, or null for a report without a range */
  from: number | null
  count: number
  /** frames of it not yet counted in `lost` (0 when a gap or another reason showed them) */
  newlyLost: number
}

export class ChannelTracker {
  readonly name: string
  readonly edgeId: string
  readonly iface: string
  fd = false
  connected = false
  state: BusStateName = 'active'
  nextSeq: number | null = null
  /**
   * Whether frames are acknowledged only once a store confirms them (`storedSeq`, the fleet
   * gateway) rather than as soon as they are received (a TCPBus holds them in memory).
   */
  durable = false
  /** with `durable`: everything below this is stored; null before anything is */
  storedSeq: number | null = null
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
  /** frames lost, each once: `gaps` and `edgeDrops` minus what both counted */
  lost = 0
  /** every sequence counted in `lost` (gaps and reported ranges): the one owner of the rule */
  readonly #lostRanges = new SequenceRanges(MAX_DROP_RANGES)
  /** size of the last gap `admit` found (0 when none) */
  lastGap = 0
  /** frames of that gap not counted in `lost` before (a DROPS report may have come first) */
  lastGapNewlyLost = 0

  /** What the edge may free: received frames, or with `durable` the stored ones. */
  get ackSeq(): number | null {
    return this.durable ? this.storedSeq : this.nextSeq
  }

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
    this.lastGapNewlyLost = 0
    if (expected !== null) {
      if (firstSeq + count <= expected) skip = count
      else if (firstSeq < expected) skip = expected - firstSeq
      else if (firstSeq > expected) this.lastGap = firstSeq - expected
    }
    if (skip > 0) this.duplicates += skip
    if (this.lastGap > 0) {
      this.gaps += this.lastGap
      this.gapEvents++
      this.lastGapNewlyLost = this.#countLost(expected!, firstSeq)
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
   * parts, each with the frames of it that `lost` did not hold yet (empty for a repeat); a
   * report without a range is always counted, as one part.
   */
  addDrops(reason: string, count: number, fromSeq: number | null = null): CountedDrops[] {
    if (fromSeq === null) {
      // frames that never got a sequence number (lost before numbering): no gap shows them
      this.edgeDrops[reason] = (this.edgeDrops[reason] ?? 0) + count
      this.lost += count
      return [{ from: null, count, newlyLost: count }]
    }
    let ranges = this.#dropRanges.get(reason)
    if (!ranges) {
      ranges = new SequenceRanges(MAX_DROP_RANGES)
      this.#dropRanges.set(reason, ranges)
    }
    const fresh = ranges.addNew(fromSeq, fromSeq + count)
    if (fresh.length === 0) this.edgeDropReportsRepeated++
    const parts: CountedDrops[] = []
    for (const [from, to] of fresh) {
      this.edgeDrops[reason] = (this.edgeDrops[reason] ?? 0) + (to - from)
      parts.push({ from, count: to - from, newlyLost: this.#countLost(from, to) })
    }
    return parts
  }

  /** Adds [from, to) to the lost sequences; returns how many of them were not there yet. */
  #countLost(from: number, to: number): number {
    let added = 0
    for (const [a, b] of this.#lostRanges.addNew(from, to)) added += b - a
    this.lost += added
    return added
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
      lost: this.lost,
      receiveQueued: this.queued,
      sendQueued,
      edgeCounters: { ...this.edgeCounters },
      kernelDropsCounted: this.kernelDropsCounted,
    }
  }
}
