// A decoded DATA batch (PROTOCOL.md §6): validated once when decoded, then read either as
// frame objects or, without allocating, through a FrameReader cursor.
import {
  BATCH_HEADER_BYTES,
  FRAME_FLAG,
  MAX_BATCH_FRAMES,
  MAX_SEQUENCE,
  MESSAGE_TYPE,
  RECORD_FIELD,
  RECORD_HEADER_BYTES,
} from './constants.ts'
import { ProtocolError } from './errors.ts'
import { type CanFrame, frameProblem } from './frame.ts'
import {
  readTimestampNs,
  readTimestampSeconds,
  readU32,
  readU64Number,
  writeU64Number,
} from './record.ts'

/** the id's most significant byte (little-endian u32) */
const ID_TOP = RECORD_FIELD.ID + 3

/**
 * Writes a batch header (§6.1: u16 channel index, u16 count, u64 first sequence) at the
 * start of `body`: the one place that knows its layout.
 */
export function writeBatchHeader(
  body: Uint8Array,
  channel: number,
  count: number,
  firstSeq: number,
): void {
  body[0] = channel & 0xff
  body[1] = channel >> 8
  body[2] = count & 0xff
  body[3] = count >> 8
  writeU64Number(body, 4, firstSeq)
}

export class DataBatch {
  /** channel index in the edge's HELLO */
  readonly channel: number
  readonly count: number
  /** sequence number of the first frame; frame i has firstSeq + i */
  readonly firstSeq: number
  /** the whole batch body; records start at BATCH_HEADER_BYTES */
  readonly body: Uint8Array

  private constructor(channel: number, count: number, firstSeq: number, body: Uint8Array) {
    this.channel = channel
    this.count = count
    this.firstSeq = firstSeq
    this.body = body
  }

  /**
   * Validates a batch body and wraps it without copying. `streamOffset` is where the
   * body starts in the stream, for error offsets.
   */
  static parse(body: Uint8Array, streamOffset = 0, maxFrames = MAX_BATCH_FRAMES): DataBatch {
    const typeCode = MESSAGE_TYPE.DATA
    if (body.length < BATCH_HEADER_BYTES) {
      throw new ProtocolError(
        'BAD_LENGTH',
        `batch body of ${body.length} bytes is shorter than its 12-byte header`,
        {
          typeCode,
          offset: streamOffset,
        },
      )
    }
    const channel = body[0]! | (body[1]! << 8)
    const count = body[2]! | (body[3]! << 8)
    const firstSeq = readU64Number(body, 4)
    if (count === 0 || count > maxFrames) {
      throw new ProtocolError('BATCH_TOO_LARGE', `batch count ${count} outside 1..${maxFrames}`, {
        typeCode,
        offset: streamOffset + 2,
      })
    }
    if (firstSeq < 0 || firstSeq > MAX_SEQUENCE - (count - 1)) {
      throw new ProtocolError('BAD_SEQUENCE', `batch sequence range does not fit below 2^53`, {
        typeCode,
        offset: streamOffset + 4,
      })
    }
    let offset = BATCH_HEADER_BYTES
    const end = body.length
    for (let i = 0; i < count; i++) {
      if (offset + RECORD_HEADER_BYTES > end) {
        throw new ProtocolError(
          'TRUNCATED_RECORD',
          `record ${i} of ${count} has no room for its header`,
          {
            typeCode,
            offset: streamOffset + offset,
          },
        )
      }
      const flags = body[offset + RECORD_FIELD.FLAGS]!
      const len = body[offset + RECORD_FIELD.LEN]!
      // Fast path for the common classic data frame (standard or extended, maybe echoed):
      // the id's top bytes decide validity; anything else gets the full check.
      const plainClassic =
        (flags & ~(FRAME_FLAG.EXT | FRAME_FLAG.TX)) === 0 &&
        len <= 8 &&
        (flags & FRAME_FLAG.EXT
          ? body[offset + ID_TOP]! <= 0x1f
          : body[offset + ID_TOP] === 0 &&
            body[offset + ID_TOP - 1] === 0 &&
            body[offset + ID_TOP - 2]! <= 0x07)
      if (!plainClassic) {
        const problem = frameProblem(readU32(body, offset + RECORD_FIELD.ID), flags, len)
        if (problem !== undefined) {
          throw new ProtocolError('BAD_FRAME', `record ${i}: ${problem}`, {
            typeCode,
            offset: streamOffset + offset,
          })
        }
      }
      const recordStart = offset
      offset += RECORD_HEADER_BYTES + (flags & FRAME_FLAG.RTR ? 0 : len)
      if (offset > end) {
        throw new ProtocolError(
          'TRUNCATED_RECORD',
          `record ${i} of ${count} runs past the end of the batch`,
          {
            typeCode,
            offset: streamOffset + recordStart,
          },
        )
      }
    }
    if (offset !== end) {
      throw new ProtocolError('BAD_LENGTH', `${end - offset} bytes after the last record`, {
        typeCode,
        offset: streamOffset + offset,
      })
    }
    return new DataBatch(channel, count, firstSeq, body)
  }

  /** A cursor over the records: no allocation per frame. */
  reader(): FrameReader {
    return new FrameReader(this)
  }

  /** The frames as objects; `data` views the batch's bytes (copy it to keep it past them). */
  frames(): CanFrame[] {
    const frames = new Array<CanFrame>(this.count)
    const body = this.body
    let offset = BATCH_HEADER_BYTES
    for (let i = 0; i < this.count; i++) {
      const flags = body[offset + RECORD_FIELD.FLAGS]!
      const len = body[offset + RECORD_FIELD.LEN]!
      const dataStart = offset + RECORD_FIELD.DATA
      const dataEnd = dataStart + (flags & FRAME_FLAG.RTR ? 0 : len)
      frames[i] = {
        timestampNs: readTimestampNs(body, offset),
        id: readU32(body, offset + RECORD_FIELD.ID),
        flags,
        len,
        data: body.subarray(dataStart, dataEnd),
      }
      offset = dataEnd
    }
    return frames
  }

  /**
   * The same batch without its first `skip` frames, as a new body (the records are copied
   * once, not re-encoded): for a writer that finds part of a batch already stored.
   */
  tail(skip: number): DataBatch {
    if (!Number.isInteger(skip) || skip < 0 || skip >= this.count) {
      throw new RangeError(`skip must be an integer in 0..${this.count - 1}, got ${skip}`)
    }
    const reader = new FrameReader(this)
    for (let i = 0; i <= skip; i++) reader.next()
    const records = this.body.subarray(reader.offset)
    const body = new Uint8Array(BATCH_HEADER_BYTES + records.length)
    const count = this.count - skip
    writeBatchHeader(body, this.channel, count, this.firstSeq + skip)
    body.set(records, BATCH_HEADER_BYTES)
    return new DataBatch(this.channel, count, this.firstSeq + skip, body)
  }
}

/**
 * Walks a batch's records in place. After `next()` returns true, the fields describe the
 * current record; `bytes[dataOffset .. dataOffset + dataLength)` is its payload.
 */
export class FrameReader {
  readonly bytes: Uint8Array
  /** sequence number of the current record */
  seq: number
  /** offset of the current record in `bytes` */
  offset = 0
  id = 0
  flags = 0
  len = 0
  dataOffset = 0
  dataLength = 0
  #next = BATCH_HEADER_BYTES
  #remaining: number

  constructor(batch: DataBatch) {
    this.bytes = batch.body
    this.seq = batch.firstSeq - 1
    this.#remaining = batch.count
  }

  next(): boolean {
    if (this.#remaining === 0) return false
    this.#remaining--
    const bytes = this.bytes
    const offset = this.#next
    this.offset = offset
    this.seq++
    this.id = readU32(bytes, offset + RECORD_FIELD.ID)
    const flags = bytes[offset + RECORD_FIELD.FLAGS]!
    const len = bytes[offset + RECORD_FIELD.LEN]!
    this.flags = flags
    this.len = len
    this.dataOffset = offset + RECORD_FIELD.DATA
    this.dataLength = flags & FRAME_FLAG.RTR ? 0 : len
    this.#next = this.dataOffset + this.dataLength
    return true
  }

  /** Exact receive time of the current record in nanoseconds (allocates a BigInt). */
  timestampNs(): bigint {
    return readTimestampNs(this.bytes, this.offset)
  }

  /** Receive time in seconds as a float, without allocating. */
  timestampSeconds(): number {
    return readTimestampSeconds(this.bytes, this.offset)
  }

  /** The current payload as a view (allocates the view, not the bytes). */
  data(): Uint8Array {
    return this.bytes.subarray(this.dataOffset, this.dataOffset + this.dataLength)
  }
}
