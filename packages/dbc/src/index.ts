// @canbridge/dbc: DBC files → named, scaled signals, and back. No I/O: the caller reads the file.
export { payloadBitOf } from './bit-layout.ts'
export {
  Database,
  DECODE_NOTE,
  type DecodedFrame,
  type DecodeNote,
  type DecodeNoteCode,
  type DecodeOptions,
  type FrameLike,
  parseDbc,
  parseDbcBytes,
} from './database.ts'
export type { SignalValue } from './decoder-compiler.ts'
export type { EncodeOptions, EncodeValue } from './encoder.ts'
export { DBC_ERROR_CODE, DbcError, type DbcErrorCode, type DbcErrorOptions } from './errors.ts'
export type {
  AttributeDefinition,
  AttributeObjectType,
  AttributeValue,
  ByteOrder,
  DbcWarning,
  MessageDefinition,
  MultiplexerRange,
  Multiplexing,
  NodeDefinition,
  SignalDefinition,
  ValueType,
} from './model.ts'
export type { ParseOptions } from './parser.ts'
