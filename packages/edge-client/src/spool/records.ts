// Walking frame records (PROTOCOL.md §6.2) by their lengths only: the spool stores records
// as opaque bytes but must count them and split runs of them at record boundaries.
import { RECORD_HEADER_BYTES, recordLengthAt } from '@canbridge/protocol'

/**
 * Byte length of the first `count` records starting at `start`, or -1 when they run
 * past `end`.
 */
export function recordsByteLength(
  bytes: Uint8Array,
  count: number,
  start = 0,
  end = bytes.length,
): number {
  let offset = start
  for (let i = 0; i < count; i++) {
    if (offset + RECORD_HEADER_BYTES > end) return -1
    offset += recordLengthAt(bytes, offset)
    if (offset > end) return -1
  }
  return offset - start
}

export interface RecordRun {
  /** whole records that fit */
  count: number
  /** their byte length */
  bytes: number
}

/**
 * The longest run of whole records at the start of `bytes[0, end)`, at most `maxCount`
 * of them: used to cut a read at a record boundary inside the bytes read.
 */
export function wholeRecords(bytes: Uint8Array, end: number, maxCount: number): RecordRun {
  let offset = 0
  let count = 0
  while (count < maxCount && offset + RECORD_HEADER_BYTES <= end) {
    const next = offset + recordLengthAt(bytes, offset)
    if (next > end) break
    offset = next
    count++
  }
  return { count, bytes: offset }
}

/**
 * Offset just past `skip` records, given only each record's 14-byte header: reads a
 * window of the bytes at a time through `readWindow(offset)` (which returns the bytes
 * available from `offset`), so skipping into a large entry does not load its data.
 */
export async function skipRecords(
  skip: number,
  readWindow: (offset: number) => Promise<Uint8Array>,
): Promise<number> {
  let offset = 0
  let skipped = 0
  while (skipped < skip) {
    const window = await readWindow(offset)
    if (window.length < RECORD_HEADER_BYTES) return -1
    let at = 0
    // a record's data may run past the window: only its header has to be inside
    while (skipped < skip && at + RECORD_HEADER_BYTES <= window.length) {
      at += recordLengthAt(window, at)
      skipped++
    }
    offset += at
  }
  return offset
}
