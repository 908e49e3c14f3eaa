// BLFWriter: a Listener writing Vector's binary log (.blf): classic frames as CAN_MESSAGE2,
// CAN FD as CAN_FD_MESSAGE_64 (what Vector's tools write today), error frames as
// CAN_ERROR_EXT (as python-can writes them: the id and data of the error frame), in zlib
// log containers; the header's statistics and start/stop times are written at stop().
import { promisify } from 'node:util'
import { deflate } from 'node:zlib'
import type { Listener } from '../listeners.ts'
import type { CanMessage } from '../message.ts'
import { BinaryFile, writerError } from './binary-file.ts'
import {
  BLF_OBJECT,
  CAN_ERROR_EXT_BODY,
  CAN_FD64_BODY_HEAD,
  CAN_FD64_FLAG,
  CAN_MESSAGE2_BODY,
  CAN_MSG_FLAG,
  COMPRESSION,
  CONTAINER_HEADER_SIZE,
  FILE_HEADER_SIZE,
  FIRST_WALL_CLOCK_MS,
  ID_EXTENDED,
  lengthToDlc,
  OBJECT_BASE_SIZE,
  OBJECT_HEADER_V1_SIZE,
  OBJECT_SIGNATURE,
  TIME_UNIT,
  writeFileHeader,
} from './blf-format.ts'

export interface BLFWriterOptions {
  /**
   * Channel names in BLF channel-number order (the first is channel 1, Vector's CAN 1).
   * Channels not listed get the next numbers as they first appear (a message without a
   * channel counts as one more channel).
   */
  channels?: readonly string[] | undefined
  /** zlib level 1..9 for the log containers, 0 to store them uncompressed; default 6 */
  compressionLevel?: number | undefined
  /** uncompressed bytes per log container; default 131072, as Vector's tools and python-can */
  containerSize?: number | undefined
}

const DEFAULT_CONTAINER = 128 * 1024
const DEFAULT_LEVEL = 6
/** the largest inner object: a 64-byte CAN FD frame and its padding */
const MAX_OBJECT = OBJECT_HEADER_V1_SIZE + CAN_FD64_BODY_HEAD + 64 + 3
/** BLF channel numbers are one byte in CAN_FD_MESSAGE_64 */
const MAX_CHANNELS = 255
/** containers being compressed or written before onMessage makes its caller wait */
const MAX_IN_FLIGHT = 4
const NS_PER_MS = 1_000_000n

const deflateAsync = promisify(deflate)

export class BLFWriter implements Listener {
  readonly #file: BinaryFile
  readonly #channels = new Map<string | null, number>()
  readonly #containerSize: number
  readonly #level: number
  #container: Buffer
  #used = 0
  #count = 0
  #uncompressedSize = FILE_HEADER_SIZE
  /** the start time (whole ms) every object's time is relative to */
  #baseNs = 0n
  #startMs: number | undefined
  #stopMs = 0
  #inFlight = 0
  #tail: Promise<void> = Promise.resolve()
  #error: Error | undefined
  #closing: Promise<void> | undefined

  /** Opens (truncates) `path` at once, so a bad path fails here. */
  constructor(path: string, options: BLFWriterOptions = {}) {
    this.#level = options.compressionLevel ?? DEFAULT_LEVEL
    if (!Number.isInteger(this.#level) || this.#level < 0 || this.#level > 9) {
      throw new RangeError(`compressionLevel must be 0..9, got ${String(options.compressionLevel)}`)
    }
    this.#containerSize = options.containerSize ?? DEFAULT_CONTAINER
    if (!Number.isInteger(this.#containerSize) || this.#containerSize < 1024) {
      throw new RangeError(
        `containerSize must be an integer >= 1024, got ${String(options.containerSize)}`,
      )
    }
    for (const name of options.channels ?? []) {
      if (!this.#channels.has(name)) this.#channels.set(name, this.#channels.size + 1)
    }
    if (this.#channels.size > MAX_CHANNELS) {
      throw new RangeError(`a BLF file has at most ${MAX_CHANNELS} channels`)
    }
    this.#container = Buffer.alloc(this.#containerSize + MAX_OBJECT)
    this.#file = new BinaryFile(path)
    // the header is written again, with its statistics, at stop()
    this.#queue(this.#file.append(Buffer.alloc(FILE_HEADER_SIZE)))
  }

  /** the file path */
  get name(): string {
    return this.#file.name
  }

  /** messages written so far */
  get count(): number {
    return this.#count
  }

  /** Returns a promise only when compression or the disk falls behind: a Notifier then waits. */
  onMessage(message: CanMessage): void | Promise<void> {
    if (this.#error !== undefined) throw this.#error
    if (this.#closing !== undefined) throw new Error(`${this.name}: written after stop()`)
    const channel = this.#channelOf(message)
    if (this.#startMs === undefined) {
      const ms = Number(message.timestampNs / NS_PER_MS)
      // times before 1990 are not wall-clock times: they stay absolute (the header has none)
      this.#startMs = ms >= FIRST_WALL_CLOCK_MS ? ms : 0
      this.#baseNs = BigInt(this.#startMs) * NS_PER_MS
    }
    const offset = message.timestampNs - this.#baseNs
    const at = this.#used
    let size: number
    if (message.isErrorFrame) size = this.#errorFrame(message, channel, at)
    else if (message.isFd) size = this.#fdFrame(message, channel, at)
    else size = this.#classicFrame(message, channel, at)
    // a frame older than the first is written at the start (the times are unsigned)
    this.#objectHeader(at, size, offset > 0n ? offset : 0n)
    this.#used = at + size + (size % 4)
    this.#count++
    const ms = Number(message.timestampNs / NS_PER_MS)
    if (ms > this.#stopMs) this.#stopMs = ms
    if (this.#used >= this.#containerSize) return this.#flush()
  }

  /** Writes the last container and the header's statistics, and closes the file. Idempotent. */
  stop(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    if (this.#used > 0 && this.#error === undefined) this.#flush()
    await this.#tail
    if (this.#error === undefined) {
      const header = Buffer.alloc(FILE_HEADER_SIZE)
      writeFileHeader(header, {
        fileSize: this.#file.position,
        uncompressedSize: this.#uncompressedSize,
        objectCount: this.#count,
        startMs: this.#startMs ?? 0,
        stopMs: this.#stopMs,
      })
      this.#queue(this.#file.writeAt(header, 0))
      await this.#tail
    }
    await this.#file.close().catch((error: unknown) => {
      this.#error ??= error as Error
    })
    if (this.#error !== undefined) throw this.#error
  }

  #channelOf(message: CanMessage): number {
    let channel = this.#channels.get(message.channel)
    if (channel === undefined) {
      channel = this.#channels.size + 1
      if (channel > MAX_CHANNELS) {
        throw new RangeError(
          `${this.name}: channel ${JSON.stringify(message.channel)} would be the ${channel}th; a BLF file has at most ${MAX_CHANNELS}`,
        )
      }
      this.#channels.set(message.channel, channel)
    }
    return channel
  }

  /** LOBJ, header size, version 1, object size, type; flags, client, version, time. */
  #objectHeader(at: number, size: number, offsetNs: bigint): void {
    const b = this.#container
    b.writeUInt32LE(OBJECT_SIGNATURE, at)
    b.writeUInt16LE(OBJECT_HEADER_V1_SIZE, at + 4)
    b.writeUInt16LE(1, at + 6)
    b.writeUInt32LE(size, at + 8)
    b.writeUInt32LE(TIME_UNIT.ONE_NANOSECOND, at + 16)
    b.writeBigUInt64LE(offsetNs, at + 24)
  }

  #classicFrame(message: CanMessage, channel: number, at: number): number {
    const b = this.#container
    const o = at + OBJECT_HEADER_V1_SIZE
    b.writeUInt32LE(BLF_OBJECT.CAN_MESSAGE2, at + 12)
    b.writeUInt16LE(channel, o)
    b[o + 2] = (message.isRx ? 0 : CAN_MSG_FLAG.TX) | (message.isRemoteFrame ? CAN_MSG_FLAG.RTR : 0)
    b[o + 3] = message.dlc
    b.writeUInt32LE(idField(message), o + 4)
    b.set(message.data, o + 8)
    return OBJECT_HEADER_V1_SIZE + CAN_MESSAGE2_BODY
  }

  #fdFrame(message: CanMessage, channel: number, at: number): number {
    const b = this.#container
    const o = at + OBJECT_HEADER_V1_SIZE
    const length = message.data.length
    b.writeUInt32LE(BLF_OBJECT.CAN_FD_MESSAGE_64, at + 12)
    b[o] = channel
    b[o + 1] = lengthToDlc(length)
    b[o + 2] = length
    b.writeUInt32LE(idField(message), o + 4)
    b.writeUInt32LE(
      CAN_FD64_FLAG.EDL |
        (message.bitrateSwitch ? CAN_FD64_FLAG.BRS : 0) |
        (message.errorStateIndicator ? CAN_FD64_FLAG.ESI : 0) |
        (message.isRx ? 0 : CAN_FD64_FLAG.TX_ACK),
      o + 12,
    )
    b[o + 34] = message.isRx ? 0 : 1
    b.set(message.data, o + CAN_FD64_BODY_HEAD)
    return OBJECT_HEADER_V1_SIZE + CAN_FD64_BODY_HEAD + length
  }

  #errorFrame(message: CanMessage, channel: number, at: number): number {
    const b = this.#container
    const o = at + OBJECT_HEADER_V1_SIZE
    const data = message.data
    if (data.length > 8) {
      throw new RangeError(
        `${this.name}: an error frame carries at most 8 bytes in BLF, got ${data.length}`,
      )
    }
    b.writeUInt32LE(BLF_OBJECT.CAN_ERROR_EXT, at + 12)
    b.writeUInt16LE(channel, o)
    b[o + 10] = data.length
    b.writeUInt32LE(idField(message), o + 16)
    b.set(data, o + 24)
    return OBJECT_HEADER_V1_SIZE + CAN_ERROR_EXT_BODY
  }

  /** Hands the full container to compression and the file; a promise when too many wait. */
  #flush(): Promise<void> | undefined {
    const contents = this.#container.subarray(0, this.#used)
    this.#uncompressedSize += OBJECT_BASE_SIZE + CONTAINER_HEADER_SIZE + contents.length
    this.#container = Buffer.alloc(this.#containerSize + MAX_OBJECT)
    this.#used = 0
    this.#inFlight++
    const level = this.#level
    const written = this.#tail.then(async () => {
      if (this.#error !== undefined) return
      const data = level === 0 ? contents : await deflateAsync(contents, { level })
      await this.#file.append(containerObject(data, contents.length, level !== 0))
    })
    this.#queue(written.finally(() => this.#inFlight--))
    if (this.#inFlight >= MAX_IN_FLIGHT) return this.#tail
  }

  /** Chains `work` after what is queued; its failure is kept and reported once. */
  #queue(work: Promise<void>): void {
    this.#tail = this.#tail
      .then(
        () => work,
        () => work,
      )
      .catch((error: unknown) => {
        this.#error ??= writerError(this.name, 'BLF', error)
      })
  }
}

/** The id field: bit 31 for an extended id. */
function idField(message: CanMessage): number {
  return (message.isExtendedId ? ID_EXTENDED | message.arbitrationId : message.arbitrationId) >>> 0
}

/** A LOG_CONTAINER object around `data`, with its padding. */
function containerObject(data: Uint8Array, uncompressed: number, zlib: boolean): Buffer {
  const size = OBJECT_BASE_SIZE + CONTAINER_HEADER_SIZE + data.length
  const out = Buffer.alloc(size + (size % 4))
  out.writeUInt32LE(OBJECT_SIGNATURE, 0)
  out.writeUInt16LE(OBJECT_BASE_SIZE, 4)
  out.writeUInt16LE(1, 6)
  out.writeUInt32LE(size, 8)
  out.writeUInt32LE(BLF_OBJECT.LOG_CONTAINER, 12)
  out.writeUInt16LE(zlib ? COMPRESSION.ZLIB : COMPRESSION.NONE, 16)
  out.writeUInt32LE(uncompressed, 24)
  out.set(data, OBJECT_BASE_SIZE + CONTAINER_HEADER_SIZE)
  return out
}
