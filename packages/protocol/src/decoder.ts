// Incremental decoder: accepts bytes in any chunking, keeps partial input between pushes,
// checks every length before allocating, and yields typed messages.
import { Unpackr } from 'msgpackr'
import { DataBatch } from './batch.ts'
import {
  HEADER_BYTES,
  MAGIC,
  MAX_BATCH_FRAMES,
  MAX_MESSAGE_BYTES,
  MESSAGE_TYPE,
  type MessageTypeName,
  PREAMBLE_BYTES,
  PROTOCOL_VERSION,
  ROLE,
  type Role,
  SENDER_OF_TYPE,
} from './constants.ts'
import {
  CONTROL_CHECKS,
  type ControlBodies,
  ControlShapeError,
  type ControlTypeName,
} from './control.ts'
import { ProtocolError } from './errors.ts'
import { readU32 } from './record.ts'

export type ControlMessage = {
  [K in ControlTypeName]: { type: K; body: ControlBodies[K] }
}[ControlTypeName]
export type DataMessage = { type: 'DATA'; batch: DataBatch }
export type DecodedMessage = DataMessage | ControlMessage

export interface PeerPreamble {
  version: number
  role: Role
}

export interface DecoderOptions {
  /** the role the peer must have: a server decodes what an edge sends */
  peerRole: Role
  /** largest message body accepted (default and ceiling: MAX_MESSAGE_BYTES) */
  maxMessageBytes?: number
  /** most frames accepted in one batch (default and ceiling: MAX_BATCH_FRAMES) */
  maxBatchFrames?: number
  /**
   * The caller reuses each chunk once write() returns (a socket reading into one buffer), and
   * copies what it keeps of a batch: control messages' binary fields are then copies, a
   * message that spans chunks is put together in one buffer the decoder keeps and reuses (it
   * grows to the largest such message, at most maxMessageBytes), and every batch is valid only
   * until `onMessage` returns. Without it each spanning batch costs a buffer of its own,
   * garbage a moment later. Default false: messages stay valid, chunks must not change.
   */
  reusedInput?: boolean
}

const TYPE_NAME = new Map<number, MessageTypeName>(
  Object.entries(MESSAGE_TYPE).map(([name, code]) => [code, name as MessageTypeName]),
)

const UNPACK_OPTIONS = {
  useRecords: false,
  mapsAsObjects: true,
  int64AsType: 'number',
  moreTypes: false,
} as const
const unpackr = new Unpackr(UNPACK_OPTIONS)
/** binary fields as copies, not views of the input (for a decoder with reusedInput) */
const copyingUnpackr = new Unpackr({ ...UNPACK_OPTIONS, copyBuffers: true })

/**
 * Turns a byte stream from one peer into messages, whatever the chunking.
 *
 * Data batches and binary fields view the pushed chunks; do not modify a chunk after
 * pushing it, unless the decoder was made with `reusedInput`.
 */
export class Decoder {
  readonly peerRole: Role
  readonly maxBatchFrames: number
  readonly reusedInput: boolean
  #maxMessageBytes: number
  /** the peer's preamble, once read */
  peer: PeerPreamble | undefined
  /** bytes of an incomplete preamble or message, carried to the next chunk */
  #held: Uint8Array | undefined
  #heldLength = 0
  /** with reusedInput: the buffer the last spanning message was put together in */
  #spare: Uint8Array | undefined
  /** stream offset of the first byte not yet consumed */
  #offset = 0
  #failure: ProtocolError | undefined

  constructor(options: DecoderOptions) {
    if (options.peerRole !== ROLE.EDGE && options.peerRole !== ROLE.SERVER) {
      throw new RangeError(
        `peerRole must be ROLE.EDGE or ROLE.SERVER, got ${String(options.peerRole)}`,
      )
    }
    this.peerRole = options.peerRole
    this.#maxMessageBytes = limit(options.maxMessageBytes, MAX_MESSAGE_BYTES, 'maxMessageBytes')
    this.maxBatchFrames = limit(options.maxBatchFrames, MAX_BATCH_FRAMES, 'maxBatchFrames')
    const reused = options.reusedInput ?? false
    if (typeof reused !== 'boolean') {
      throw new TypeError(`reusedInput must be a boolean, got ${String(reused)}`)
    }
    this.reusedInput = reused
  }

  /** The largest body accepted; a server lowers it until a peer has authenticated. */
  get maxMessageBytes(): number {
    return this.#maxMessageBytes
  }

  set maxMessageBytes(value: number) {
    this.#maxMessageBytes = limit(value, MAX_MESSAGE_BYTES, 'maxMessageBytes')
  }

  /** Bytes consumed so far (complete messages and the preamble). */
  get offset(): number {
    return this.#offset
  }

  /** Bytes held of an incomplete message. */
  get bufferedBytes(): number {
    return this.#heldLength
  }

  /**
   * Feeds one chunk; `onMessage` is called for each complete message, in order, before
   * this returns. A malformed input throws a ProtocolError after the messages before it
   * were delivered; the decoder then stays failed (close the connection).
   */
  write(chunk: Uint8Array, onMessage: (message: DecodedMessage) => void): void {
    if (this.#failure) throw this.#failure
    try {
      this.#consume(chunk, onMessage)
    } catch (error) {
      if (error instanceof ProtocolError) this.#failure = error
      throw error
    }
  }

  /** Feeds one chunk and returns the messages it completed. */
  push(chunk: Uint8Array): DecodedMessage[] {
    const messages: DecodedMessage[] = []
    this.write(chunk, (message) => messages.push(message))
    return messages
  }

  /** Call at the end of the stream: throws TRUNCATED_STREAM if a message was cut off. */
  end(): void {
    if (this.#failure) throw this.#failure
    if (this.#heldLength > 0) {
      this.#failure = new ProtocolError(
        'TRUNCATED_STREAM',
        `stream ended inside a message (${this.#heldLength} bytes held)`,
        { offset: this.#offset },
      )
      throw this.#failure
    }
  }

  #consume(chunk: Uint8Array, onMessage: (message: DecodedMessage) => void): void {
    let position = 0
    // Finish what an earlier chunk started, one piece (preamble, header, body) at a time.
    while (this.#heldLength > 0 && position < chunk.length) {
      const need = this.#needed(this.#held!, this.#heldLength)
      const take = Math.min(need - this.#heldLength, chunk.length - position)
      this.#held = this.#ensureHeldCapacity(need)
      this.#held.set(chunk.subarray(position, position + take), this.#heldLength)
      this.#heldLength += take
      position += take
      if (this.#heldLength < need) return
      const total = this.#needed(this.#held, this.#heldLength)
      if (total > this.#heldLength) continue
      const buffer = this.#held
      this.#held = undefined
      this.#heldLength = 0
      const message = this.#decodeComplete(buffer.subarray(0, total), 0)
      if (message) onMessage(message)
      // the batch was valid until now; a control message's binary fields are copies
      if (this.reusedInput) this.#spare = buffer
    }
    // Then whole messages straight from the chunk, without copying.
    while (position < chunk.length) {
      const available = chunk.length - position
      const total = this.#peekTotal(chunk, position, available)
      if (total === -1 || total > available) break
      const message = this.#decodeComplete(chunk, position)
      position += total
      if (message) onMessage(message)
    }
    if (position < chunk.length) {
      const rest = chunk.subarray(position)
      // Checks a complete header now: an oversized length fails before its bytes arrive.
      const need = this.#needed(rest, rest.length)
      this.#held = this.#buffer(Math.max(need, rest.length))
      this.#held.set(rest)
      this.#heldLength = rest.length
    }
  }

  /** Total bytes of the unit starting at `position`, or -1 while the header is incomplete. */
  #peekTotal(bytes: Uint8Array, position: number, available: number): number {
    if (this.peer === undefined) return available < PREAMBLE_BYTES ? -1 : PREAMBLE_BYTES
    if (available < HEADER_BYTES) return -1
    return HEADER_BYTES + this.#checkHeader(bytes, position)
  }

  /** How many bytes the held unit needs in all, as far as is known yet. */
  #needed(held: Uint8Array, heldLength: number): number {
    if (this.peer === undefined) return PREAMBLE_BYTES
    if (heldLength < HEADER_BYTES) return HEADER_BYTES
    return HEADER_BYTES + this.#checkHeader(held, 0)
  }

  #ensureHeldCapacity(need: number): Uint8Array {
    const held = this.#held!
    if (held.length >= need) return held
    const grown = new Uint8Array(need)
    grown.set(held.subarray(0, this.#heldLength))
    return grown
  }

  /** A buffer for a unit that spans chunks: the spare one when it is large enough. */
  #buffer(bytes: number): Uint8Array {
    const spare = this.#spare
    if (spare === undefined || spare.length < bytes) return new Uint8Array(bytes)
    this.#spare = undefined
    return spare
  }

  /** Checks the header at `position` and returns the body length. */
  #checkHeader(bytes: Uint8Array, position: number): number {
    const offset = this.#offset
    const typeCode = bytes[position]!
    if (bytes[position + 1] !== 0 || bytes[position + 2] !== 0 || bytes[position + 3] !== 0) {
      throw new ProtocolError('BAD_HEADER', 'header flags and reserved bytes must be 0', {
        typeCode,
        offset: offset + 1,
      })
    }
    const sender = SENDER_OF_TYPE.get(typeCode)
    if (sender === undefined) {
      throw new ProtocolError('UNKNOWN_TYPE', `unknown message type 0x${typeCode.toString(16)}`, {
        typeCode,
        offset,
      })
    }
    if (sender !== 'both' && sender !== this.peerRole) {
      throw new ProtocolError(
        'UNEXPECTED_TYPE',
        `${TYPE_NAME.get(typeCode)} may not come from this peer`,
        {
          typeCode,
          offset,
        },
      )
    }
    const length = readU32(bytes, position + 4)
    if (length > this.#maxMessageBytes) {
      throw new ProtocolError(
        'MESSAGE_TOO_LARGE',
        `body of ${length} bytes exceeds the limit of ${this.#maxMessageBytes}`,
        {
          typeCode,
          offset: offset + 4,
        },
      )
    }
    return length
  }

  /** Decodes the complete unit at `position`; advances the stream offset past it. */
  #decodeComplete(bytes: Uint8Array, position: number): DecodedMessage | undefined {
    const start = this.#offset
    if (this.peer === undefined) {
      this.peer = this.#readPreamble(bytes, position, start)
      this.#offset += PREAMBLE_BYTES
      return undefined
    }
    const typeCode = bytes[position]!
    const length = readU32(bytes, position + 4)
    const body = bytes.subarray(position + HEADER_BYTES, position + HEADER_BYTES + length)
    const name = TYPE_NAME.get(typeCode)!
    let message: DecodedMessage
    if (name === 'DATA') {
      message = {
        type: 'DATA',
        batch: DataBatch.parse(body, start + HEADER_BYTES, this.maxBatchFrames),
      }
    } else {
      message = {
        type: name,
        body: decodeControl(
          this.reusedInput ? copyingUnpackr : unpackr,
          name,
          body,
          start + HEADER_BYTES,
        ),
      } as ControlMessage
    }
    this.#offset += HEADER_BYTES + length
    return message
  }

  #readPreamble(bytes: Uint8Array, position: number, offset: number): PeerPreamble {
    for (let i = 0; i < MAGIC.length; i++) {
      if (bytes[position + i] !== MAGIC[i]) {
        throw new ProtocolError(
          'BAD_MAGIC',
          'the peer does not speak the canbridge protocol (no CANB magic)',
          {
            offset: offset + i,
          },
        )
      }
    }
    const version = bytes[position + 4]! | (bytes[position + 5]! << 8)
    if (version !== PROTOCOL_VERSION) {
      throw new ProtocolError(
        'VERSION_MISMATCH',
        `the peer speaks canbridge protocol version ${version}, this end speaks version ${PROTOCOL_VERSION}`,
        { offset: offset + 4 },
      )
    }
    const role = bytes[position + 6]!
    if (role !== this.peerRole) {
      const want = this.peerRole === ROLE.EDGE ? 'an edge (1)' : 'a server (2)'
      throw new ProtocolError('BAD_ROLE', `expected ${want}, the peer says role ${role}`, {
        offset: offset + 6,
      })
    }
    if (bytes[position + 7] !== 0) {
      throw new ProtocolError('BAD_PREAMBLE', 'reserved preamble byte must be 0', {
        offset: offset + 7,
      })
    }
    return { version, role: role as Role }
  }
}

/** Decodes and checks one control body; every failure becomes BAD_CONTROL. */
export function decodeControlBody<K extends ControlTypeName>(
  type: K,
  body: Uint8Array,
  offset = 0,
): ControlBodies[K] {
  return decodeControl(unpackr, type, body, offset)
}

function decodeControl<K extends ControlTypeName>(
  unpacker: Unpackr,
  type: K,
  body: Uint8Array,
  offset: number,
): ControlBodies[K] {
  const typeCode = MESSAGE_TYPE[type]
  let value: unknown
  try {
    value = unpacker.unpack(body)
  } catch (error) {
    throw new ProtocolError(
      'BAD_CONTROL',
      `${type} body is not one valid msgpack value: ${describe(error)}`,
      {
        typeCode,
        offset,
        cause: error,
      },
    )
  }
  try {
    return CONTROL_CHECKS[type](value) as ControlBodies[K]
  } catch (error) {
    if (!(error instanceof ControlShapeError)) throw error
    throw new ProtocolError('BAD_CONTROL', error.message, { typeCode, offset, cause: error })
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function limit(value: number | undefined, ceiling: number, name: string): number {
  if (value === undefined) return ceiling
  if (!Number.isInteger(value) || value < 1 || value > ceiling) {
    throw new RangeError(`${name} must be an integer in 1..${ceiling}, got ${value}`)
  }
  return value
}
