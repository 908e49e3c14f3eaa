// Public API of @canbridge/protocol: the wire format shared by edge and server.
export {
  AUTH_ERROR_CODE,
  AUTH_TLS_EXPORTER_BYTES,
  AUTH_TLS_EXPORTER_LABEL,
  type AuthProofInput,
  authProof,
  MIN_TOKEN_LENGTH,
  newAuthNonce,
  proofMatches,
  tokenProblem,
} from './auth.ts'
export { DataBatch, FrameReader } from './batch.ts'
export {
  AUTH_NONCE_BYTES,
  AUTH_PROOF_BYTES,
  BATCH_HEADER_BYTES,
  FD_LENGTHS,
  FRAME_FLAG,
  HEADER_BYTES,
  MAGIC,
  MAX_BATCH_FRAMES,
  MAX_CLASSIC_LENGTH,
  MAX_EXTENDED_ID,
  MAX_FD_LENGTH,
  MAX_MESSAGE_BYTES,
  MAX_SEQUENCE,
  MAX_STANDARD_ID,
  MESSAGE_TYPE,
  type MessageType,
  type MessageTypeName,
  PREAMBLE_BYTES,
  PROTOCOL_VERSION,
  RECORD_HEADER_BYTES,
  ROLE,
  type Role,
} from './constants.ts'
export {
  type Ack,
  type AuthChallenge,
  type AuthResponse,
  BUS_STATES,
  type BusState,
  type BusStateName,
  type ChannelOffer,
  type ChannelResume,
  type ChannelStats,
  type ControlBodies,
  type ControlTypeName,
  type DropReason,
  type Drops,
  type ErrorMessage,
  type Heartbeat,
  type Hello,
  type PeriodicModify,
  type PeriodicStart,
  type PeriodicStop,
  type SetFilters,
  type Stats,
  TRANSMIT_ERROR,
  type Transmit,
  type TransmitError,
  type TransmitResult,
  type TxFrame,
  txFrameOf,
  type Welcome,
} from './control.ts'
export {
  type ControlMessage,
  type DataMessage,
  type DecodedMessage,
  Decoder,
  type DecoderOptions,
  decodeControlBody,
  type PeerPreamble,
} from './decoder.ts'
export {
  BatchEncoder,
  type BatchEncoderOptions,
  encodeControl,
  encodePreamble,
  writeHeader,
} from './encoder.ts'
export {
  PROTOCOL_ERROR_CODE,
  ProtocolError,
  type ProtocolErrorCode,
  type ProtocolErrorOptions,
} from './errors.ts'
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
  writeRecordParts,
  writeTimestampNs,
  writeTimestampParts,
} from './record.ts'
export { SequenceRanges } from './sequence-ranges.ts'
export * from './socketcand/index.ts'
