// The bounded receive queue between the sockets and the application. It copies validated
// frame records into pooled blocks (no object per frame while queued, and no socket buffer
// outlives its read, so the garbage collector frees them young) and builds a CanMessage when
// one is taken, applying the filters and the own-message rule at that moment.
import { FRAME_FLAG, RECORD_FIELD, recordLengthAt } from '@canbridge/protocol'
import type { ChannelTracker } from './channel-tracker.ts'
import { type CanFilter, matchesFilters } from './filters.ts'
import { type CanMessage, messageFromRecord } from './message.ts'
import { WakeList } from './wake-list.ts'

/** A slab that batches are copied into back to back; reused once every batch in it is taken. */
interface Block {
  bytes: Uint8Array
  /** bytes written */
  used: number
  /** segments in it not yet fully taken */
  live: number
}

interface Segment {
  block: Block
  /** offset of the next record to take in block.bytes */
  offset: number
  remaining: number
  channel: ChannelTracker
}

/** Large enough for the largest batch (4,096 × 78 + 12 bytes). */
const BLOCK_BYTES = 512 * 1024
/** Free blocks kept for reuse; more are left to the garbage collector. */
const SPARE_BLOCKS = 2

export interface ReceiveQueueOptions {
  /** frames held before the producers are asked to stop (`receiveQueueFrames`) */
  capacity: number
  /** called once the queue drained to half its capacity after having been full */
  onDrain?: () => void
}

/** Segments consumed at the head are compacted away once this many pile up. */
const COMPACT_AFTER = 1024

export class ReceiveQueue {
  readonly capacity: number
  readonly lowWater: number
  /** python-can filters applied as frames are taken; null passes everything */
  filters: readonly CanFilter[] | null = null
  /** deliver frames the edge echoed with the TX flag (`receiveOwnMessages`) */
  ownMessages = false
  #onDrain: () => void
  #segments: (Segment | undefined)[] = []
  #block: Block | undefined
  #spare: Block[] = []
  #head = 0
  #size = 0
  #peak = 0
  #full = false
  #closed = false
  #waiters = new WakeList()

  constructor(options: ReceiveQueueOptions) {
    this.capacity = options.capacity
    this.lowWater = Math.floor(options.capacity / 2)
    this.#onDrain = options.onDrain ?? (() => {})
  }

  /** Frames waiting (records, before filtering). */
  get size(): number {
    return this.#size
  }

  /** Largest size seen since the queue was made. */
  get peak(): number {
    return this.#peak
  }

  /** True from the push that reached the capacity until the queue drained to `lowWater`. */
  get isFull(): boolean {
    return this.#full
  }

  get closed(): boolean {
    return this.#closed
  }

  /**
   * Copies `count` records, `bytes[start, end)`, to the queue. Returns false when the queue
   * is now at or above its capacity: the producer should stop until `onDrain`.
   */
  push(
    bytes: Uint8Array,
    start: number,
    end: number,
    count: number,
    channel: ChannelTracker,
  ): boolean {
    if (this.#closed || count === 0) return !this.#closed
    const length = end - start
    let block = this.#block
    if (block === undefined || block.bytes.length - block.used < length) {
      block = this.#newBlock(length)
      this.#block = block
    }
    block.bytes.set(bytes.subarray(start, end), block.used)
    this.#segments.push({ block, offset: block.used, remaining: count, channel })
    block.used += length
    block.live++
    this.#size += count
    channel.queued += count
    if (this.#size > this.#peak) this.#peak = this.#size
    if (this.#waiters.size > 0) this.#waiters.wakeAll()
    if (this.#size >= this.capacity) this.#full = true
    return !this.#full
  }

  /** Takes the next frame that passes the filters, or null when none is queued. */
  shift(): CanMessage | null {
    const segments = this.#segments
    while (this.#head < segments.length) {
      const segment = segments[this.#head]!
      if (segment.remaining === 0) {
        this.#advanceHead()
        continue
      }
      const bytes = segment.block.bytes
      const offset = segment.offset
      const flags = bytes[offset + RECORD_FIELD.FLAGS]!
      segment.offset = offset + recordLengthAt(bytes, offset)
      segment.remaining--
      this.#size--
      const channel = segment.channel
      channel.queued--
      if (!this.#passes(bytes, offset, flags)) {
        channel.framesFiltered++
        continue
      }
      channel.framesDelivered++
      if (this.#full && this.#size <= this.lowWater) this.#drained()
      return messageFromRecord(bytes, offset, channel.name)
    }
    if (this.#full && this.#size <= this.lowWater) this.#drained()
    return null
  }

  /** Moves up to `max` passing frames into `out`; returns how many it added. */
  shiftInto(out: CanMessage[], max: number): number {
    const segments = this.#segments
    const start = out.length
    const limit = start + max
    while (out.length < limit && this.#head < segments.length) {
      const segment = segments[this.#head]!
      const channel = segment.channel
      const before = out.length
      const taken = takeRecords(
        out,
        limit,
        segment.block.bytes,
        segment,
        channel.name,
        this.filters,
        this.ownMessages,
      )
      const delivered = out.length - before
      this.#size -= taken
      channel.queued -= taken
      channel.framesFiltered += taken - delivered
      channel.framesDelivered += delivered
      if (segment.remaining === 0) this.#advanceHead()
    }
    if (this.#full && this.#size <= this.lowWater) this.#drained()
    return out.length - start
  }

  /**
   * Resolves when frames may be available (something was pushed), the queue closed, the
   * timeout passed or the signal aborted. Callers check again afterwards.
   */
  wait(timeoutMs?: number, signal?: AbortSignal): Promise<void> {
    if (this.#size > 0 || this.#closed || signal?.aborted) return Promise.resolve()
    return this.#waiters.wait(timeoutMs, signal)
  }

  /** Drops everything queued and wakes every waiter; later pushes are ignored. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (let i = this.#head; i < this.#segments.length; i++) {
      const segment = this.#segments[i]
      if (segment) segment.channel.queued -= segment.remaining
    }
    this.#segments = []
    this.#head = 0
    this.#size = 0
    this.#block = undefined
    this.#spare = []
    this.#waiters.wakeAll()
  }

  #passes(bytes: Uint8Array, offset: number, flags: number): boolean {
    return recordPasses(bytes, offset, flags, this.filters, this.ownMessages)
  }

  #newBlock(length: number): Block {
    const spare = length <= BLOCK_BYTES ? this.#spare.pop() : undefined
    return spare ?? { bytes: new Uint8Array(Math.max(BLOCK_BYTES, length)), used: 0, live: 0 }
  }

  /** A segment was fully taken: recycle its block once nothing in it is left. */
  #releaseBlock(block: Block): void {
    if (--block.live > 0) return
    block.used = 0
    if (block === this.#block) return
    if (this.#spare.length < SPARE_BLOCKS && block.bytes.length === BLOCK_BYTES)
      this.#spare.push(block)
  }

  #advanceHead(): void {
    const segment = this.#segments[this.#head]
    if (segment !== undefined) this.#releaseBlock(segment.block)
    this.#segments[this.#head] = undefined
    this.#head++
    if (this.#head === this.#segments.length) {
      this.#segments.length = 0
      this.#head = 0
    } else if (this.#head >= COMPACT_AFTER) {
      this.#segments.splice(0, this.#head)
      this.#head = 0
    }
  }

  #drained(): void {
    this.#full = false
    this.#onDrain()
  }
}

/** The own-message rule and the filters, on a record (flags read by the caller). */
export function recordPasses(
  bytes: Uint8Array,
  offset: number,
  flags: number,
  filters: readonly CanFilter[] | null,
  ownMessages: boolean,
): boolean {
  if (flags & FRAME_FLAG.TX && !ownMessages) return false
  if (filters === null) return true
  const at = offset + RECORD_FIELD.ID
  const id = bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)
  return matchesFilters(filters, id, (flags & FRAME_FLAG.EXT) !== 0)
}

/** A run of records being taken: the next one's offset and how many are left. */
export interface RecordCursor {
  offset: number
  remaining: number
}

/**
 * Takes records at `cursor` into `out` as messages until the run ends or `out` holds `limit`
 * (records the filters or the own-message rule refuse are skipped); returns how many records
 * it took, skipped ones included. Advances the cursor.
 */
export function takeRecords(
  out: CanMessage[],
  limit: number,
  bytes: Uint8Array,
  cursor: RecordCursor,
  channel: string,
  filters: readonly CanFilter[] | null,
  ownMessages: boolean,
): number {
  let offset = cursor.offset
  let remaining = cursor.remaining
  let taken = 0
  while (remaining > 0 && out.length < limit) {
    const flags = bytes[offset + RECORD_FIELD.FLAGS]!
    const record = offset
    offset += recordLengthAt(bytes, offset)
    remaining--
    taken++
    if (recordPasses(bytes, record, flags, filters, ownMessages)) {
      out.push(messageFromRecord(bytes, record, channel))
    }
  }
  cursor.offset = offset
  cursor.remaining = remaining
  return taken
}
