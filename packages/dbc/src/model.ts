// What a DBC file describes, as the parser hands it over: plain read-only data.

/** Intel (`@1`: start bit is the least significant bit) or Motorola (`@0`: start bit is the most significant bit, Vector's numbering). */
export type ByteOrder = 'little_endian' | 'big_endian'
/** `integer`, or IEEE 754 single / double as declared by `SIG_VALTYPE_` 1 / 2. */
export type ValueType = 'integer' | 'float32' | 'float64'
export type AttributeValue = number | string
export type AttributeObjectType = 'network' | 'node' | 'message' | 'signal' | 'envvar'

export interface AttributeDefinition {
  name: string
  objectType: AttributeObjectType
  type: 'INT' | 'HEX' | 'FLOAT' | 'STRING' | 'ENUM'
  minimum: number | undefined
  maximum: number | undefined
  /** the names of an ENUM, in order: a value given as index i means `enumValues[i]` */
  enumValues: readonly string[]
  /** from `BA_DEF_DEF_` */
  default: AttributeValue | undefined
}

/** Inclusive range of multiplexer raw values that select a signal. */
export type MultiplexerRange = readonly [low: number, high: number]

export interface Multiplexing {
  /** the signal whose raw value selects this one */
  multiplexer: string
  /** raw values of `multiplexer` for which this signal is present (`m3` gives [[3, 3]]) */
  ranges: readonly MultiplexerRange[]
}

export interface SignalDefinition {
  name: string
  startBit: number
  length: number
  byteOrder: ByteOrder
  isSigned: boolean
  valueType: ValueType
  factor: number
  offset: number
  /** physical minimum; `minimum === maximum === 0` in a file means "not given" and becomes undefined */
  minimum: number | undefined
  maximum: number | undefined
  unit: string
  receivers: readonly string[]
  comment: string | undefined
  /** raw value → name, from `VAL_` */
  choices: ReadonlyMap<number, string> | undefined
  /** this signal selects others (`M`, or `m<n>M` in extended multiplexing) */
  isMultiplexer: boolean
  /** present only when some multiplexer value is set */
  multiplexing: Multiplexing | undefined
  /** explicit `BA_` values, then every signal attribute's default */
  attributes: ReadonlyMap<string, AttributeValue>
  /** line of its `SG_` in the file */
  line: number
}

export interface MessageDefinition {
  /** the CAN id without the DBC's extended flag (bit 31) */
  id: number
  isExtendedId: boolean
  name: string
  /** payload bytes: 0..8 for CAN, up to 64 for CAN FD */
  length: number
  /** transmitter of `BO_` plus those of `BO_TX_BU_`; `Vector__XXX` (none) is left out */
  senders: readonly string[]
  signals: readonly SignalDefinition[]
  comment: string | undefined
  attributes: ReadonlyMap<string, AttributeValue>
  /** `GenMsgCycleTime` in ms, when set and not 0 */
  cycleTimeMs: number | undefined
  /** `VFrameFormat` names an FD format, or the message is longer than 8 bytes */
  isFd: boolean
  line: number
}

export interface NodeDefinition {
  name: string
  comment: string | undefined
  attributes: ReadonlyMap<string, AttributeValue>
}

export interface DbcWarning {
  line: number
  column: number
  message: string
}
