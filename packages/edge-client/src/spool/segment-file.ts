// One segment file (FORMAT.md §2): entries back to back, named by the first sequence it
// holds. Knows its entries' positions so reads are positional; recovery scans it once.
import { type FileHandle, open, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { MAX_SEQUENCE } from '@canbridge/protocol'
import { readFully } from './durable-fs.ts'
import {
  ENTRY_CRC_OFFSET,
  ENTRY_HEADER_BYTES,
  encodeEntryHeader,
  entryCrc,
  parseEntryHeader,
} from './entry.ts'
import { SpoolCorruptError, SpoolIoError } from './errors.ts'
import { recordsByteLength } from './records.ts'

/** 16 decimal digits hold 2^53 − 1 and sort by name in sequence order */
const NAME_DIGITS = 16
const SEGMENT_NAME = /^(\d{16})\.seg$/
/** recovery reads this much at a time, so tiny entries do not cost a syscall each */
const SCAN_BLOCK_BYTES = 1 << 20

export interface SegmentEntry {
  readonly firstSeq: number
  readonly count: number
  /** file offset of the entry's header; its records follow at offset + 24 */
  readonly offset: number
  /** bytes of records */
  readonly length: number
}

export function segmentFileName(firstSeq: number): string {
  return `${String(firstSeq).padStart(NAME_DIGITS, '0')}.seg`
}

/** The first sequence a segment file name stands for, or null for any other name. */
export function parseSegmentFileName(name: string): number | null {
  const match = SEGMENT_NAME.exec(name)
  if (match === null) return null
  const firstSeq = Number(match[1])
  return firstSeq <= MAX_SEQUENCE ? firstSeq : null
}

export interface SegmentRecovery {
  /** null when nothing intact was left: the file was removed */
  segment: SegmentFile | null
  /** bytes cut off the end of the file */
  truncatedBytes: number
  /** what was wrong, for SpoolRecovery.problems; null when the file was intact */
  problem: string | null
}

export class SegmentFile {
  readonly path: string
  readonly name: string
  readonly firstSeq: number
  /** in file order, hence in sequence order */
  readonly entries: SegmentEntry[]
  #size: number
  /** the append handle while writable; a read-only one opened on demand otherwise */
  #handle: FileHandle | null
  #writable: boolean

  constructor(dir: string, firstSeq: number, entries: SegmentEntry[], size: number) {
    this.name = segmentFileName(firstSeq)
    this.path = join(dir, this.name)
    this.firstSeq = firstSeq
    this.entries = entries
    this.#size = size
    this.#handle = null
    this.#writable = false
  }

  /** A new, empty segment open for appends; fails if the file exists (never clobber). */
  static async create(dir: string, firstSeq: number): Promise<SegmentFile> {
    const segment = new SegmentFile(dir, firstSeq, [], 0)
    try {
      segment.#handle = await open(segment.path, 'wx+')
    } catch (error) {
      throw new SpoolIoError(`cannot create spool segment ${segment.path}`, {
        path: segment.path,
        cause: error,
      })
    }
    segment.#writable = true
    return segment
  }

  /**
   * Scans the file and keeps the longest run of intact entries from its start: the first
   * entry that is torn, fails its CRC, does not hold `count` records, or does not follow
   * `minSeq` (the end of the previous segment) ends it, and the file is truncated there.
   * A file left with no entries is removed.
   */
  static async recover(dir: string, name: string, minSeq: number): Promise<SegmentRecovery> {
    const firstSeq = parseSegmentFileName(name)
    if (firstSeq === null) throw new RangeError(`not a segment file name: ${name}`)
    const segment = new SegmentFile(dir, firstSeq, [], 0)
    const path = segment.path
    let handle: FileHandle
    let writable = true
    try {
      handle = await open(path, 'r+')
    } catch (error) {
      const refused = new SpoolIoError(`cannot open spool segment ${path}`, { path, cause: error })
      if (!refused.readOnly) throw refused
      // a read-only file system still lets the frames be read and sent: no cut, no removal
      handle = await openForReading(path)
      writable = false
    }
    let size: number
    let scan: ScanResult
    try {
      size = (await handle.stat()).size
      scan = await scanEntries(handle, path, size, firstSeq, minSeq, segment.entries)
      if (scan.end < size && writable) {
        await handle.truncate(scan.end)
        await handle.sync()
      }
    } catch (error) {
      if (error instanceof SpoolIoError || error instanceof SpoolCorruptError) throw error
      throw new SpoolIoError(`cannot recover spool segment ${path}`, { path, cause: error })
    } finally {
      await handle.close()
    }
    segment.#size = scan.end
    if (!writable) {
      // left as it is for the next open on a writable file system to cut or remove
      const problem =
        scan.reason === null
          ? null
          : `${name}: ${scan.reason} at byte ${scan.end}; not cut (the file system is read-only)`
      return { segment: segment.entries.length === 0 ? null : segment, truncatedBytes: 0, problem }
    }
    const truncatedBytes = size - scan.end
    if (segment.entries.length === 0) {
      await removeFile(path)
      const problem = `${name}: ${scan.reason ?? 'empty'}; no intact entry, segment removed`
      return { segment: null, truncatedBytes, problem }
    }
    const problem =
      scan.reason === null
        ? null
        : `${name}: ${scan.reason} at byte ${scan.end}; cut ${truncatedBytes} bytes`
    return { segment, truncatedBytes, problem }
  }

  get size(): number {
    return this.#size
  }

  /** the sequence after its newest entry */
  get endSeq(): number {
    const last = this.entries.at(-1)
    return last === undefined ? this.firstSeq : last.firstSeq + last.count
  }

  get writable(): boolean {
    return this.#writable
  }

  /** Makes a recovered segment the one appends go to again, so restarts do not multiply files. */
  async reopenForAppend(): Promise<void> {
    await this.closeHandle()
    try {
      this.#handle = await open(this.path, 'r+')
    } catch (error) {
      throw new SpoolIoError(`cannot open spool segment ${this.path}`, {
        path: this.path,
        cause: error,
      })
    }
    this.#writable = true
  }

  /**
   * Writes one entry at the end with a single positional writev (header and records,
   * no copy). On failure the partial entry is cut so the file stays a clean run of entries.
   */
  async append(firstSeq: number, count: number, records: Uint8Array, sync: boolean): Promise<void> {
    const handle = this.#handle
    if (!this.#writable || handle === null) throw new Error(`${this.path} is sealed`)
    const header = encodeEntryHeader(firstSeq, count, records)
    const total = ENTRY_HEADER_BYTES + records.length
    try {
      let written = (await handle.writev([header, records], this.#size)).bytesWritten
      while (written < total) {
        // a short write (a file system filling up): write the rest, so the kernel says why
        // it stops (ENOSPC) instead of us guessing
        const rest =
          written < ENTRY_HEADER_BYTES
            ? header.subarray(written)
            : records.subarray(written - ENTRY_HEADER_BYTES)
        const { bytesWritten } = await handle.write(rest, 0, rest.length, this.#size + written)
        if (bytesWritten === 0) throw new Error(`short write: ${written} of ${total} bytes`)
        written += bytesWritten
      }
      if (sync) await handle.datasync()
    } catch (error) {
      // if even the cut fails, the next append overwrites the tail or recovery cuts it
      const cutFailed = await handle.truncate(this.#size).then(
        () => false,
        () => true,
      )
      const note = cutFailed ? ' (and the partial entry could not be cut)' : ''
      throw new SpoolIoError(`cannot append to spool segment ${this.path}${note}`, {
        path: this.path,
        cause: error,
      })
    }
    this.entries.push({ firstSeq, count, offset: this.#size, length: records.length })
    this.#size += total
  }

  /** Reads `length` record bytes of `entry`, from `from` bytes into its records. */
  async readRecords(
    entry: SegmentEntry,
    from: number,
    target: Uint8Array,
    targetOffset: number,
    length: number,
  ): Promise<void> {
    if (this.#handle === null) {
      try {
        this.#handle = await open(this.path, 'r')
      } catch (error) {
        throw new SpoolIoError(`cannot open spool segment ${this.path}`, {
          path: this.path,
          cause: error,
        })
      }
    }
    const position = entry.offset + ENTRY_HEADER_BYTES + from
    await readFully(this.#handle, this.path, target, targetOffset, length, position)
  }

  /** Ends appends: fsync (appends are only flushed here unless syncEveryAppend) and close. */
  async seal(): Promise<void> {
    if (this.#writable) await this.sync()
    await this.closeHandle()
  }

  async sync(): Promise<void> {
    if (!this.#writable || this.#handle === null) return
    try {
      await this.#handle.sync()
    } catch (error) {
      throw new SpoolIoError(`cannot sync spool segment ${this.path}`, {
        path: this.path,
        cause: error,
      })
    }
  }

  /** Closes the handle without syncing (read handles, or a segment about to be removed). */
  async closeHandle(): Promise<void> {
    const handle = this.#handle
    this.#handle = null
    this.#writable = false
    if (handle !== null) await handle.close()
  }

  async remove(): Promise<void> {
    await this.closeHandle()
    await removeFile(this.path)
  }
}

async function openForReading(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r')
  } catch (error) {
    throw new SpoolIoError(`cannot open spool segment ${path}`, { path, cause: error })
  }
}

async function removeFile(path: string): Promise<void> {
  try {
    await unlink(path)
  } catch (error) {
    throw new SpoolIoError(`cannot remove spool segment ${path}`, { path, cause: error })
  }
}

interface ScanResult {
  /** offset where the intact run of entries ends */
  end: number
  /** why it ends there; null: at the end of the file */
  reason: string | null
}

/**
 * Walks the entries of a segment file, pushing each intact one to `entries`; returns the
 * offset where the intact run ends and why.
 */
async function scanEntries(
  handle: FileHandle,
  path: string,
  size: number,
  firstSeq: number,
  minSeq: number,
  entries: SegmentEntry[],
): Promise<ScanResult> {
  const reader = new BlockReader(handle, path, size)
  let offset = 0
  let nextSeq = minSeq
  while (offset < size) {
    if (size - offset < ENTRY_HEADER_BYTES) {
      return { end: offset, reason: `torn entry header (${size - offset} of 24 bytes)` }
    }
    const header = parseEntryHeader(await reader.bytes(offset, ENTRY_HEADER_BYTES))
    if (typeof header === 'string') return { end: offset, reason: header }
    if (offset === 0 && header.firstSeq !== firstSeq) {
      return { end: offset, reason: `first entry starts at ${header.firstSeq}, not at its name` }
    }
    if (header.firstSeq < nextSeq) {
      return { end: offset, reason: `entry at ${header.firstSeq} overlaps frames up to ${nextSeq}` }
    }
    const available = size - offset - ENTRY_HEADER_BYTES
    if (header.length > available) {
      return { end: offset, reason: `torn entry (${available} of ${header.length} record bytes)` }
    }
    // the header's CRC part first: reading the records may reuse the buffer under it
    const headerCrc = (await reader.bytes(offset, ENTRY_CRC_OFFSET)).slice()
    const records = await reader.bytes(offset + ENTRY_HEADER_BYTES, header.length)
    if (entryCrc(headerCrc, records) !== header.crc) {
      return { end: offset, reason: 'CRC mismatch' }
    }
    if (recordsByteLength(records, header.count) !== header.length) {
      return { end: offset, reason: `${header.length} bytes do not hold ${header.count} records` }
    }
    entries.push({ firstSeq: header.firstSeq, count: header.count, offset, length: header.length })
    nextSeq = header.firstSeq + header.count
    offset += ENTRY_HEADER_BYTES + header.length
  }
  return { end: offset, reason: null }
}

/** Serves byte ranges of a file from a block read ahead; a view is valid until the next call. */
class BlockReader {
  readonly #handle: FileHandle
  readonly #path: string
  readonly #size: number
  #buffer = new Uint8Array(0)
  /** file offset of #buffer[0] */
  #start = 0
  #filled = 0

  constructor(handle: FileHandle, path: string, size: number) {
    this.#handle = handle
    this.#path = path
    this.#size = size
  }

  /** `length` bytes at `offset`; the caller has checked they are inside the file. */
  async bytes(offset: number, length: number): Promise<Uint8Array> {
    if (offset < this.#start || offset + length > this.#start + this.#filled) {
      const want = Math.min(Math.max(length, SCAN_BLOCK_BYTES), this.#size - offset)
      if (this.#buffer.length < want) this.#buffer = new Uint8Array(want)
      await readFully(this.#handle, this.#path, this.#buffer, 0, want, offset)
      this.#start = offset
      this.#filled = want
    }
    const from = offset - this.#start
    return this.#buffer.subarray(from, from + length)
  }
}
