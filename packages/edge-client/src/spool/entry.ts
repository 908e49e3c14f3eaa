// One segment entry's 24-byte header (FORMAT.md §2): built for an append, checked on
// recovery. Pure functions over bytes; the segment file does the I/O.
import { crc32 } from 'node:zlib'
import { MAX_SEQUENCE } from '@canbridge/protocol'

/** ASCII "CBSP": every entry starts with it, so a segment is recognisable byte 0 on. */
export const ENTRY_MAGIC = Uint8Array.of(0x43, 0x42, 0x53, 0x50)
export const ENTRY_HEADER_BYTES = 24
/** the CRC covers the header up to (not including) itself, then the records */
export const ENTRY_CRC_OFFSET = 20

const OFFSET_FIRST_SEQ = 4
const OFFSET_COUNT = 12
const OFFSET_LENGTH = 16
const TWO_POW_32 = 4_294_967_296
/** high word of a u64 that still fits 2^53 − 1 */
const MAX_SAFE_HIGH_WORD = 0x1fffff

export interface EntryHeader {
  firstSeq: number
  count: number
  /** bytes of records after the header */
  length: number
  crc: number
}

/** The header for `count` records starting at `firstSeq`, its CRC computed over `records`. */
export function encodeEntryHeader(
  firstSeq: number,
  count: number,
  records: Uint8Array,
): Uint8Array {
  const header = new Uint8Array(ENTRY_HEADER_BYTES)
  const view = new DataView(header.buffer)
  header.set(ENTRY_MAGIC, 0)
  view.setUint32(OFFSET_FIRST_SEQ, firstSeq % TWO_POW_32, true)
  view.setUint32(OFFSET_FIRST_SEQ + 4, Math.floor(firstSeq / TWO_POW_32), true)
  view.setUint32(OFFSET_COUNT, count, true)
  view.setUint32(OFFSET_LENGTH, records.length, true)
  view.setUint32(ENTRY_CRC_OFFSET, entryCrc(header, records), true)
  return header
}

/** CRC-32 (zlib's) of header bytes 0..19 followed by the records. */
export function entryCrc(header: Uint8Array, records: Uint8Array): number {
  return crc32(records, crc32(header.subarray(0, ENTRY_CRC_OFFSET)))
}

/**
 * Reads a header from its 24 bytes, or returns why they are not one. Checks what the
 * header alone can tell; the caller checks the length against the file and the CRC.
 */
export function parseEntryHeader(bytes: Uint8Array): EntryHeader | string {
  for (let i = 0; i < ENTRY_MAGIC.length; i++) {
    if (bytes[i] !== ENTRY_MAGIC[i]) return 'bad magic'
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, ENTRY_HEADER_BYTES)
  const high = view.getUint32(OFFSET_FIRST_SEQ + 4, true)
  if (high > MAX_SAFE_HIGH_WORD) return 'firstSeq beyond 2^53 - 1'
  const firstSeq = high * TWO_POW_32 + view.getUint32(OFFSET_FIRST_SEQ, true)
  const count = view.getUint32(OFFSET_COUNT, true)
  if (count === 0) return 'count 0'
  // subtracting keeps it exact: firstSeq + count can round past 2^53
  if (count - 1 > MAX_SEQUENCE - firstSeq) return 'last sequence beyond 2^53 - 1'
  return {
    firstSeq,
    count,
    length: view.getUint32(OFFSET_LENGTH, true),
    crc: view.getUint32(ENTRY_CRC_OFFSET, true),
  }
}
