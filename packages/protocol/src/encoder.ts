// Serializers: each returns bytes to write; none touches a socket. DATA batches are built
// in a preallocated buffer with no allocation per frame.
import { Packr } from 'msgpackr'
import {
  BATCH_HEADER_BYTES,
  HEADER_BYTES,
  MAGIC,
  MAX_BATCH_FRAMES,
  MAX_MESSAGE_BYTES,
  MAX_SEQUENCE,
  MESSAGE_TYPE,
  PREAMBLE_BYTES,
  PROTOCOL_VERSION,
  RECORD_HEADER_BYTES,
  type Role,
} from './constants.ts'
import {
  CONTROL_CHECKS,
  type ControlBodies,
  ControlShapeError,
  type ControlTypeName,
} from './control.ts'
import { assertValidFrame, type CanFrame } from './frame.ts'
import {
  recordLength,
  writeFrameRecord,
  writeRecordParts,
  writeTimestampParts,
  writeU32,
  writeU64Number,
} from './record.ts'

/** The 8 bytes each end sends first (PROTOCOL.md §2). */
export function encodePreamble(role: Role, version = PROTOCOL_VERSION): Uint8Array {
  const bytes = new Uint8Array(PREAMBLE_BYTES)
  bytes.set(MAGIC, 0)
  bytes[4] = version & 0xff
  bytes[5] = version >>> 8
  bytes[6] = role
  return bytes
}

/** Writes a message header (PROTOCOL.md §3) at `offset`. */
export function writeHeader(
  target: Uint8Array,
  offset: number,
  typeCode: number,
  bodyLength: number,
): void {
  target[offset] = typeCode
  target[offset + 1] = 0
  target[offset + 2] = 0
  target[offset + 3] = 0
  writeU32(target, offset + 4, bodyLength)
}

// Plain msgpack maps (no msgpackr record extension) so any msgpack library can read them.
const packr = new Packr({ useRecords: false, moreTypes: false })

/**
 * Encodes a control message, header included. The body is checked first, so a bad value
 * fails here, naming the field, and is never sent.
 */
export function encodeControl<K extends ControlTypeName>(
  type: K,
  body: ControlBodies[K],
): Uint8Array {
  let checked: ControlBodies[K]
  try {
    checked = CONTROL_CHECKS[type](body) as ControlBodies[K]
  } catch (error) {
    if (error instanceof ControlShapeError) throw new RangeError(error.message)
    throw error
  }
  const packed = packr.pack(checked)
  if (packed.length > MAX_MESSAGE_BYTES) {
    throw new RangeError(
      `${type} body of ${packed.length} bytes exceeds MAX_MESSAGE_BYTES (${MAX_MESSAGE_BYTES})`,
    )
  }
  const bytes = new Uint8Array(HEADER_BYTES + packed.length)
  writeHeader(bytes, 0, MESSAGE_TYPE[type], packed.length)
  bytes.set(packed, HEADER_BYTES)
  return bytes
}

export interface BatchEncoderOptions {
  /** most frames in one batch (≤ MAX_BATCH_FRAMES) */
  maxFrames?: number
  /** most bytes of one encoded message, header included */
  maxBytes?: number
}

/**
 * Builds one DATA message at a time in its own buffer:
 * `begin(channel, firstSeq)`, then `add*()` while they return true, then `finish()`.
 * The bytes `finish()` returns are valid until the next `begin()`.
 */
export class BatchEncoder {
  readonly maxFrames: number
  readonly #buffer: Uint8Array
  #offset = 0
  #count = 0
  #firstSeq = 0
  #open = false

  constructor(options: BatchEncoderOptions = {}) {
    this.maxFrames = options.maxFrames ?? MAX_BATCH_FRAMES
    if (
      !Number.isInteger(this.maxFrames) ||
      this.maxFrames < 1 ||
      this.maxFrames > MAX_BATCH_FRAMES
    ) {
      throw new RangeError(
        `maxFrames must be an integer in 1..${MAX_BATCH_FRAMES}, got ${this.maxFrames}`,
      )
    }
    const maxBytes =
      options.maxBytes ??
      HEADER_BYTES + BATCH_HEADER_BYTES + this.maxFrames * (RECORD_HEADER_BYTES + 64)
    if (
      !Number.isInteger(maxBytes) ||
      maxBytes < HEADER_BYTES + BATCH_HEADER_BYTES + RECORD_HEADER_BYTES + 64
    ) {
      throw new RangeError(`maxBytes must fit at least one 64-byte frame, got ${maxBytes}`)
    }
    if (maxBytes > HEADER_BYTES + MAX_MESSAGE_BYTES) {
      throw new RangeError(`maxBytes ${maxBytes} exceeds the protocol's message limit`)
    }
    this.#buffer = new Uint8Array(maxBytes)
  }

  get count(): number {
    return this.#count
  }

  /** Bytes the message would have if finished now. */
  get byteLength(): number {
    return this.#offset
  }

  begin(channel: number, firstSeq: number): void {
    if (!Number.isInteger(channel) || channel < 0 || channel > 0xffff) {
      throw new RangeError(`channel must be an integer in 0..65535, got ${channel}`)
    }
    if (!Number.isInteger(firstSeq) || firstSeq < 0 || firstSeq > MAX_SEQUENCE) {
      throw new RangeError(`firstSeq must be an integer in 0..2^53-1, got ${firstSeq}`)
    }
    const b = this.#buffer
    b[HEADER_BYTES] = channel & 0xff
    b[HEADER_BYTES + 1] = channel >>> 8
    writeU64Number(b, HEADER_BYTES + 4, firstSeq)
    this.#offset = HEADER_BYTES + BATCH_HEADER_BYTES
    this.#count = 0
    this.#firstSeq = firstSeq
    this.#open = true
  }

  /** Adds a frame object (validated). Returns false, adding nothing, when the batch is full. */
  add(frame: CanFrame): boolean {
    assertValidFrame(frame)
    if (!this.#room(recordLength(frame.flags, frame.len))) return false
    this.#offset = writeFrameRecord(this.#buffer, this.#offset, frame)
    this.#count++
    return true
  }

  /**
   * Adds a frame from its parts with the kernel's (seconds, nanoseconds) timestamp, the
   * edge's hot path: no allocation. The caller guarantees a valid frame (frameProblem).
   */
  addParts(
    seconds: number,
    nanoseconds: number,
    id: number,
    flags: number,
    len: number,
    data: Uint8Array,
    dataOffset = 0,
  ): boolean {
    if (!this.#room(recordLength(flags, len))) return false
    writeTimestampParts(this.#buffer, this.#offset, seconds, nanoseconds)
    this.#offset = writeRecordParts(this.#buffer, this.#offset, id, flags, len, data, dataOffset)
    this.#count++
    return true
  }

  /**
   * Appends records already encoded (from a ring or a spool) as they are. `records` must
   * hold exactly `count` valid records. Returns false when they do not fit.
   */
  addEncoded(records: Uint8Array, count: number): boolean {
    if (!this.#open) throw new Error('BatchEncoder: begin() first')
    if (this.#count + count > this.maxFrames || this.#offset + records.length > this.#buffer.length)
      return false
    this.#buffer.set(records, this.#offset)
    this.#offset += records.length
    this.#count += count
    return true
  }

  /** Completes the message; returns a view of the encoded bytes (header included). */
  finish(): Uint8Array {
    if (!this.#open) throw new Error('BatchEncoder: begin() first')
    if (this.#count === 0) throw new Error('BatchEncoder: a batch needs at least one frame')
    if (this.#firstSeq + this.#count - 1 > MAX_SEQUENCE) {
      throw new RangeError(`batch sequence range ${this.#firstSeq}+${this.#count} runs past 2^53-1`)
    }
    const b = this.#buffer
    writeHeader(b, 0, MESSAGE_TYPE.DATA, this.#offset - HEADER_BYTES)
    b[HEADER_BYTES + 2] = this.#count & 0xff
    b[HEADER_BYTES + 3] = this.#count >>> 8
    this.#open = false
    return b.subarray(0, this.#offset)
  }

  #room(bytes: number): boolean {
    if (!this.#open) throw new Error('BatchEncoder: begin() first')
    return this.#count < this.maxFrames && this.#offset + bytes <= this.#buffer.length
  }
}
