// MCAPWriter: a Listener recording to MCAP (Foxglove's container) with @mcap/core, loaded
// only when an MCAP file is opened: one MCAP channel per CAN bus (topic `/can/<bus>`) with
// the frames as JSON under a JSON Schema, and, given a SignalDecoder, one more channel per bus
// and message name (`/can/<bus>/<Message>`) with the decoded signals. Chunked (zstd, from
// node:zlib), with message and chunk indexes, statistics and summary offsets, so Foxglove
// opens, seeks and plots it.
import * as zlib from 'node:zlib'
import type { McapWriter } from '@mcap/core'
import type { Listener } from '../listeners.ts'
import type { CanMessage } from '../message.ts'
import { BinaryFile, writerError } from './binary-file.ts'
import { CAN_FRAME_JSON_SCHEMA, CAN_FRAME_SCHEMA_NAME, canFrameJson } from './mcap-frame.ts'
import type { SignalDecoder } from './signal-decoder.ts'

export type MCAPCompression = 'zstd' | 'none'

export interface MCAPWriterOptions {
  /** chunk compression; default `zstd` (`none` where this Node has no zstd) */
  compression?: MCAPCompression | undefined
  /** uncompressed bytes per chunk; default 1 MiB */
  chunkSize?: number | undefined
  /** decodes frames into signals, written beside the raw frames (see SignalDecoder) */
  decoder?: SignalDecoder | undefined
}

/** The channel topic of a bus: `/can/pi-garage/can0`, `/can` for messages without a bus. */
export function busTopic(channel: string | null): string {
  return channel === null ? '/can' : `/can/${channel}`
}

const DEFAULT_CHUNK = 1024 * 1024
const LIBRARY = 'canbridge'

interface Open {
  writer: McapWriter
  frameSchema: number
}

export class MCAPWriter implements Listener {
  readonly #file: BinaryFile
  readonly #decoder: SignalDecoder | undefined
  readonly #encoder = new TextEncoder()
  /** MCAP channel ids by bus, and by bus + message name for signals */
  readonly #frameChannels = new Map<string | null, number>()
  readonly #signalChannels = new Map<string, number>()
  #scratch = new Uint8Array(1024)
  #opened: Promise<Open>
  #tail: Promise<void>
  #count = 0
  #error: Error | undefined
  #closing: Promise<void> | undefined
  /** frames the decoder threw on (each is still written raw) */
  decodeErrors = 0
  /** the last error the decoder threw, for a note */
  lastDecodeError: Error | undefined

  /** Opens (truncates) `path` at once, so a bad path fails here. */
  constructor(path: string, options: MCAPWriterOptions = {}) {
    const compression = options.compression ?? 'zstd'
    if (compression !== 'zstd' && compression !== 'none') {
      throw new RangeError(
        `compression must be "zstd" or "none", got ${JSON.stringify(compression)}`,
      )
    }
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK
    if (!Number.isInteger(chunkSize) || chunkSize < 1024) {
      throw new RangeError(`chunkSize must be an integer >= 1024, got ${String(options.chunkSize)}`)
    }
    this.#decoder = options.decoder
    this.#file = new BinaryFile(path)
    this.#opened = this.#open(compression, chunkSize)
    this.#tail = this.#opened.then(
      () => undefined,
      (error: unknown) => this.#fail(error),
    )
  }

  /** the file path */
  get name(): string {
    return this.#file.name
  }

  /** frames written so far */
  get count(): number {
    return this.#count
  }

  /** Queues the frame (@mcap/core takes one call at a time); a Notifier waits for it. */
  onMessage(message: CanMessage): Promise<void> {
    if (this.#error !== undefined) throw this.#error
    if (this.#closing !== undefined) throw new Error(`${this.name}: written after stop()`)
    const added = this.#tail.then(() => this.#add(message))
    this.#tail = added.catch((error: unknown) => this.#fail(error))
    return added
  }

  /** Writes the last chunk, the indexes and the summary, and closes the file. Idempotent. */
  stop(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    await this.#tail
    if (this.#error === undefined) {
      try {
        await (await this.#opened).writer.end()
      } catch (error) {
        this.#fail(error)
      }
    }
    await this.#file.close().catch((error: unknown) => this.#fail(error))
    if (this.#error !== undefined) throw this.#error
  }

  async #open(compression: MCAPCompression, chunkSize: number): Promise<Open> {
    const { McapWriter } = await import('@mcap/core')
    const zstd = compression === 'zstd' ? zlib.zstdCompressSync : undefined
    const file = this.#file
    const writer = new McapWriter({
      writable: { write: (buffer) => file.append(buffer), position: () => BigInt(file.position) },
      chunkSize,
      compressChunk:
        zstd === undefined
          ? undefined
          : (chunk) => ({ compression: 'zstd', compressedData: zstd(chunk) }),
    })
    await writer.start({ profile: '', library: LIBRARY })
    const frameSchema = await writer.registerSchema({
      name: CAN_FRAME_SCHEMA_NAME,
      encoding: 'jsonschema',
      data: this.#encoder.encode(CAN_FRAME_JSON_SCHEMA),
    })
    return { writer, frameSchema }
  }

  async #add(message: CanMessage): Promise<void> {
    if (this.#error !== undefined) throw this.#error
    const open = await this.#opened
    const { writer } = open
    let channelId = this.#frameChannels.get(message.channel)
    if (channelId === undefined) {
      const metadata = new Map<string, string>()
      if (message.channel !== null) metadata.set('channel', message.channel)
      channelId = await writer.registerChannel({
        topic: busTopic(message.channel),
        messageEncoding: 'json',
        schemaId: open.frameSchema,
        metadata,
      })
      this.#frameChannels.set(message.channel, channelId)
    }
    const logTime = message.timestampNs
    await writer.addMessage({
      channelId,
      sequence: this.#count,
      logTime,
      publishTime: logTime,
      data: this.#encode(canFrameJson(message)),
    })
    this.#count++
    if (this.#decoder !== undefined) await this.#addSignals(open, message)
  }

  async #addSignals(open: Open, message: CanMessage): Promise<void> {
    let decoded: ReturnType<SignalDecoder['decode']>
    try {
      decoded = this.#decoder!.decode(message)
    } catch (error) {
      // a frame the database does not fit (wrong length, ...) is a note, never a stop
      this.decodeErrors++
      this.lastDecodeError = error as Error
      return
    }
    if (decoded === null || decoded === undefined) return
    const key = `${message.channel ?? ''}\u0000${decoded.name}`
    let channelId = this.#signalChannels.get(key)
    if (channelId === undefined) {
      channelId = await this.#registerSignals(
        open.writer,
        message.channel,
        decoded.name,
        decoded.signals,
      )
      this.#signalChannels.set(key, channelId)
    }
    const logTime = message.timestampNs
    await open.writer.addMessage({
      channelId,
      sequence: this.#count,
      logTime,
      publishTime: logTime,
      data: this.#encode(JSON.stringify(decoded.signals, bigintAsJson)),
    })
  }

  /** A schema listing the signals the first decoded frame had, and the channel under it. */
  async #registerSignals(
    writer: McapWriter,
    channel: string | null,
    name: string,
    signals: Readonly<Record<string, number | bigint | string>>,
  ): Promise<number> {
    const properties: Record<string, { type: string[] }> = {}
    for (const signal of Object.keys(signals)) properties[signal] = { type: ['number', 'string'] }
    const schemaId = await writer.registerSchema({
      name: `canbridge.signals.${name}`,
      encoding: 'jsonschema',
      data: this.#encoder.encode(
        JSON.stringify({ title: name, type: 'object', properties, additionalProperties: true }),
      ),
    })
    const metadata = new Map([['message', name]])
    if (channel !== null) metadata.set('channel', channel)
    return writer.registerChannel({
      topic: `${busTopic(channel)}/${name}`,
      messageEncoding: 'json',
      schemaId,
      metadata,
    })
  }

  /** UTF-8 of `text` in a reused buffer (@mcap/core copies it before it returns). */
  #encode(text: string): Uint8Array {
    // UTF-8 takes at most 3 bytes per UTF-16 unit
    if (this.#scratch.length < text.length * 3) this.#scratch = new Uint8Array(text.length * 3)
    const { written } = this.#encoder.encodeInto(text, this.#scratch)
    return this.#scratch.subarray(0, written)
  }

  #fail(error: unknown): void {
    this.#error ??= writerError(this.name, 'MCAP', error)
  }
}

/** JSON has no 64-bit integers: a bigint is a number while exact, else its decimal string. */
function bigintAsJson(_key: string, value: unknown): unknown {
  if (typeof value !== 'bigint') return value
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value.toString()
}
