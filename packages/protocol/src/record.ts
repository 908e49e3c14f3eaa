// Reading and writing single frame records (PROTOCOL.md §6.2) in a byte array, by hand:
// this is the hot path of both ends, so nothing here allocates.
import { FRAME_FLAG, RECORD_FIELD, RECORD_HEADER_BYTES } from './constants.ts'
import type { CanFrame } from './frame.ts'

const TWO_POW_32 = 4_294_967_296
const TWO_POW_16 = 65_536
const NS_PER_SECOND = 1_000_000_000

/** Size in bytes of a record with these flags and length. */
export function recordLength(flags: number, len: number): number {
  return RECORD_HEADER_BYTES + (flags & FRAME_FLAG.RTR ? 0 : len)
}

/** Size in bytes of the record at `offset`, read from its flags and len (header inside `bytes`). */
export function recordLengthAt(bytes: Uint8Array, offset: number): number {
  const flags = bytes[offset + RECORD_FIELD.FLAGS]!
  return RECORD_HEADER_BYTES + (flags & FRAME_FLAG.RTR ? 0 : bytes[offset + RECORD_FIELD.LEN]!)
}

export function writeU32(target: Uint8Array, offset: number, value: number): void {
  target[offset] = value
  target[offset + 1] = value >>> 8
  target[offset + 2] = value >>> 16
  target[offset + 3] = value >>> 24
}

export function readU32(source: Uint8Array, offset: number): number {
  return (
    (source[offset]! | (source[offset + 1]! << 8) | (source[offset + 2]! << 16)) +
    source[offset + 3]! * 0x1000000
  )
}

/**
 * Writes a u64 given as a non-negative safe integer. Exact up to 2^53 - 1
 * (sequence numbers stay below that).
 */
export function writeU64Number(target: Uint8Array, offset: number, value: number): void {
  writeU32(target, offset, value >>> 0)
  writeU32(target, offset + 4, Math.floor(value / TWO_POW_32))
}

/** Reads a u64 as a number, or -1 when it exceeds 2^53 - 1 and cannot be exact. */
export function readU64Number(source: Uint8Array, offset: number): number {
  const high = readU32(source, offset + 4)
  if (high > 0x1fffff) return -1
  return high * TWO_POW_32 + readU32(source, offset)
}

/**
 * Writes the timestamp of a kernel time (seconds, nanoseconds) as exact u64 nanoseconds
 * without BigInt: seconds × 10^9 does not fit a double, so it is built from 16-bit halves.
 */
export function writeTimestampParts(
  target: Uint8Array,
  offset: number,
  seconds: number,
  nanoseconds: number,
): void {
  const secondsLow = seconds % TWO_POW_16
  const secondsHigh = (seconds - secondsLow) / TWO_POW_16
  const low = secondsLow * NS_PER_SECOND + nanoseconds // < 2^46
  const high = secondsHigh * NS_PER_SECOND // seconds < 2^34 keeps this < 2^53
  // total = high × 2^16 + low, with high split at 2^16 so every partial sum stays exact
  const highLow = high % TWO_POW_16
  const sum = highLow * TWO_POW_16 + low
  const carry = Math.floor(sum / TWO_POW_32)
  writeU32(target, offset, sum - carry * TWO_POW_32)
  writeU32(target, offset + 4, (high - highLow) / TWO_POW_16 + carry)
}

const scratchView = new DataView(new ArrayBuffer(8))

export function writeTimestampNs(target: Uint8Array, offset: number, timestampNs: bigint): void {
  scratchView.setBigUint64(0, timestampNs, true)
  writeU32(target, offset, scratchView.getUint32(0, true))
  writeU32(target, offset + 4, scratchView.getUint32(4, true))
}

export function readTimestampNs(source: Uint8Array, offset: number): bigint {
  scratchView.setUint32(0, readU32(source, offset), true)
  scratchView.setUint32(4, readU32(source, offset + 4), true)
  return scratchView.getBigUint64(0, true)
}

/** Timestamp in seconds as a float (python-can's `timestamp`), without BigInt. */
export function readTimestampSeconds(source: Uint8Array, offset: number): number {
  return (readU32(source, offset + 4) * TWO_POW_32 + readU32(source, offset)) / NS_PER_SECOND
}

/**
 * Writes one record from its parts; `data` is read from `dataOffset` on. The caller has
 * validated the frame and checked that the record fits. Returns the offset after it.
 */
export function writeRecordParts(
  target: Uint8Array,
  offset: number,
  id: number,
  flags: number,
  len: number,
  data: Uint8Array,
  dataOffset: number,
): number {
  writeU32(target, offset + RECORD_FIELD.ID, id)
  target[offset + RECORD_FIELD.FLAGS] = flags
  target[offset + RECORD_FIELD.LEN] = len
  const start = offset + RECORD_FIELD.DATA
  if (flags & FRAME_FLAG.RTR) return start
  if (len > 8 && dataOffset === 0 && data.length === len) {
    target.set(data, start)
  } else {
    for (let i = 0; i < len; i++) target[start + i] = data[dataOffset + i]!
  }
  return start + len
}

/** Writes a frame object as a record; returns the offset after it. */
export function writeFrameRecord(target: Uint8Array, offset: number, frame: CanFrame): number {
  writeTimestampNs(target, offset, frame.timestampNs)
  return writeRecordParts(target, offset, frame.id, frame.flags, frame.len, frame.data, 0)
}
