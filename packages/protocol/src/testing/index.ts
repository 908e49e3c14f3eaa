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
