// Test helpers for code that speaks the protocol: `@canbridge/protocol/testing`.
export {
  batchBody,
  chunkings,
  concat,
  dataMessageBytes,
  hex,
  messageBytes,
  preambleBytes,
  type RecordSpec,
  recordBytes,
  toHex,
} from './builders.ts'
export {
  type FeedResult,
  feed,
  type PlainFrame,
  type PlainMessage,
  plainMessage,
  plainValue,
  thrownBy,
} from './decode.ts'
export { classesExtendingError } from './error-roots.ts'
export { type HandMsgpackOptions, handMsgpack } from './msgpack.ts'
