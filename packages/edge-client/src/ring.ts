// Single-producer single-consumer ring of protocol frame records (PROTOCOL.md §6.2) in a
// SharedArrayBuffer: the poll worker writes records in place, the socket-write worker
// copies contiguous runs of them straight into DATA batches and frees them on ACK.
//
// Layout: [control: Int32 × CONTROL_SLOTS][counters: Float64 × COUNTER_SLOTS][data]
// Sequence numbers are not stored per record: every record and every dropped frame uses
// one, so the consumer numbers records by counting from RELEASE_SEQ. A run of frames the
// producer had to drop leaves a GAP marker in the data (written once room returns) so the
// consumer skips their numbers and reports them; frames the kernel dropped before the
// producer read them leave a GAP marker of their own kind at the place they were lost.
import {
  FRAME_FLAG,
  RECORD_FIELD,
  RECORD_HEADER_BYTES,
  recordLength,
  recordLengthAt,
  writeRecordParts,
  writeTimestampParts,
} from '@canbridge/protocol/frames'

/** Int32 control slots (Atomics). */
export const RING_CONTROL = {
  /** producer: byte offset where the next record goes; published with Atomics.store */
  WRITE_POS: 0,
  /** consumer: byte offset of the oldest record still held (freed on ACK / spooled) */
  RELEASE_POS: 1,
  /** 1 once the consumer has set RELEASE_SEQ for this ring (first start of a process) */
  SEQ_READY: 2,
  /** data capacity in bytes */
  CAPACITY: 3,
  /**
   * consumer: 1 once a record of this ring was sent or spooled; until then its numbering
   * may still be rebased (survives a restart of the consumer's worker)
   */
  TOUCHED: 4,
  /**
   * producer: PENDING_GAP as an Int32 (saturating), for the consumer's check for drops at
   * the end of what was published (see RingConsumer.trailingGap)
   */
  PENDING_GAP: 5,
} as const
const CONTROL_SLOTS = 8

/**
 * Float64 counter slots, each written by one thread only (named owner) and read racily by
 * others for statistics; RELEASE_SEQ and PENDING_GAP survive a worker restart.
 */
export const RING_COUNTER = {
  /** producer: frames taken from the channel (kept or dropped) */
  FRAMES_READ: 0,
  /** producer: frames dropped because the ring was full */
  DROPPED_RING_FULL: 1,
  /** producer: frames dropped since the last GAP marker, not yet written as a marker */
  PENDING_GAP: 2,
  /** consumer: sequence number of the record at RELEASE_POS */
  RELEASE_SEQ: 3,
  /** consumer: frames handed to the socket (all connections) */
  FRAMES_SENT: 4,
  /** consumer: frames acknowledged by the server */
  FRAMES_ACKED: 5,
  /** producer: own transmitted frames echoed into the ring */
  FRAMES_ECHOED: 6,
  /**
   * consumer: the sequence number of this ring's first frame (moved by a rebase); plus
   * FRAMES_READ, which counts every number the producer gave out, it is the next one
   */
  SEQ_BASE: 7,
  /** producer: frames the kernel dropped from the socket queue, marked in the ring */
  DROPPED_KERNEL: 8,
  /** producer: frames the interface counted as lost (controller, driver); not numbered */
  DROPPED_INTERFACE: 9,
  /** producer: batches read from the channel (FRAMES_READ / READ_BATCHES: frames per wake-up) */
  READ_BATCHES: 10,
} as const
const COUNTER_SLOTS = 11

const DATA_START = CONTROL_SLOTS * 4 + COUNTER_SLOTS * 8

/** A marker sits where a record would and has this flags byte (reserved bit: no record has it). */
const MARK = FRAME_FLAG.RESERVED
/** marker kind in the len byte: the rest of the data area is unused, continue at offset 0 */
const MARK_PAD = 0
/** marker kind: `count` frames (u64 in the timestamp field) were dropped here (ring full) */
const MARK_GAP = 1
/** marker kind: `count` frames were dropped here by the kernel (socket queue full) */
const MARK_KERNEL_GAP = 2

/** Why the frames of a gap were lost, by marker kind: the DROPS reason. */
export const GAP_REASON = {
  RING_FULL: 'ring-full',
  KERNEL_OVERFLOW: 'kernel-overflow',
} as const
export type GapReason = (typeof GAP_REASON)[keyof typeof GAP_REASON]

/** a marker is a record header whose flags byte is MARK and whose len byte is its kind */
const FLAGS_AT = RECORD_FIELD.FLAGS
const LEN_AT = RECORD_FIELD.LEN
const TWO_POW_32 = 4_294_967_296

/** Smallest ring the daemon accepts: room for a few hundred of the largest records. */
export const MIN_RING_BYTES = 16 * 1024
export const MAX_RING_BYTES = 1024 * 1024 * 1024

/** Doorbell shared by every ring of one edge: the producer rings it, the consumer waits on it. */
export const DOORBELL = {
  /** incremented by every publish */
  COUNT: 0,
  /** 1 while the consumer waits: only then does a publish pay for Atomics.notify */
  WAITING: 1,
} as const

export function createDoorbell(): SharedArrayBuffer {
  return new SharedArrayBuffer(8)
}

export function createRing(capacity: number): SharedArrayBuffer {
  if (!Number.isInteger(capacity) || capacity < MIN_RING_BYTES || capacity > MAX_RING_BYTES) {
    throw new RangeError(
      `ring capacity must be an integer in ${MIN_RING_BYTES}..${MAX_RING_BYTES} bytes, got ${capacity}`,
    )
  }
  const buffer = new SharedArrayBuffer(DATA_START + capacity)
  new Int32Array(buffer, 0, CONTROL_SLOTS)[RING_CONTROL.CAPACITY] = capacity
  reserveResidentPages(buffer)
  return buffer
}

/** No page is smaller than this (4 KiB on x86-64, 4 or 16 KiB on a Raspberry Pi's arm64). */
const SMALLEST_PAGE_BYTES = 4096

/**
 * Writes one byte in every page so the kernel backs the whole ring now: the edge takes its
 * memory at start (an out-of-memory shows at once, not hours into a drive), the poll worker
 * never takes a page fault on the hot path, and RSS is flat from the start instead of
 * climbing while the ring first fills.
 */
function reserveResidentPages(buffer: SharedArrayBuffer): void {
  const bytes = new Uint8Array(buffer)
  for (let at = 0; at < bytes.length; at += SMALLEST_PAGE_BYTES) bytes[at] = 0
}

class RingView {
  readonly control: Int32Array
  readonly counters: Float64Array
  readonly data: Uint8Array
  readonly capacity: number

  constructor(buffer: SharedArrayBuffer) {
    this.control = new Int32Array(buffer, 0, CONTROL_SLOTS)
    this.counters = new Float64Array(buffer, CONTROL_SLOTS * 4, COUNTER_SLOTS)
    this.capacity = this.control[RING_CONTROL.CAPACITY]!
    if (buffer.byteLength !== DATA_START + this.capacity) {
      throw new RangeError(
        `not a ring buffer: ${buffer.byteLength} bytes for capacity ${this.capacity}`,
      )
    }
    this.data = new Uint8Array(buffer, DATA_START, this.capacity)
  }

  /** Bytes between the release position and the write position (held, sent or not). */
  usedBytes(): number {
    const w = Atomics.load(this.control, RING_CONTROL.WRITE_POS)
    const r = Atomics.load(this.control, RING_CONTROL.RELEASE_POS)
    return w >= r ? w - r : this.capacity - r + w
  }
}

/** Read-only view for statistics (main thread). */
export class RingMonitor extends RingView {
  counter(slot: number): number {
    return this.counters[slot]!
  }
}

/** The poll worker's end: writes records, drops (counting) when full, publishes. */
export class RingProducer extends RingView {
  readonly #doorbell: Int32Array
  #writePos: number
  #releasePos: number
  #unpublished = false

  constructor(buffer: SharedArrayBuffer, doorbell: SharedArrayBuffer) {
    super(buffer)
    this.#doorbell = new Int32Array(doorbell)
    this.#writePos = Atomics.load(this.control, RING_CONTROL.WRITE_POS)
    this.#releasePos = Atomics.load(this.control, RING_CONTROL.RELEASE_POS)
  }

  /**
   * Writes one frame (the caller has validated it). Returns false when the ring is full:
   * the frame is dropped, counted, and its sequence number is still used.
   */
  write(
    seconds: number,
    nanoseconds: number,
    id: number,
    flags: number,
    len: number,
    data: Uint8Array,
    dataOffset: number,
  ): boolean {
    const counters = this.counters
    counters[RING_COUNTER.FRAMES_READ]!++
    const rollback = this.#writePos
    const gap = counters[RING_COUNTER.PENDING_GAP]!
    if (gap > 0 && !this.#writeGap(gap, MARK_GAP)) return this.#drop()
    const at = this.#reserve(recordLength(flags, len))
    if (at < 0) {
      // no room for marker and frame together: keep one growing gap, not many small ones
      this.#writePos = rollback
      return this.#drop()
    }
    counters[RING_COUNTER.PENDING_GAP] = 0
    if (gap > 0) Atomics.store(this.control, RING_CONTROL.PENDING_GAP, 0)
    writeTimestampParts(this.data, at, seconds, nanoseconds)
    writeRecordParts(this.data, at, id, flags, len, data, dataOffset)
    this.#unpublished = true
    return true
  }

  /**
   * Marks `count` frames the kernel dropped before the next frame (or, at the end of what
   * was read, before any later one): they take the next `count` sequence numbers. Without
   * room for the marker the ring is full and they join its pending gap (reported as
   * ring-full: the ring could not have held them either).
   */
  dropKernel(count: number): void {
    const counters = this.counters
    counters[RING_COUNTER.FRAMES_READ]! += count
    const rollback = this.#writePos
    const gap = counters[RING_COUNTER.PENDING_GAP]!
    if ((gap > 0 && !this.#writeGap(gap, MARK_GAP)) || !this.#writeGap(count, MARK_KERNEL_GAP)) {
      this.#writePos = rollback
      this.#drop(count)
      return
    }
    counters[RING_COUNTER.DROPPED_KERNEL]! += count
    counters[RING_COUNTER.PENDING_GAP] = 0
    if (gap > 0) Atomics.store(this.control, RING_CONTROL.PENDING_GAP, 0)
    this.#unpublished = true
  }

  /** Makes everything written so far visible to the consumer and wakes it. */
  publish(): void {
    if (!this.#unpublished) return
    this.#unpublished = false
    Atomics.store(this.control, RING_CONTROL.WRITE_POS, this.#writePos)
    Atomics.add(this.#doorbell, DOORBELL.COUNT, 1)
    if (Atomics.load(this.#doorbell, DOORBELL.WAITING) === 1) {
      Atomics.notify(this.#doorbell, DOORBELL.COUNT)
    }
  }

  #drop(count = 1): false {
    // everything written before the drop is published first, so that the pending gap
    // always starts right after the published records
    if (this.#unpublished) this.publish()
    const counters = this.counters
    counters[RING_COUNTER.DROPPED_RING_FULL]! += count
    counters[RING_COUNTER.PENDING_GAP]! += count
    const pending = counters[RING_COUNTER.PENDING_GAP]!
    Atomics.store(this.control, RING_CONTROL.PENDING_GAP, Math.min(pending, 0x7fff_ffff))
    return false
  }

  #writeGap(count: number, kind: number): boolean {
    const at = this.#reserve(RECORD_HEADER_BYTES)
    if (at < 0) return false
    writeU64(this.data, at, count)
    this.data.fill(0, at + RECORD_FIELD.ID, at + RECORD_FIELD.ID + 4)
    this.data[at + FLAGS_AT] = MARK
    this.data[at + LEN_AT] = kind
    return true
  }

  /** Offset for `length` bytes, or -1 when they do not fit. Never fills the ring completely. */
  #reserve(length: number): number {
    let at = this.#fit(length)
    if (at < 0) {
      this.#releasePos = Atomics.load(this.control, RING_CONTROL.RELEASE_POS)
      at = this.#fit(length)
      if (at < 0) return -1
    }
    return at
  }

  #fit(length: number): number {
    const w = this.#writePos
    const r = this.#releasePos
    const capacity = this.capacity
    if (w >= r) {
      if (capacity - w >= length) {
        this.#writePos = w + length
        return w
      }
      // Wrap: a record never spans the end. Room at the start must stay below r, so that
      // write = release keeps meaning "empty".
      if (length >= r) return -1
      if (capacity - w >= RECORD_HEADER_BYTES) {
        this.data[w + FLAGS_AT] = MARK
        this.data[w + LEN_AT] = MARK_PAD
      }
      this.#writePos = length
      return 0
    }
    if (r - w <= length) return -1
    this.#writePos = w + length
    return w
  }
}

/** What RingConsumer.peek found at the cursor. */
export const RUN_KIND = {
  /** nothing published past the cursor */
  EMPTY: 0,
  /** `count` contiguous records in data[start, end) */
  RECORDS: 1,
  /** `count` frames were dropped here (`gapReason` says why) */
  GAP: 2,
} as const

/**
 * The socket-write worker's end. The cursor (next record to send) is local to it; the
 * release position (oldest record not yet acknowledged) is shared so that the producer
 * sees freed space.
 */
export class RingConsumer extends RingView {
  cursorPos: number
  cursorSeq: number
  releasePos: number
  releaseSeq: number
  // result of the last peek()
  kind: number = RUN_KIND.EMPTY
  start = 0
  end = 0
  count = 0
  /** for a GAP: why its frames were lost */
  gapReason: GapReason = GAP_REASON.RING_FULL

  constructor(buffer: SharedArrayBuffer, initialSeq: number) {
    super(buffer)
    if (Atomics.load(this.control, RING_CONTROL.SEQ_READY) === 0) {
      this.counters[RING_COUNTER.RELEASE_SEQ] = initialSeq
      this.counters[RING_COUNTER.SEQ_BASE] = initialSeq
      Atomics.store(this.control, RING_CONTROL.SEQ_READY, 1)
    }
    this.releasePos = Atomics.load(this.control, RING_CONTROL.RELEASE_POS)
    this.releaseSeq = this.counters[RING_COUNTER.RELEASE_SEQ]!
    this.cursorPos = this.releasePos
    this.cursorSeq = this.releaseSeq
  }

  /** Sequence number the next frame written to the ring will get (frames held + pending). */
  writeSeq(): number {
    const w = Atomics.load(this.control, RING_CONTROL.WRITE_POS)
    let pos = this.cursorPos
    let seq = this.cursorSeq
    while (pos !== w) {
      this.#unitAt(this.#normalize(pos))
      seq += this.count
      pos = this.end
    }
    return seq + this.counters[RING_COUNTER.PENDING_GAP]!
  }

  /**
   * Sequence after every number the producer has given out so far (records, drops and
   * echoes; also those not yet published): O(1), from counters, so cheap enough to check
   * at every wake-up. Read racily, it may lag the producer by the frame it is writing.
   */
  numberedSeq(): number {
    return this.counters[RING_COUNTER.SEQ_BASE]! + this.counters[RING_COUNTER.FRAMES_READ]!
  }

  /**
   * Frames the producer dropped after the last published record, not yet marked in the
   * ring (the marker is written once room returns): nonzero only when the cursor has
   * reached the write position. Their numbers start at cursorSeq.
   */
  trailingGap(): number {
    const w = Atomics.load(this.control, RING_CONTROL.WRITE_POS)
    if (this.cursorPos !== w) return 0
    const pending = Atomics.load(this.control, RING_CONTROL.PENDING_GAP)
    // unchanged write position: the count belongs after it (a marker resets it and moves it)
    return Atomics.load(this.control, RING_CONTROL.WRITE_POS) === w ? pending : 0
  }

  /**
   * Looks at what follows the cursor: a run of at most `maxFrames` records and `maxBytes`
   * bytes that does not cross the wrap, a gap, or nothing. Does not move the cursor.
   */
  peek(maxFrames: number, maxBytes: number): number {
    const w = Atomics.load(this.control, RING_CONTROL.WRITE_POS)
    if (this.cursorPos !== w) this.cursorPos = this.#normalize(this.cursorPos)
    return this.#runAt(this.cursorPos, w, maxFrames, maxBytes)
  }

  /**
   * Looks at the oldest records held (from the release position, sent or not), for moving
   * them to the spool or dropping them. Follow with releaseTo(end, releaseSeq + count).
   */
  peekOldest(maxFrames: number, maxBytes: number): number {
    const w = Atomics.load(this.control, RING_CONTROL.WRITE_POS)
    if (this.releasePos !== w) this.releasePos = this.#normalize(this.releasePos)
    return this.#runAt(this.releasePos, w, maxFrames, maxBytes)
  }

  /**
   * Frees everything before byte offset `pos`, whose sequence number is `seq` (a run found
   * by peekOldest, moved or dropped). The cursor moves along if it was inside.
   */
  releaseTo(pos: number, seq: number): void {
    if (seq <= this.releaseSeq) return // acknowledged meanwhile: already free
    this.releasePos = pos
    this.releaseSeq = seq
    if (this.cursorSeq <= seq) {
      this.cursorPos = pos
      this.cursorSeq = seq
    }
    this.counters[RING_COUNTER.RELEASE_SEQ] = seq
    Atomics.store(this.control, RING_CONTROL.RELEASE_POS, pos)
  }

  #runAt(pos: number, w: number, maxFrames: number, maxBytes: number): number {
    if (pos === w) return this.#result(RUN_KIND.EMPTY, pos, pos, 0)
    const data = this.data
    if (data[pos + FLAGS_AT] === MARK) return this.#gapAt(pos)
    const start = pos
    const limit = w > start ? w : this.capacity
    let count = 0
    while (pos !== limit && count < maxFrames) {
      if (limit - pos < RECORD_HEADER_BYTES) break
      if (data[pos + FLAGS_AT] === MARK) break
      const length = recordLengthAt(data, pos)
      if (pos + length - start > maxBytes) break
      pos += length
      count++
    }
    return this.#result(RUN_KIND.RECORDS, start, pos, count)
  }

  /** Moves the cursor past what the last peek() found. */
  advance(): void {
    this.cursorPos = this.end
    this.cursorSeq += this.count
  }

  /**
   * Frees every record below `seq` that the cursor has passed. Returns how many sequence
   * numbers were released (records and gaps).
   */
  release(seq: number): number {
    const before = this.releaseSeq
    let pos = this.releasePos
    let released = before
    while (released < seq && pos !== this.cursorPos) {
      // pos is behind the cursor, so the producer has written past it: safe to normalize
      pos = this.#normalize(pos)
      if (pos === this.cursorPos) break
      this.#unitAt(pos)
      if (released + this.count > seq) {
        // split a gap: keep its tail by rewriting the marker's count in place
        writeU64(this.data, pos, released + this.count - seq)
        released = seq
        break
      }
      released += this.count
      pos = this.end
    }
    if (released === before) return 0
    this.releasePos = pos
    this.releaseSeq = released
    this.counters[RING_COUNTER.RELEASE_SEQ] = released
    Atomics.store(this.control, RING_CONTROL.RELEASE_POS, pos)
    return released - before
  }

  /**
   * Sets the cursor to the record with sequence number `seq` (clamped to what is held).
   * Returns the sequence number the cursor is at.
   */
  seek(seq: number): number {
    const w = Atomics.load(this.control, RING_CONTROL.WRITE_POS)
    if (seq < this.cursorSeq) {
      this.cursorPos = this.releasePos
      this.cursorSeq = this.releaseSeq
    }
    while (this.cursorSeq < seq && this.cursorPos !== w) {
      const pos = this.#normalize(this.cursorPos)
      this.#unitAt(pos)
      if (this.kind === RUN_KIND.RECORDS && this.cursorSeq + this.count > seq) {
        this.cursorPos = pos
        break
      }
      // a gap the target falls inside has nothing to send: skip to its end
      this.cursorSeq += this.count
      this.cursorPos = this.end
    }
    return this.cursorSeq
  }

  /** Whether anything of this ring was ever sent or spooled (then it must not be rebased). */
  get touched(): boolean {
    return Atomics.load(this.control, RING_CONTROL.TOUCHED) === 1
  }

  markTouched(): void {
    if (Atomics.load(this.control, RING_CONTROL.TOUCHED) === 0)
      Atomics.store(this.control, RING_CONTROL.TOUCHED, 1)
  }

  /** Renumbers everything held so that the oldest record gets `seq` (see WELCOME rebase). */
  rebase(seq: number): void {
    const delta = seq - this.releaseSeq
    this.releaseSeq = seq
    this.cursorSeq += delta
    this.counters[RING_COUNTER.RELEASE_SEQ] = seq
    this.counters[RING_COUNTER.SEQ_BASE]! += delta
  }

  /** Describes the unit (record or marker) at a normalized `at`: sets kind/start/end/count. */
  #unitAt(at: number): void {
    const data = this.data
    if (data[at + FLAGS_AT] === MARK) {
      this.#gapAt(at)
      return
    }
    const length = recordLengthAt(data, at)
    this.#result(RUN_KIND.RECORDS, at, at + length, 1)
  }

  #gapAt(at: number): number {
    const data = this.data
    this.gapReason =
      data[at + LEN_AT] === MARK_KERNEL_GAP ? GAP_REASON.KERNEL_OVERFLOW : GAP_REASON.RING_FULL
    return this.#result(RUN_KIND.GAP, at, at + RECORD_HEADER_BYTES, readU64(data, at))
  }

  /** Where the unit at `pos` really starts: 0 after the producer wrapped. */
  #normalize(pos: number): number {
    if (this.capacity - pos < RECORD_HEADER_BYTES) return 0
    const data = this.data
    if (data[pos + FLAGS_AT] === MARK && data[pos + LEN_AT] === MARK_PAD) return 0
    return pos
  }

  #result(kind: number, start: number, end: number, count: number): number {
    this.kind = kind
    this.start = start
    this.end = end
    this.count = count
    return kind
  }
}

function writeU64(target: Uint8Array, offset: number, value: number): void {
  const high = Math.floor(value / TWO_POW_32)
  const low = value - high * TWO_POW_32
  target[offset] = low
  target[offset + 1] = low >>> 8
  target[offset + 2] = low >>> 16
  target[offset + 3] = low >>> 24
  target[offset + 4] = high
  target[offset + 5] = high >>> 8
  target[offset + 6] = high >>> 16
  target[offset + 7] = high >>> 24
}

function readU64(source: Uint8Array, offset: number): number {
  const low =
    (source[offset]! | (source[offset + 1]! << 8) | (source[offset + 2]! << 16)) +
    source[offset + 3]! * 0x1000000
  const high =
    (source[offset + 4]! | (source[offset + 5]! << 8) | (source[offset + 6]! << 16)) +
    source[offset + 7]! * 0x1000000
  return high * TWO_POW_32 + low
}
