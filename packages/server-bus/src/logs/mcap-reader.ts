// MCAPReader: the CAN frames of an MCAP file written by MCAPWriter (channels with the
// `canbridge.CanFrame` schema), streamed in file order with @mcap/core's stream reader (loaded
// only when an MCAP file is read); zstd chunks through node:zlib, chunk CRCs checked. Other
// channels (decoded signals, anything else) are counted and skipped. A file that breaks
// (truncated, corrupt) yields every frame before the break, then a LogFormatError.
import { createReadStream } from 'node:fs'
import * as zlib from 'node:zlib'
import type { McapTypes } from '@mcap/core'
import type { CanMessage } from '../message.ts'
import { LogFormatError } from './log-format-error.ts'
import { CAN_FRAME_SCHEMA_NAME, canFrameFromJson } from './mcap-frame.ts'

const READ_CHUNK = 1024 * 1024

export class MCAPReader implements AsyncIterable<CanMessage> {
  readonly name: string
  /** messages on channels that are not raw CAN frames, skipped */
  messagesSkipped = 0
  /** frames read */
  framesRead = 0
  /** chunks read */
  chunks = 0
  /** bytes of the file read so far (for a progress bar) */
  bytesRead = 0
  #started = false

  constructor(path: string) {
    this.name = path
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<CanMessage, void, undefined> {
    if (this.#started) throw new Error(`${this.name}: an MCAPReader can be iterated once`)
    this.#started = true
    const { McapStreamReader } = await import('@mcap/core')
    const reader = new McapStreamReader({
      includeChunks: true,
      decompressHandlers: {
        zstd: (data) => zlib.zstdDecompressSync(data),
      },
    })
    const decoder = new TextDecoder()
    /** the schema name of each channel id, and whether it carries raw frames */
    const schemas = new Map<number, string>()
    const frameChannels = new Set<number>()
    /** bytes handed to the reader, and the offset of the record being parsed */
    let appended = 0
    let at = 0
    /** the last chunk's start and end: its records are parsed after the reader has passed it */
    let chunkStart = -1
    let chunkEnd = -1
    const stream = createReadStream(this.name, { highWaterMark: READ_CHUNK })
    try {
      for await (const chunk of stream) {
        reader.append(chunk as Buffer)
        appended += (chunk as Buffer).length
        this.bytesRead = appended
        for (;;) {
          let record: McapTypes.TypedMcapRecord | undefined
          try {
            at = appended - reader.bytesRemaining()
            record = reader.nextRecord()
          } catch (error) {
            const message = (error as Error).message
            if (at === chunkEnd) {
              throw this.#error(chunkStart, `the chunk at byte ${chunkStart}: ${message}`, error)
            }
            throw this.#error(at, message, error)
          }
          if (record === undefined) break
          switch (record.type) {
            case 'Schema':
              schemas.set(record.id, record.name)
              break
            case 'Channel':
              if (schemas.get(record.schemaId) === CAN_FRAME_SCHEMA_NAME)
                frameChannels.add(record.id)
              break
            case 'Chunk':
              this.chunks++
              chunkStart = at
              chunkEnd = appended - reader.bytesRemaining()
              break
            case 'Message':
              if (!frameChannels.has(record.channelId)) {
                this.messagesSkipped++
                break
              }
              try {
                const message = canFrameFromJson(decoder.decode(record.data), record.logTime)
                this.framesRead++
                yield message
              } catch (error) {
                if (
                  !(
                    error instanceof TypeError ||
                    error instanceof RangeError ||
                    error instanceof SyntaxError
                  )
                ) {
                  throw error
                }
                throw this.#error(
                  at,
                  `frame ${this.framesRead} on channel ${record.channelId}: ${error.message}`,
                  error,
                )
              }
              break
            default:
              break
          }
        }
      }
    } catch (error) {
      if (error instanceof LogFormatError) throw error
      throw new Error(`cannot read ${this.name}: ${(error as Error).message}`, { cause: error })
    } finally {
      stream.destroy()
    }
    if (!reader.done()) {
      throw this.#error(
        appended - reader.bytesRemaining(),
        appended === 0
          ? 'the file is empty'
          : `the file ends (at byte ${appended}) before the MCAP footer: a recording that was not closed, or cut off; ${reader.bytesRemaining()} bytes of an incomplete record or chunk were not read`,
      )
    }
  }

  #error(offset: number, reason: string, cause?: unknown): LogFormatError {
    return new LogFormatError(this.name, offset, this.framesRead, reason, { cause })
  }
}
