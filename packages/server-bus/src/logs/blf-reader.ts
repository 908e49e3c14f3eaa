// BLFReader: the CAN frames of a Vector binary log (.blf), as python-can's BLFReader reads
// them: CAN_MESSAGE(2), CAN_FD_MESSAGE(_64) and CAN_ERROR_EXT objects, in stored or zlib log
// containers, an object continuing from one container into the next; other objects are
// counted and skipped. A file that breaks (truncated, corrupt) yields every frame before the
// break, those of a truncated last container included, then a LogFormatError saying where.
import { type FileHandle, open } from 'node:fs/promises'
import { promisify } from 'node:util'
import { constants, inflate, inflateSync } from 'node:zlib'
import { CanMessage } from '../message.ts'
import {
  BLF_OBJECT,
  type BLFFileHeader,
  CAN_ERROR_EXT_BODY,
  CAN_FD_FLAG,
  CAN_FD_MESSAGE_BODY,
  CAN_FD64_BODY_HEAD,
  CAN_FD64_FLAG,
  CAN_MSG_FLAG,
  COMPRESSION,
  CONTAINER_HEADER_SIZE,
  dlcToLength,
  FILE_HEADER_SIZE,
  ID_EXTENDED,
  ID_MASK,
  OBJECT_BASE_SIZE,
  OBJECT_SIGNATURE,
  readFileHeader,
  TIME_UNIT,
} from './blf-format.ts'
import { LogFormatError } from './log-format-error.ts'

export interface BLFReaderOptions {
  /**
   * Names for the BLF channel numbers, in order (the first names channel 1). A channel not
   * named is python-can's number for it, as a string: channel 1 is `"0"`.
   */
  channels?: readonly string[] | undefined
}

/** the largest object accepted: Vector's containers hold 128 KiB; far more is a corrupt size */
const MAX_OBJECT_SIZE = 64 * 1024 * 1024
const NS_PER_MS = 1_000_000n
const TEN_US_IN_NS = 10_000n
const EMPTY = new Uint8Array(0)
const inflateAsync = promisify(inflate)

/** A break in the inner object stream: its offset there, and what is wrong. */
class InnerBreak extends Error {
  readonly at: number
  constructor(at: number, reason: string) {
    super(reason)
    this.at = at
  }
}

export class BLFReader implements AsyncIterable<CanMessage> {
  readonly name: string
  readonly #channels: readonly string[]
  /** the file header's statistics, once read */
  header: BLFFileHeader | undefined
  /** inner objects read, of every type */
  objectsRead = 0
  /** inner objects of types other than CAN frames, skipped */
  objectsSkipped = 0
  /** log containers read */
  containers = 0
  /** bytes of the file read so far (for a progress bar) */
  bytesRead = 0
  #baseNs = 0n
  #started = false

  constructor(path: string, options: BLFReaderOptions = {}) {
    this.name = path
    this.#channels = options.channels ?? []
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<CanMessage, void, undefined> {
    if (this.#started) throw new Error(`${this.name}: a BLFReader can be iterated once`)
    this.#started = true
    let file: FileHandle
    try {
      file = await open(this.name, 'r')
    } catch (error) {
      throw new Error(`cannot read ${this.name}: ${(error as Error).message}`, { cause: error })
    }
    try {
      yield* this.#read(file)
    } finally {
      await file.close()
    }
  }

  async *#read(file: FileHandle): AsyncGenerator<CanMessage, void, undefined> {
    const head = await readAt(file, 0, FILE_HEADER_SIZE)
    const header = readFileHeader(head)
    if (typeof header === 'string') throw this.#error(0, header)
    this.header = header
    this.#baseNs = BigInt(header.startMs) * NS_PER_MS
    let offset = header.headerSize
    /** the inner stream's bytes not yet parsed (an object continuing in the next container) */
    let pending: Buffer = Buffer.alloc(0)
    /** the file offset of the container `pending` starts in, for errors */
    let pendingFrom = offset
    for (;;) {
      const base = await readAt(file, offset, OBJECT_BASE_SIZE)
      if (base.length === 0) break
      if (base.length < OBJECT_BASE_SIZE) {
        throw this.#error(
          offset,
          `the file ends inside an object header (${base.length} of ${OBJECT_BASE_SIZE} bytes)`,
        )
      }
      if (base.readUInt32LE(0) !== OBJECT_SIGNATURE) {
        throw this.#error(
          offset,
          `no "LOBJ" object signature (found ${base.subarray(0, 4).toString('hex')})`,
        )
      }
      const size = base.readUInt32LE(8)
      const type = base.readUInt32LE(12)
      if (size < OBJECT_BASE_SIZE || size > MAX_OBJECT_SIZE) {
        throw this.#error(offset, `object size ${size} is impossible`)
      }
      if (type !== BLF_OBJECT.LOG_CONTAINER) {
        // python-can reads only containers; frames stored outside one are counted, not read
        this.objectsSkipped++
        offset += size + (size % 4)
        continue
      }
      const object = await readAt(file, offset, size)
      this.bytesRead = offset + object.length
      const truncated = object.length < size
      if (object.length < OBJECT_BASE_SIZE + CONTAINER_HEADER_SIZE) {
        throw this.#error(
          offset,
          `the file ends inside the log container header (${object.length} of ${size} bytes)`,
        )
      }
      const method = object.readUInt16LE(16)
      const stored = object.subarray(OBJECT_BASE_SIZE + CONTAINER_HEADER_SIZE)
      let contents: Buffer
      if (method === COMPRESSION.NONE) {
        contents = stored
      } else if (method === COMPRESSION.ZLIB) {
        try {
          contents = truncated
            ? // what a cut-off deflate stream still gives, to keep its whole objects
              inflateSync(stored, { finishFlush: constants.Z_SYNC_FLUSH })
            : await inflateAsync(stored)
        } catch (error) {
          throw this.#error(
            offset,
            `the log container does not inflate: ${(error as Error).message}`,
            error,
          )
        }
      } else {
        throw this.#error(offset, `unknown log container compression ${method} (0: none, 2: zlib)`)
      }
      this.containers++
      if (pending.length === 0) pendingFrom = offset
      pending = pending.length === 0 ? contents : Buffer.concat([pending, contents])
      const messages: CanMessage[] = []
      let used: number
      try {
        used = this.#parse(pending, messages)
      } catch (error) {
        yield* messages
        if (!(error instanceof InnerBreak)) throw error
        throw this.#error(
          pendingFrom,
          `in the log containers from here, uncompressed byte ${error.at}: ${error.message}`,
        )
      }
      yield* messages
      if (truncated) {
        throw this.#error(
          offset,
          `the file ends inside the log container (${object.length} of ${size} bytes; the frames in the part present were read)`,
        )
      }
      pending = used === pending.length ? Buffer.alloc(0) : pending.subarray(used)
      if (pending.length > 0 && used > 0) pendingFrom = offset
      offset += size + (size % 4)
    }
    if (pending.length > 0 && !isPadding(pending)) {
      throw this.#error(
        pendingFrom,
        `the file ends inside an object (${pending.length} bytes of it in the last log container)`,
      )
    }
  }

  /** Parses whole objects from `data` into `out`; returns the bytes used. */
  #parse(data: Buffer, out: CanMessage[]): number {
    let pos = 0
    for (;;) {
      // objects are padded with objectSize % 4 bytes, possibly at the start of the next container
      let found = -1
      for (let skip = 0; skip < 4 && pos + skip + 4 <= data.length; skip++) {
        if (data.readUInt32LE(pos + skip) === OBJECT_SIGNATURE) {
          found = pos + skip
          break
        }
      }
      if (found < 0) {
        if (data.length - pos >= 7) throw new InnerBreak(pos, 'no "LOBJ" object signature')
        return pos
      }
      if (data.length - found < OBJECT_BASE_SIZE) return pos
      const headerSize = data.readUInt16LE(found + 4)
      const version = data.readUInt16LE(found + 6)
      const size = data.readUInt32LE(found + 8)
      const type = data.readUInt32LE(found + 12)
      if (size < headerSize || headerSize < OBJECT_BASE_SIZE || size > MAX_OBJECT_SIZE) {
        throw new InnerBreak(
          found,
          `object ${this.objectsRead}: header size ${headerSize}, object size ${size}`,
        )
      }
      if (found + size > data.length) return pos
      this.objectsRead++
      const message = this.#object(data, found, type, version, headerSize, size)
      if (message === undefined) this.objectsSkipped++
      else out.push(message)
      pos = found + size
    }
  }

  #object(
    data: Buffer,
    at: number,
    type: number,
    version: number,
    headerSize: number,
    size: number,
  ): CanMessage | undefined {
    const isFrame =
      type === BLF_OBJECT.CAN_MESSAGE ||
      type === BLF_OBJECT.CAN_MESSAGE2 ||
      type === BLF_OBJECT.CAN_ERROR_EXT ||
      type === BLF_OBJECT.CAN_FD_MESSAGE ||
      type === BLF_OBJECT.CAN_FD_MESSAGE_64
    if (!isFrame) return undefined
    if (version !== 1 && version !== 2) {
      throw new InnerBreak(
        at,
        `object ${this.objectsRead - 1}: unknown object header version ${version}`,
      )
    }
    // version 1 and 2 headers both start with the flags (time unit) and end the time at +24
    const unit = data.readUInt32LE(at + 16) === TIME_UNIT.TEN_MICROSECONDS ? TEN_US_IN_NS : 1n
    const timestampNs = this.#baseNs + data.readBigUInt64LE(at + 24) * unit
    const o = at + headerSize
    const body = size - headerSize
    const need =
      type === BLF_OBJECT.CAN_ERROR_EXT
        ? CAN_ERROR_EXT_BODY
        : type === BLF_OBJECT.CAN_FD_MESSAGE
          ? CAN_FD_MESSAGE_BODY
          : type === BLF_OBJECT.CAN_FD_MESSAGE_64
            ? CAN_FD64_BODY_HEAD
            : 16
    if (body < need) {
      throw new InnerBreak(
        at,
        `object ${this.objectsRead - 1} (type ${type}) is ${body} bytes, needs ${need}`,
      )
    }
    try {
      switch (type) {
        case BLF_OBJECT.CAN_ERROR_EXT:
          return this.#errorFrame(data, o, timestampNs)
        case BLF_OBJECT.CAN_FD_MESSAGE:
          return this.#fdMessage(data, o, timestampNs)
        case BLF_OBJECT.CAN_FD_MESSAGE_64:
          return this.#fdMessage64(data, o, timestampNs, body)
        default:
          return this.#canMessage(data, o, timestampNs)
      }
    } catch (error) {
      if (error instanceof InnerBreak) throw error
      // the frame's fields break CanMessage's rules (e.g. a CAN FD length that does not exist)
      throw new InnerBreak(
        at,
        `object ${this.objectsRead - 1} (type ${type}): ${(error as Error).message}`,
      )
    }
  }

  #channel(number: number): string {
    return this.#channels[number - 1] ?? String(number - 1)
  }

  /** CAN_MESSAGE / CAN_MESSAGE2: channel u16, flags, dlc, id u32, data[8]. */
  #canMessage(data: Buffer, o: number, timestampNs: bigint): CanMessage {
    const flags = data[o + 2]!
    const dlc = Math.min(data[o + 3]!, 8)
    const id = data.readUInt32LE(o + 4)
    const remote = (flags & CAN_MSG_FLAG.RTR) !== 0
    return new CanMessage({
      timestampNs,
      channel: this.#channel(data.readUInt16LE(o)),
      arbitrationId: id & ID_MASK,
      isExtendedId: (id & ID_EXTENDED) !== 0,
      isRemoteFrame: remote,
      isRx: (flags & CAN_MSG_FLAG.TX) === 0,
      dlc,
      data: remote ? EMPTY : data.subarray(o + 8, o + 8 + dlc),
    })
  }

  /** CAN_ERROR_EXT: channel u16 @0, dlc @10, id u32 @16, data[8] @24. */
  #errorFrame(data: Buffer, o: number, timestampNs: bigint): CanMessage {
    const dlc = Math.min(data[o + 10]!, 8)
    const id = data.readUInt32LE(o + 16)
    return new CanMessage({
      timestampNs,
      channel: this.#channel(data.readUInt16LE(o)),
      isErrorFrame: true,
      arbitrationId: id & ID_MASK,
      isExtendedId: (id & ID_EXTENDED) !== 0,
      dlc,
      data: data.subarray(o + 24, o + 24 + dlc),
    })
  }

  /** CAN_FD_MESSAGE: channel u16, flags, dlc, id, ..., fdFlags @13, valid bytes @14, data @20. */
  #fdMessage(data: Buffer, o: number, timestampNs: bigint): CanMessage {
    const flags = data[o + 2]!
    const fdFlags = data[o + 13]!
    const fd = (fdFlags & CAN_FD_FLAG.EDL) !== 0
    const remote = (flags & CAN_MSG_FLAG.RTR) !== 0
    const id = data.readUInt32LE(o + 4)
    const length = Math.min(data[o + 14]!, 64)
    return new CanMessage({
      timestampNs,
      channel: this.#channel(data.readUInt16LE(o)),
      arbitrationId: id & ID_MASK,
      isExtendedId: (id & ID_EXTENDED) !== 0,
      isRemoteFrame: remote,
      isFd: fd,
      bitrateSwitch: fd && (fdFlags & CAN_FD_FLAG.BRS) !== 0,
      errorStateIndicator: fd && (fdFlags & CAN_FD_FLAG.ESI) !== 0,
      isRx: (flags & CAN_MSG_FLAG.TX) === 0,
      dlc: remote ? Math.min(dlcToLength(data[o + 3]!), 8) : length,
      data: remote ? EMPTY : data.subarray(o + 20, o + 20 + length),
    })
  }

  /** CAN_FD_MESSAGE_64: channel, dlc, valid bytes, ..., id @4, flags @12, dir @34, data @40. */
  #fdMessage64(data: Buffer, o: number, timestampNs: bigint, body: number): CanMessage {
    const length = data[o + 2]!
    if (CAN_FD64_BODY_HEAD + length > body) {
      throw new InnerBreak(
        o,
        `object ${this.objectsRead - 1}: ${length} data bytes do not fit in it`,
      )
    }
    const flags = data.readUInt32LE(o + 12)
    const fd = (flags & CAN_FD64_FLAG.EDL) !== 0
    const remote = (flags & CAN_FD64_FLAG.RTR) !== 0
    const id = data.readUInt32LE(o + 4)
    return new CanMessage({
      timestampNs,
      channel: this.#channel(data[o]!),
      arbitrationId: id & ID_MASK,
      isExtendedId: (id & ID_EXTENDED) !== 0,
      isRemoteFrame: remote,
      isFd: fd,
      bitrateSwitch: fd && (flags & CAN_FD64_FLAG.BRS) !== 0,
      errorStateIndicator: fd && (flags & CAN_FD64_FLAG.ESI) !== 0,
      isRx: data[o + 34] === 0,
      dlc: remote ? Math.min(dlcToLength(data[o + 1]!), 8) : length,
      data: remote ? EMPTY : data.subarray(o + CAN_FD64_BODY_HEAD, o + CAN_FD64_BODY_HEAD + length),
    })
  }

  #error(offset: number, reason: string, cause?: unknown): LogFormatError {
    return new LogFormatError(this.name, offset, this.objectsRead, reason, { cause })
  }
}

/** Up to `length` bytes at `offset`; fewer at the end of the file. */
async function readAt(file: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length)
  let got = 0
  while (got < length) {
    const { bytesRead } = await file.read(buffer, got, length - got, offset + got)
    if (bytesRead === 0) break
    got += bytesRead
  }
  return got === length ? buffer : buffer.subarray(0, got)
}

/** Trailing bytes that are only an object's padding. */
function isPadding(bytes: Buffer): boolean {
  return bytes.length < 4 && bytes.every((b) => b === 0)
}
