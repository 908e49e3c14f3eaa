// A channel's frames on disk while the server is unreachable: appended in sequence order,
// replayed from the oldest, freed when acknowledged, recovered after a crash.
// Layout and crash rules: FORMAT.md beside this file.
import type { Dirent } from 'node:fs'
import { readdir, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { MAX_FD_LENGTH, MAX_SEQUENCE, RECORD_HEADER_BYTES } from '@canbridge/protocol'
import { fsyncDirectory, makeDirectories } from './durable-fs.ts'
import { ENTRY_HEADER_BYTES } from './entry.ts'
import { codeOf, SpoolCorruptError, SpoolFullError, SpoolIoError } from './errors.ts'
import { recordsByteLength, skipRecords, wholeRecords } from './records.ts'
import { parseSegmentFileName, type SegmentEntry, SegmentFile } from './segment-file.ts'
import {
  readSpoolState,
  type SpoolStateValues,
  STATE_FILE,
  STATE_TEMP_FILE,
  writeSpoolState,
} from './spool-state.ts'

export { SpoolCorruptError, SpoolFullError, SpoolIoError } from './errors.ts'

const DEFAULT_SEGMENT_BYTES = 4 * 1024 * 1024
/** dropOldest frees whole segments: by default one is at most this share of maxBytes */
const DEFAULT_SEGMENTS_PER_SPOOL = 8
/** a 64-byte CAN FD record: a read must always be able to return one */
const MAX_RECORD_BYTES = RECORD_HEADER_BYTES + MAX_FD_LENGTH
/** how much of an entry is read at a time to find a record inside it */
const SKIP_WINDOW_BYTES = 64 * 1024
/** not ours, but found in a directory that is a file system's root */
const IGNORED_NAMES: ReadonlySet<string> = new Set(['lost+found'])
/** what state.json says when open could not write it: any state differs, so the next write happens */
const UNWRITTEN_STATE: SpoolStateValues = { ackSeq: -1, nextSeq: -1 }

export interface SpoolOptions {
  /** most bytes on disk for this channel, all segments included */
  maxBytes: number
  /**
   * a new segment file starts past this size (default 4 MiB, or maxBytes / 8 when that is
   * smaller: dropOldest deletes whole segments, so one must be a small part of the spool)
   */
  segmentBytes?: number
  /** fsync after every append (default false: fsync when a segment is closed and on close()) */
  syncEveryAppend?: boolean
}

/** What `open` found on disk and what it had to cut to make the spool consistent. */
export interface SpoolRecovery {
  /** segment files kept */
  segments: number
  /** frames held after recovery (not yet acknowledged) */
  frames: number
  /** bytes cut off the end of segments (torn or corrupt entries and what followed them) */
  truncatedBytes: number
  /** segment files removed because nothing intact was left in them */
  discardedSegments: number
  /** one line per thing cut, rebuilt or ignored, for the log */
  problems: string[]
}

/** Consecutive records: record i has sequence firstSeq + i. */
export interface SpoolChunk {
  firstSeq: number
  count: number
  records: Uint8Array
}

/** Frames dropped by `dropOldest`, for a DROPS report (`reason: 'spool-full'`). */
export interface DroppedRange {
  fromSeq: number
  count: number
}

interface ResolvedOptions {
  maxBytes: number
  segmentBytes: number
  syncEveryAppend: boolean
}

/** Where the last read stopped inside an entry, so the next read need not walk to it. */
interface ReadCursor {
  entry: SegmentEntry
  seq: number
  /** offset of record `seq` in the entry's records */
  byte: number
}

interface EntryPosition {
  segment: number
  entry: number
}

interface SpoolInit {
  dir: string
  options: ResolvedOptions
  recovery: SpoolRecovery
  segments: SegmentFile[]
  ackSeq: number
  nextSeq: number
  persisted: SpoolStateValues
}

export class Spool {
  readonly dir: string
  readonly recovery: SpoolRecovery
  readonly #options: ResolvedOptions
  /** oldest first; only the last one can be writable */
  readonly #segments: SegmentFile[]
  #ackSeq: number
  #nextSeq: number
  /** numbers the edge may give out before they reach the spool (`reserve`); 0 for none */
  #reservedSeq = 0
  /** what state.json says now: written only when it must change */
  #persisted: SpoolStateValues
  #frames = 0
  #bytes = 0
  #firstSeq: number | null = null
  #cursor: ReadCursor | null = null
  /** the sealed segment whose read handle is open (replay reads one segment after another) */
  #reading: SegmentFile | null = null
  /** operations run one at a time: a release must not delete a segment under a read */
  #queue: Promise<unknown> = Promise.resolve()
  #closed = false
  #closing: Promise<void> | null = null

  private constructor(init: SpoolInit) {
    this.dir = init.dir
    this.#options = init.options
    this.recovery = init.recovery
    this.#segments = init.segments
    this.#ackSeq = init.ackSeq
    this.#nextSeq = init.nextSeq
    this.#persisted = init.persisted
    for (const segment of this.#segments) {
      this.#bytes += segment.size
      for (const entry of segment.entries) this.#frames += this.#heldIn(entry, MAX_SEQUENCE + 1)
    }
    this.#firstSeq = this.#findFirstSeq()
  }

  /**
   * Opens the spool in `dir` (created if missing) and recovers it: torn or corrupt data is
   * cut and reported in `recovery`, never thrown. Throws RangeError/TypeError for bad
   * options, SpoolIoError when the directory cannot be used (the message names it), and
   * SpoolCorruptError when the directory holds something that is not a spool.
   */
  static async open(dir: string, options: SpoolOptions): Promise<Spool> {
    if (typeof dir !== 'string' || dir.length === 0) {
      throw new TypeError(`spool dir must be a non-empty string, got ${JSON.stringify(dir)}`)
    }
    const resolved = resolveOptions(options)
    await createDirectory(dir)
    const listing = await listDirectory(dir)
    const problems: string[] = []

    // read first: a state file that is not ours stops us before we change anything
    const stateRead = await readSpoolState(dir)
    if (listing.hasTemp) {
      // harmless if it stays: the next state write truncates it before writing
      const removed = await tolerateUnwritable(removePath(join(dir, STATE_TEMP_FILE)), problems)
      if (removed) problems.push(`removed ${STATE_TEMP_FILE} left by an interrupted state write`)
    }
    for (const name of listing.strays) problems.push(`ignored ${name}: not a spool file`)

    let state: SpoolStateValues = { ackSeq: 0, nextSeq: 0 }
    let rebuildState = false
    if (stateRead.kind === 'ok') {
      state = stateRead.state
    } else {
      rebuildState = true
      const lost = 'rebuilt from the segments (ack point lost: acknowledged frames may be resent)'
      if (stateRead.kind === 'corrupt') problems.push(`${stateRead.problem}; ${lost}`)
      else if (listing.segments.length > 0) problems.push(`${STATE_FILE} missing; ${lost}`)
    }

    const segments: SegmentFile[] = []
    let truncatedBytes = 0
    let discardedSegments = 0
    let minSeq = 0
    for (const name of listing.segments) {
      const result = await SegmentFile.recover(dir, name, minSeq)
      truncatedBytes += result.truncatedBytes
      if (result.problem !== null) problems.push(result.problem)
      if (result.segment === null) {
        discardedSegments++
        continue
      }
      segments.push(result.segment)
      minSeq = result.segment.endSeq
    }

    const ackSeq = state.ackSeq
    const nextSeq = Math.max(state.nextSeq, ackSeq, segments.at(-1)?.endSeq ?? 0)
    // whole segments below the ack point: a crash came between the state write and the unlink
    // (on a read-only file system they stay, holding no frames, until a later release)
    let removedAcked = false
    while (segments[0] !== undefined && segments[0].endSeq <= ackSeq) {
      if (!(await tolerateUnwritable(segments[0].remove(), problems))) break
      segments.shift()
      removedAcked = true
    }
    let persisted = state
    if (rebuildState) {
      persisted = { ackSeq, nextSeq }
      // a full or read-only disk: the next state write (any change) writes it
      if (!(await tolerateUnwritable(writeSpoolState(dir, persisted), problems)))
        persisted = UNWRITTEN_STATE
    } else if (truncatedBytes > 0 || discardedSegments > 0 || removedAcked) {
      await fsyncDirectory(dir)
    }
    // last step that can fail, so a failed open leaves no file handle behind; read-only,
    // the segment stays sealed and the next append starts a new one
    const last = segments.at(-1)
    if (last !== undefined && last.size < resolved.segmentBytes)
      await tolerateUnwritable(last.reopenForAppend(), problems)

    const recovery: SpoolRecovery = {
      segments: segments.length,
      frames: 0,
      truncatedBytes,
      discardedSegments,
      problems,
    }
    const spool = new Spool({
      dir,
      options: resolved,
      recovery,
      segments,
      ackSeq,
      nextSeq,
      persisted,
    })
    recovery.frames = spool.frames
    return spool
  }

  /** oldest sequence held, or null when empty */
  get firstSeq(): number | null {
    return this.#firstSeq
  }

  /**
   * sequence after the newest frame ever appended or acknowledged (persisted): where
   * numbering continues after a restart; 0 for a brand-new spool
   */
  get nextSeq(): number {
    return this.#nextSeq
  }

  /** every frame below this was acknowledged (`release`) */
  get ackSeq(): number {
    return this.#ackSeq
  }

  /** frames held (appended, not acknowledged, not dropped) */
  get frames(): number {
    return this.#frames
  }

  /** bytes of segment files on disk, the figure `maxBytes` bounds */
  get bytes(): number {
    return this.#bytes
  }

  /**
   * Appends `count` records starting at `firstSeq` as one entry (one write). `firstSeq`
   * must be ≥ nextSeq; a gap is allowed (frames dropped before they got here). Throws
   * SpoolFullError, writing nothing, when the entry would exceed maxBytes.
   * `records` is written asynchronously: it must not change until the promise settles.
   */
  async append(firstSeq: number, count: number, records: Uint8Array): Promise<void> {
    assertSequence('firstSeq', firstSeq)
    if (!Number.isSafeInteger(count) || count < 1 || count > 0xffff_ffff) {
      throw new RangeError(`count must be an integer from 1 to 2^32 - 1, got ${count}`)
    }
    // subtracting keeps it exact: firstSeq + count can round past 2^53
    if (count - 1 > MAX_SEQUENCE - firstSeq) {
      throw new RangeError(`firstSeq ${firstSeq} + count ${count} runs past 2^53 - 1`)
    }
    if (!(records instanceof Uint8Array)) throw new TypeError('records must be a Uint8Array')
    if (records.length > 0xffff_ffff) {
      throw new RangeError(`records: ${records.length} bytes do not fit an entry's u32 length`)
    }
    if (recordsByteLength(records, count) !== records.length) {
      throw new RangeError(
        `records: ${records.length} bytes are not exactly ${count} frame records (PROTOCOL.md §6.2)`,
      )
    }
    return this.#exclusive(() => this.#append(firstSeq, count, records))
  }

  /**
   * Reads up to `maxFrames` records / `maxBytes` bytes starting at `fromSeq` (or at the
   * oldest held frame when `fromSeq` is older); null when nothing is held at or after
   * `fromSeq`. The records of a chunk are consecutive: a gap ends it.
   */
  async read(fromSeq: number, maxFrames: number, maxBytes: number): Promise<SpoolChunk | null> {
    assertSequence('fromSeq', fromSeq)
    if (!Number.isSafeInteger(maxFrames) || maxFrames < 1) {
      throw new RangeError(`maxFrames must be a positive integer, got ${maxFrames}`)
    }
    if (!Number.isSafeInteger(maxBytes) || maxBytes < MAX_RECORD_BYTES) {
      throw new RangeError(
        `maxBytes must be an integer ≥ ${MAX_RECORD_BYTES} (the largest record), got ${maxBytes}`,
      )
    }
    return this.#exclusive(() => this.#read(fromSeq, maxFrames, maxBytes))
  }

  /**
   * Everything below `nextSeq` is acknowledged: deletes the segments wholly below it and,
   * when that frees frames the spool held, persists the ack point first so a restart does
   * not resend them. An ack of frames the spool never held only moves the points in
   * memory (saved by the next state write, at the latest `close`): no disk write per ACK.
   */
  async release(nextSeq: number): Promise<void> {
    assertSequence('nextSeq', nextSeq)
    return this.#exclusive(async () => {
      if (nextSeq <= this.#ackSeq) return // acknowledgements never go backwards
      const freed = this.#heldBelow(nextSeq)
      this.#ackSeq = nextSeq
      this.#nextSeq = Math.max(this.#nextSeq, nextSeq)
      if (freed === 0) return
      // counted against the new ack point, the removed segments below hold no frames
      this.#frames -= freed
      await this.#freeOldest(this.#segments.filter((s) => s.endSeq <= nextSeq).length)
    })
  }

  /**
   * Drop-oldest policy: deletes whole segments, oldest first, until `bytesNeeded` bytes
   * are free under maxBytes; returns the frame ranges lost (consecutive runs, so frames
   * of an earlier gap are not reported twice). RangeError when bytesNeeded > maxBytes.
   */
  async dropOldest(bytesNeeded: number): Promise<DroppedRange[]> {
    if (!Number.isSafeInteger(bytesNeeded) || bytesNeeded < 0) {
      throw new RangeError(`bytesNeeded must be a non-negative integer, got ${bytesNeeded}`)
    }
    if (bytesNeeded > this.#options.maxBytes) {
      throw new RangeError(
        `bytesNeeded ${bytesNeeded} exceeds maxBytes ${this.#options.maxBytes}: dropping everything would not make room`,
      )
    }
    return this.#exclusive(() => this.#dropOldest(bytesNeeded))
  }

  /**
   * Records where numbering continues without appending frames (the ring's frames were
   * all acknowledged and the edge stops), and persists it. Numbering never goes back: a
   * value at or below nextSeq leaves it as it is (like an old ACK), so a call racing an
   * append that already moved past it is harmless; the state is still made durable.
   * `exact`: numbering stands exactly there (the edge stops and its producer has stopped),
   * so a reservation (`reserve`) is given back and a clean restart continues without a gap.
   */
  async setNextSeq(nextSeq: number, { exact = false }: { exact?: boolean } = {}): Promise<void> {
    assertSequence('nextSeq', nextSeq)
    return this.#exclusive(async () => {
      this.#nextSeq = Math.max(this.#nextSeq, nextSeq)
      if (exact) this.#reservedSeq = 0
      await this.#persist()
    })
  }

  /**
   * The edge numbers frames in memory before they reach the spool, and a crash (SIGKILL, a
   * power cut) loses those frames. Reserving persists that numbering may reach `upTo`, so
   * that after a crash it resumes past every number the dead process may have given a
   * frame: the server then counts the lost frames in a gap, instead of receiving new frames
   * under their numbers. Appends and `nextSeq` are unaffected; state.json's nextSeq is the
   * larger of the two (FORMAT.md §3). Never goes back; writes only when it grows.
   */
  async reserve(upTo: number): Promise<void> {
    assertSequence('upTo', upTo)
    return this.#exclusive(async () => {
      this.#reservedSeq = Math.max(this.#reservedSeq, upTo)
      await this.#persist()
    })
  }

  /** Flushes the open segment, persists the state, closes every file. Idempotent. */
  close(): Promise<void> {
    if (this.#closing === null) {
      this.#closed = true
      this.#closing = this.#enqueue(async () => {
        for (const segment of this.#segments) await segment.seal()
        // a segment created since the last directory sync needs its name made durable
        if (!(await this.#persist())) await fsyncDirectory(this.dir)
      })
    }
    return this.#closing
  }

  async #append(firstSeq: number, count: number, records: Uint8Array): Promise<void> {
    try {
      await this.#appendEntry(firstSeq, count, records)
    } catch (error) {
      if (!(error instanceof SpoolIoError && error.noSpace)) throw error
      // a full file system is a full spool: the caller drops by its policy, as for maxBytes;
      // dropOldest(bytesNeeded) frees (at most all of) what this spool holds, as it must
      const needed = ENTRY_HEADER_BYTES + records.length
      const { maxBytes } = this.#options
      throw new SpoolFullError(
        `spool ${this.dir} is full: its file system has no room for ${needed} more bytes (${this.#bytes} bytes of segments held; ${error.message})`,
        {
          bytesNeeded: Math.min(maxBytes, maxBytes - this.#bytes + needed),
          maxBytes,
          bytes: this.#bytes,
          kind: 'disk',
          cause: error,
        },
      )
    }
  }

  async #appendEntry(firstSeq: number, count: number, records: Uint8Array): Promise<void> {
    if (firstSeq < this.#nextSeq) {
      throw new RangeError(
        `firstSeq ${firstSeq} is below nextSeq ${this.#nextSeq}: frames are appended in order, once`,
      )
    }
    const bytesNeeded = ENTRY_HEADER_BYTES + records.length
    const { maxBytes, segmentBytes, syncEveryAppend } = this.#options
    if (this.#bytes + bytesNeeded > maxBytes) {
      const never = bytesNeeded > maxBytes ? ', more than maxBytes: split it' : ''
      throw new SpoolFullError(
        `spool ${this.dir} is full: ${this.#bytes} of ${maxBytes} bytes used, the append needs ${bytesNeeded}${never}`,
        { bytesNeeded, maxBytes, bytes: this.#bytes },
      )
    }
    let segment = this.#segments.at(-1)
    let created = false
    if (segment === undefined || !segment.writable || segment.size >= segmentBytes) {
      if (segment?.writable) {
        await segment.seal()
        await fsyncDirectory(this.dir)
      }
      segment = await SegmentFile.create(this.dir, firstSeq)
      this.#segments.push(segment)
      created = true
    }
    try {
      // with syncEveryAppend a new segment's name must be as durable as its first entry
      if (created && syncEveryAppend) await fsyncDirectory(this.dir)
      await segment.append(firstSeq, count, records, syncEveryAppend)
    } catch (error) {
      if (created) {
        // an empty segment named after a sequence that never got written must not stay:
        // the next append may start elsewhere and the name would lie
        this.#segments.pop()
        await segment.remove()
      }
      throw error
    }
    this.#bytes += bytesNeeded
    this.#frames += count
    this.#nextSeq = firstSeq + count
    this.#firstSeq ??= firstSeq
  }

  async #read(fromSeq: number, maxFrames: number, maxBytes: number): Promise<SpoolChunk | null> {
    let position = this.#locate(Math.max(fromSeq, this.#ackSeq))
    if (position === null) return null
    let segment = this.#segments[position.segment]!
    let entry = segment.entries[position.entry]!
    const firstSeq = Math.max(fromSeq, this.#ackSeq, entry.firstSeq)
    let seq = firstSeq
    let byte = await this.#offsetOf(segment, entry, seq)
    const parts: Uint8Array[] = []
    let count = 0
    let size = 0
    for (;;) {
      const entryEnd = entry.firstSeq + entry.count
      // never read more than the limits could use: maxFrames of the largest record at most
      const want = Math.min(
        maxBytes - size,
        (maxFrames - count) * MAX_RECORD_BYTES,
        entry.length - byte,
      )
      const buffer = new Uint8Array(want)
      await this.#readRecords(segment, entry, byte, buffer)
      const run = wholeRecords(buffer, want, Math.min(maxFrames - count, entryEnd - seq))
      if (run.count === 0) {
        // maxBytes and the window always fit one record, so the first cannot come up empty
        if (count === 0) throw this.#changedEntry(segment, entry)
        break // the next record does not fit in maxBytes
      }
      parts.push(buffer.subarray(0, run.bytes))
      count += run.count
      size += run.bytes
      seq += run.count
      byte += run.bytes
      if (seq < entryEnd) {
        this.#cursor = { entry, seq, byte }
        break
      }
      if (byte !== entry.length) throw this.#changedEntry(segment, entry)
      if (count === maxFrames || maxBytes - size < RECORD_HEADER_BYTES) break
      const next = this.#after(position)
      if (next === null) break
      const nextSegment = this.#segments[next.segment]!
      const nextEntry = nextSegment.entries[next.entry]!
      if (nextEntry.firstSeq !== seq) break // a gap: the chunk's records are consecutive
      position = next
      segment = nextSegment
      entry = nextEntry
      byte = 0
    }
    return { firstSeq, count, records: parts.length === 1 ? parts[0]! : concat(parts, size) }
  }

  async #dropOldest(bytesNeeded: number): Promise<DroppedRange[]> {
    let bytes = this.#bytes
    let doomed = 0
    while (this.#options.maxBytes - bytes < bytesNeeded && doomed < this.#segments.length) {
      bytes -= this.#segments[doomed]!.size
      doomed++
    }
    if (doomed === 0) return []
    const dropped: DroppedRange[] = []
    for (const segment of this.#segments.slice(0, doomed)) {
      for (const entry of segment.entries) {
        const fromSeq = Math.max(entry.firstSeq, this.#ackSeq)
        const count = entry.firstSeq + entry.count - fromSeq
        if (count <= 0) continue
        const last = dropped.at(-1)
        if (last !== undefined && last.fromSeq + last.count === fromSeq) last.count += count
        else dropped.push({ fromSeq, count })
      }
    }
    await this.#freeOldest(doomed)
    return dropped
  }

  /**
   * Deletes the `count` oldest segments and persists the state, in an order that needs no
   * new space, so that a full disk is freed as well: first the segments that carry nothing
   * the state file lacks, then the state, then the newest segment when it goes too (until
   * then it carries nextSeq, FORMAT.md §3).
   */
  async #freeOldest(count: number): Promise<void> {
    const newest = this.#segments.at(-1)
    const carriesNextSeq =
      count > 0 && count === this.#segments.length && this.#persisted.nextSeq < newest!.endSeq
    try {
      await this.#removeOldest(carriesNextSeq ? count - 1 : count)
      await this.#persist()
      if (carriesNextSeq) await this.#removeOldest(1)
    } finally {
      this.#firstSeq = this.#findFirstSeq()
    }
  }

  /** Removes the `count` oldest segments, keeping the counts and read handles right. */
  async #removeOldest(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const segment = this.#segments.shift()!
      this.#bytes -= segment.size
      for (const entry of segment.entries) this.#frames -= this.#heldIn(entry, MAX_SEQUENCE + 1)
      if (this.#reading === segment) this.#reading = null
      await segment.remove()
    }
  }

  /** Writes state.json when the points moved since the last write; true if it wrote. */
  async #persist(): Promise<boolean> {
    const { ackSeq, nextSeq } = this.#persisted
    const next = Math.max(this.#nextSeq, this.#reservedSeq)
    if (ackSeq === this.#ackSeq && nextSeq === next) return false
    const state = { ackSeq: this.#ackSeq, nextSeq: next }
    await writeSpoolState(this.dir, state)
    this.#persisted = state
    return true
  }

  /** Record offset of `seq` inside `entry`: 0, the cursor of the last read, or a walk. */
  async #offsetOf(segment: SegmentFile, entry: SegmentEntry, seq: number): Promise<number> {
    if (seq === entry.firstSeq) return 0
    const cursor = this.#cursor
    if (cursor !== null && cursor.entry === entry && cursor.seq === seq) return cursor.byte
    const offset = await skipRecords(seq - entry.firstSeq, async (from) => {
      const window = new Uint8Array(Math.min(SKIP_WINDOW_BYTES, entry.length - from))
      await this.#readRecords(segment, entry, from, window)
      return window
    })
    if (offset < 0 || offset >= entry.length) throw this.#changedEntry(segment, entry)
    return offset
  }

  /** Records that no longer walk as they did when checked: the file changed under us. */
  #changedEntry(segment: SegmentFile, entry: SegmentEntry): SpoolCorruptError {
    return new SpoolCorruptError(
      `${segment.path}: entry at ${entry.firstSeq} no longer holds ${entry.count} records (changed on disk since it was checked)`,
      { path: segment.path },
    )
  }

  async #readRecords(
    segment: SegmentFile,
    entry: SegmentEntry,
    from: number,
    target: Uint8Array,
  ): Promise<void> {
    // keep one sealed segment's read handle open: replay reads a segment many times in a row
    if (!segment.writable && this.#reading !== segment) {
      await this.#reading?.closeHandle()
      this.#reading = segment
    }
    await segment.readRecords(entry, from, target, 0, target.length)
  }

  /** The first entry that holds a frame at or after `seq`, or null. */
  #locate(seq: number): EntryPosition | null {
    const segments = this.#segments
    // the last segment starting at or before seq (segments are in sequence order)
    let low = 0
    let high = segments.length - 1
    while (low < high) {
      const middle = (low + high + 1) >>> 1
      if (segments[middle]!.firstSeq <= seq) low = middle
      else high = middle - 1
    }
    for (let index = low; index < segments.length; index++) {
      const entries = segments[index]!.entries
      let first = 0
      let last = entries.length
      while (first < last) {
        const middle = (first + last) >>> 1
        const entry = entries[middle]!
        if (entry.firstSeq + entry.count <= seq) first = middle + 1
        else last = middle
      }
      if (first < entries.length) return { segment: index, entry: first }
    }
    return null
  }

  #after(position: EntryPosition): EntryPosition | null {
    const segment = this.#segments[position.segment]!
    if (position.entry + 1 < segment.entries.length) {
      return { segment: position.segment, entry: position.entry + 1 }
    }
    // segments hold at least one entry, except a just-created one before its first append
    for (let index = position.segment + 1; index < this.#segments.length; index++) {
      if (this.#segments[index]!.entries.length > 0) return { segment: index, entry: 0 }
    }
    return null
  }

  #findFirstSeq(): number | null {
    const position = this.#locate(this.#ackSeq)
    if (position === null) return null
    const entry = this.#segments[position.segment]!.entries[position.entry]!
    return Math.max(entry.firstSeq, this.#ackSeq)
  }

  /** Frames held (at or above the ack point) below `seq`. */
  #heldBelow(seq: number): number {
    let held = 0
    for (const segment of this.#segments) {
      for (const entry of segment.entries) {
        if (entry.firstSeq >= seq) return held
        held += this.#heldIn(entry, seq)
      }
    }
    return held
  }

  /** Frames of `entry` at or above the ack point and below `seq`. */
  #heldIn(entry: SegmentEntry, seq: number): number {
    const from = Math.max(entry.firstSeq, this.#ackSeq)
    const to = Math.min(entry.firstSeq + entry.count, seq)
    return Math.max(0, to - from)
  }

  #exclusive<T>(operation: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error(`spool ${this.dir} is closed`))
    return this.#enqueue(operation)
  }

  #enqueue<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(operation)
    // the next operation waits for this one whatever its outcome; the caller gets the error
    this.#queue = result.then(
      () => undefined,
      () => undefined,
    )
    return result
  }
}

function resolveOptions(options: SpoolOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('spool options must be an object')
  }
  const { maxBytes, syncEveryAppend = false } = options
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
    throw new RangeError(`maxBytes must be a positive integer, got ${maxBytes}`)
  }
  const segmentBytes =
    options.segmentBytes ??
    Math.max(1, Math.min(DEFAULT_SEGMENT_BYTES, Math.floor(maxBytes / DEFAULT_SEGMENTS_PER_SPOOL)))
  if (!Number.isSafeInteger(segmentBytes) || segmentBytes < 1) {
    throw new RangeError(`segmentBytes must be a positive integer, got ${segmentBytes}`)
  }
  if (typeof syncEveryAppend !== 'boolean') {
    throw new TypeError(`syncEveryAppend must be a boolean, got ${String(syncEveryAppend)}`)
  }
  return { maxBytes, segmentBytes, syncEveryAppend }
}

function assertSequence(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be an integer from 0 to 2^53 - 1, got ${value}`)
  }
}

async function createDirectory(dir: string): Promise<void> {
  try {
    await makeDirectories(resolve(dir))
  } catch (error) {
    throw new SpoolIoError(`cannot create spool directory ${dir}`, { path: dir, cause: error })
  }
}

interface DirectoryListing {
  /** segment file names in sequence order */
  segments: string[]
  hasState: boolean
  hasTemp: boolean
  strays: string[]
}

/** Sorts a spool directory's names; refuses a directory that holds only foreign files. */
async function listDirectory(dir: string): Promise<DirectoryListing> {
  let entries: Dirent[]
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch (error) {
    throw new SpoolIoError(`cannot read spool directory ${dir}`, { path: dir, cause: error })
  }
  const listing: DirectoryListing = { segments: [], hasState: false, hasTemp: false, strays: [] }
  const segmentSeqs = new Map<string, number>()
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const name = entry.name
    const seq = parseSegmentFileName(name)
    if (name === STATE_FILE) listing.hasState = true
    else if (name === STATE_TEMP_FILE) listing.hasTemp = true
    else if (seq !== null && entry.isFile()) segmentSeqs.set(name, seq)
    else if (!IGNORED_NAMES.has(name)) listing.strays.push(name)
  }
  listing.segments = [...segmentSeqs.keys()].sort(
    (a, b) => segmentSeqs.get(a)! - segmentSeqs.get(b)!,
  )
  const ours = listing.hasState || listing.hasTemp || listing.segments.length > 0
  if (!ours && listing.strays.length > 0) {
    // writing segments among someone else's files (a mistyped path) would be worse than stopping
    const shown = listing.strays.slice(0, 5).join(', ')
    throw new SpoolCorruptError(
      `${dir} is not a spool: it holds ${shown}${listing.strays.length > 5 ? ', …' : ''} but no ${STATE_FILE} or segment file`,
      { path: dir },
    )
  }
  return listing
}

/**
 * Runs a write that recovery can do without (the disk is full or read-only): true when it
 * succeeded; false, with a line in `problems`, when the file system refused it.
 */
async function tolerateUnwritable(write: Promise<unknown>, problems: string[]): Promise<boolean> {
  try {
    await write
    return true
  } catch (error) {
    if (!(error instanceof SpoolIoError && error.unwritable)) throw error
    problems.push(`${error.message}; left for later`)
    return false
  }
}

async function removePath(path: string): Promise<void> {
  try {
    await rm(path, { force: true })
  } catch (error) {
    throw new SpoolIoError(`cannot remove ${path}`, { path, cause: error })
  }
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}
