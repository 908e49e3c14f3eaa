// Cuts a socketcand byte stream into `< ... >` messages: tolerant of messages split across
// reads and of several per read, bounded in memory, strict about what lies between them.
import { SOCKETCAND_MAX_MESSAGE_LENGTH } from './constants.ts'
import { SOCKETCAND_ERROR_CODE, SocketcandError } from './errors.ts'

const OPEN = 0x3c // '<'
const CLOSE = 0x3e // '>'

// 1 = whitespace between tokens or messages (tab, LF, CR, space); 2 = printable ASCII;
// 0 = anything else (control bytes, DEL, non-ASCII).
const BYTE_CLASS = new Uint8Array(256)
for (const code of [0x09, 0x0a, 0x0d, 0x20]) BYTE_CLASS[code] = 1
for (let code = 0x21; code <= 0x7e; code++) BYTE_CLASS[code] = 2
const WHITESPACE = 1

export interface SocketcandTokenizerOptions {
  /** longest message accepted, `<` and `>` included (default SOCKETCAND_MAX_MESSAGE_LENGTH) */
  maxMessageLength?: number | undefined
}

/**
 * Incremental tokenizer: `write(chunk, onMessage)` calls `onMessage` with each complete
 * message text (from `<` to `>`) in order. Whitespace between messages is skipped. Anything
 * else throws a SocketcandError after the messages before it were delivered; the tokenizer
 * then stays failed (every later call throws the same error), as the stream cannot be trusted.
 */
export class SocketcandTokenizer {
  readonly maxMessageLength: number
  // Holds the start of a message that a chunk boundary cut; never grows past the bound.
  readonly #pending: Uint8Array
  #pendingLength = 0
  #inMessage = false
  /** stream offset of the first byte of the current chunk */
  #offset = 0
  #messageStart = 0
  #failure: SocketcandError | undefined
  readonly #decoder = new TextDecoder('latin1')

  constructor(options: SocketcandTokenizerOptions = {}) {
    const max = options.maxMessageLength ?? SOCKETCAND_MAX_MESSAGE_LENGTH
    if (!Number.isInteger(max) || max < 3 || max > 16 * 1024 * 1024) {
      throw new RangeError(`maxMessageLength must be an integer in 3..16777216, got ${String(max)}`)
    }
    this.maxMessageLength = max
    this.#pending = new Uint8Array(max)
  }

  /** Bytes of an unfinished message held until its `>` arrives. */
  get pendingBytes(): number {
    return this.#inMessage ? this.#pendingLength : 0
  }

  /** Total bytes written so far. */
  get bytesRead(): number {
    return this.#offset
  }

  write(chunk: Uint8Array, onMessage: (text: string) => void): void {
    if (this.#failure) throw this.#failure
    const max = this.maxMessageLength
    const length = chunk.length
    // index in this chunk where the current message starts; -1 when it began in an earlier one
    let startInChunk = -1
    for (let i = 0; i < length; i++) {
      const byte = chunk[i]!
      if (!this.#inMessage) {
        if (byte === OPEN) {
          this.#inMessage = true
          this.#pendingLength = 0
          this.#messageStart = this.#offset + i
          startInChunk = i
        } else if (BYTE_CLASS[byte] !== WHITESPACE) {
          this.#fail(
            SOCKETCAND_ERROR_CODE.UNEXPECTED_BYTE,
            `byte 0x${hex2(byte)} outside a '< ... >' message (not whitespace)`,
            this.#offset + i,
          )
        }
        continue
      }
      const sizeSoFar = startInChunk >= 0 ? i - startInChunk + 1 : this.#pendingLength + i + 1
      if (sizeSoFar > max) {
        this.#fail(
          SOCKETCAND_ERROR_CODE.MESSAGE_TOO_LONG,
          `message longer than ${max} bytes without its closing '>'`,
          this.#messageStart,
        )
      }
      if (byte === CLOSE) {
        onMessage(this.#take(chunk, startInChunk, i + 1))
        this.#inMessage = false
        startInChunk = -1
      } else if (byte === OPEN) {
        this.#fail(
          SOCKETCAND_ERROR_CODE.BAD_CHARACTER,
          `'<' inside a message that has no closing '>'`,
          this.#offset + i,
        )
      } else if (BYTE_CLASS[byte] === 0) {
        this.#fail(
          SOCKETCAND_ERROR_CODE.BAD_CHARACTER,
          `byte 0x${hex2(byte)} inside a message (only printable ASCII and blanks)`,
          this.#offset + i,
        )
      }
    }
    if (this.#inMessage) {
      const from = Math.max(startInChunk, 0)
      this.#pending.set(chunk.subarray(from), this.#pendingLength)
      this.#pendingLength += length - from
    }
    this.#offset += length
  }

  /** Call at the end of the stream: throws TRUNCATED_MESSAGE if a message was left open. */
  end(): void {
    if (this.#failure) throw this.#failure
    if (this.#inMessage) {
      this.#fail(
        SOCKETCAND_ERROR_CODE.TRUNCATED_MESSAGE,
        `the stream ended ${this.#pendingLength} bytes into a message`,
        this.#messageStart,
      )
    }
  }

  /** Forgets any partial message and a failure: for a new connection. */
  reset(): void {
    this.#inMessage = false
    this.#pendingLength = 0
    this.#offset = 0
    this.#failure = undefined
  }

  #take(chunk: Uint8Array, startInChunk: number, end: number): string {
    if (startInChunk >= 0) return this.#decoder.decode(chunk.subarray(startInChunk, end))
    this.#pending.set(chunk.subarray(0, end), this.#pendingLength)
    const text = this.#decoder.decode(this.#pending.subarray(0, this.#pendingLength + end))
    this.#pendingLength = 0
    return text
  }

  #fail(code: SocketcandError['code'], message: string, offset: number): never {
    this.#failure = new SocketcandError(code, message, { offset })
    throw this.#failure
  }
}

function hex2(value: number): string {
  return value.toString(16).padStart(2, '0')
}
