// A loaded DBC: its definitions, and decode/encode of frames with a per-message compiled plan.
import {
  compileDecoder,
  type DecodeFunction,
  MultiplexerMiss,
  type SignalValue,
} from './decoder-compiler.ts'
import { type EncodeOptions, type EncodeValue, MessageEncoder } from './encoder.ts'
import { DBC_ERROR_CODE, DbcError } from './errors.ts'
import type {
  AttributeDefinition,
  AttributeValue,
  DbcWarning,
  MessageDefinition,
  NodeDefinition,
} from './model.ts'
import { messageKey, type ParsedDbc, type ParseOptions, parseDbcText } from './parser.ts'

/** What decode needs of a frame; `CanMessage` of `@canbridge/server-bus` fits as it is. */
export interface FrameLike {
  arbitrationId: number
  /** when absent, a standard id is looked up first, then an extended one */
  isExtendedId?: boolean | undefined
  data: Uint8Array | ArrayLike<number>
}

export interface DecodeOptions {
  /** raw values as on the bus instead of physical ones; default false */
  raw?: boolean | undefined
  /** a choice's name (from `VAL_`) instead of its value where there is one; default false */
  choices?: boolean | undefined
}

export const DECODE_NOTE = {
  /** no message of the database has this id: nothing decoded */
  UNKNOWN_ID: 'UNKNOWN_ID',
  /**
   * the payload is not the message's length (nor the CAN FD length it is padded to): the
   * signals lying in it were decoded
   */
  WRONG_LENGTH: 'WRONG_LENGTH',
  /** a multiplexer's value selects none of its signals: the others were decoded */
  UNKNOWN_MULTIPLEXER_VALUE: 'UNKNOWN_MULTIPLEXER_VALUE',
} as const
export type DecodeNoteCode = (typeof DECODE_NOTE)[keyof typeof DECODE_NOTE]

export interface DecodeNote {
  code: DecodeNoteCode
  detail: string
}

export interface DecodedFrame {
  /** the message's name; undefined for an unknown id */
  name: string | undefined
  message: MessageDefinition | undefined
  signals: Record<string, SignalValue>
  /** set when the frame did not match its definition; decoding never throws */
  note: DecodeNote | undefined
}

const FD_LENGTHS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64]
const EMPTY_SIGNALS: Record<string, SignalValue> = Object.freeze({}) as Record<string, SignalValue>
const MODES = [
  { raw: false, choices: false },
  { raw: false, choices: true },
  { raw: true, choices: false },
  { raw: true, choices: true },
] as const

/** A message's decoders (compiled on first use per mode) and encoder. */
class CompiledMessage {
  readonly definition: MessageDefinition
  readonly miss = new MultiplexerMiss()
  readonly multiplexed: boolean
  readonly #decoders: (DecodeFunction | undefined)[] = [undefined, undefined, undefined, undefined]
  /** decoders of shorter or longer payloads, by `length * 4 + mode` */
  readonly #partial = new Map<number, DecodeFunction>()
  #encoder: MessageEncoder | undefined

  /** a CAN FD payload is 0..8, 12, 16, 20, 24, 32, 48 or 64 bytes: a length between is padded */
  readonly paddedLength: number

  constructor(definition: MessageDefinition) {
    this.definition = definition
    this.multiplexed = definition.signals.some((s) => s.multiplexing !== undefined)
    this.paddedLength = FD_LENGTHS.find((n) => n >= definition.length) ?? definition.length
  }

  decoder(mode: number): DecodeFunction {
    let decode = this.#decoders[mode]
    if (decode === undefined) {
      decode = compileDecoder(this.definition, MODES[mode]!, this.definition.length, this.miss)
      this.#decoders[mode] = decode
    }
    return decode
  }

  partialDecoder(mode: number, length: number): DecodeFunction {
    if (length >= this.definition.length) return this.decoder(mode)
    const key = length * 4 + mode
    let decode = this.#partial.get(key)
    if (decode === undefined) {
      decode = compileDecoder(this.definition, MODES[mode]!, length, this.miss)
      this.#partial.set(key, decode)
    }
    return decode
  }

  get encoder(): MessageEncoder {
    this.#encoder ??= new MessageEncoder(this.definition)
    return this.#encoder
  }
}

export class Database {
  readonly version: string
  /** the network's `CM_` */
  readonly comment: string | undefined
  readonly nodes: readonly NodeDefinition[]
  readonly messages: readonly MessageDefinition[]
  /** `VAL_TABLE_`s by name */
  readonly valueTables: ReadonlyMap<string, ReadonlyMap<number, string>>
  readonly attributeDefinitions: readonly AttributeDefinition[]
  /** network attributes, defaults applied */
  readonly attributes: ReadonlyMap<string, AttributeValue>
  /** references to things the file does not define, and the like: read past, not fatal */
  readonly warnings: readonly DbcWarning[]
  readonly #byKey = new Map<number, CompiledMessage>()
  readonly #byName = new Map<string, CompiledMessage>()

  constructor(parsed: ParsedDbc) {
    this.version = parsed.version
    this.comment = parsed.comment
    this.nodes = parsed.nodes
    this.messages = parsed.messages
    this.valueTables = parsed.valueTables
    this.attributeDefinitions = parsed.attributeDefinitions
    this.attributes = parsed.attributes
    this.warnings = parsed.warnings
    for (const message of parsed.messages) {
      const compiled = new CompiledMessage(message)
      this.#byKey.set(messageKey(message.id, message.isExtendedId), compiled)
      this.#byName.set(message.name, compiled)
    }
  }

  getMessage(name: string): MessageDefinition | undefined {
    return this.#byName.get(name)?.definition
  }

  getMessageById(id: number, isExtendedId?: boolean): MessageDefinition | undefined {
    return this.#lookup(id, isExtendedId)?.definition
  }

  /**
   * Decodes a frame into named signals. Never throws for what a bus can carry: an unknown id,
   * a wrong length or an unknown multiplexer value comes back as `note`.
   */
  decode(frame: FrameLike, options?: DecodeOptions): DecodedFrame {
    const id = frame.arbitrationId
    const compiled = this.#lookup(id, frame.isExtendedId)
    if (compiled === undefined) {
      return {
        name: undefined,
        message: undefined,
        signals: EMPTY_SIGNALS,
        note: {
          code: DECODE_NOTE.UNKNOWN_ID,
          detail: `no message with id 0x${Number(id).toString(16)}`,
        },
      }
    }
    const mode = options === undefined ? 0 : (options.raw ? 2 : 0) | (options.choices ? 1 : 0)
    const data = frame.data instanceof Uint8Array ? frame.data : Uint8Array.from(frame.data)
    const definition = compiled.definition
    let note: DecodeNote | undefined
    let signals: Record<string, SignalValue>
    if (compiled.multiplexed) compiled.miss.signal = -1
    if (data.length === definition.length || data.length === compiled.paddedLength) {
      signals = compiled.decoder(mode)(data)
    } else {
      signals = compiled.partialDecoder(mode, data.length)(data)
      note = {
        code: DECODE_NOTE.WRONG_LENGTH,
        detail: `${definition.name}: ${data.length} bytes, expected ${definition.length}`,
      }
    }
    if (compiled.multiplexed && compiled.miss.signal >= 0 && note === undefined) {
      const multiplexer = definition.signals[compiled.miss.signal]!
      note = {
        code: DECODE_NOTE.UNKNOWN_MULTIPLEXER_VALUE,
        detail: `${definition.name}: ${multiplexer.name} = ${compiled.miss.value} selects no signal`,
      }
    }
    return { name: definition.name, message: definition, signals, note }
  }

  /**
   * The payload of message `message` (name, or id as in `getMessageById`) with the given
   * signal values. Throws DbcError for an unknown message or signal, a missing value, or a
   * value out of range.
   */
  encode(
    message: string | number,
    values: Readonly<Record<string, EncodeValue>>,
    options?: EncodeOptions,
  ): Uint8Array {
    const compiled =
      typeof message === 'string' ? this.#byName.get(message) : this.#lookup(message, undefined)
    if (compiled === undefined) {
      throw new DbcError(
        DBC_ERROR_CODE.UNKNOWN_MESSAGE,
        `no message ${typeof message === 'string' ? message : `with id 0x${message.toString(16)}`} in the database`,
      )
    }
    return compiled.encoder.encode(values, options)
  }

  #lookup(id: number, isExtendedId: boolean | undefined): CompiledMessage | undefined {
    if (isExtendedId === undefined) {
      return this.#byKey.get(messageKey(id, false)) ?? this.#byKey.get(messageKey(id, true))
    }
    return this.#byKey.get(messageKey(id, isExtendedId))
  }
}

/** Parses DBC text (as read from a `.dbc` file) into a Database. Throws DbcError when malformed. */
export function parseDbc(text: string, options?: ParseOptions): Database {
  return new Database(parseDbcText(text, options))
}

/**
 * Parses the bytes of a `.dbc` file: UTF-8 when they are valid UTF-8, otherwise Windows-1252,
 * the code page Vector's tools write.
 */
export function parseDbcBytes(bytes: Uint8Array, options?: ParseOptions): Database {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch (error) {
    if (!(error instanceof TypeError)) throw error
    text = new TextDecoder('windows-1252').decode(bytes)
  }
  return parseDbc(text, options)
}
