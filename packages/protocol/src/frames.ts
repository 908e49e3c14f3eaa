// `@canbridge/protocol/frames`: the wire constants and the frame and record helpers alone,
// without the control-message codec (and its msgpack dependency). For code that handles
// frames but never encodes or decodes control messages, such as the edge's poll worker:
// each worker thread loads its own copy of what it imports.
export * from './constants.ts'
export { type CanFilter, matchesFilters } from './filters.ts'
export {
  assertValidFrame,
  type CanFrame,
  frameProblem,
  payloadLength,
  timestampNsFromParts,
  timestampSecondsFromNs,
} from './frame.ts'
export {
  readTimestampNs,
  readTimestampSeconds,
  recordLength,
  recordLengthAt,
  writeRecordParts,
  writeTimestampNs,
  writeTimestampParts,
} from './record.ts'
export { SequenceRanges } from './sequence-ranges.ts'
