// Public API of @canbridge/server-bus: TCPBus and python-can's Bus API in TypeScript.
export {
  type BatchesOptions,
  BUS_STATE_SEVERITY,
  Bus,
  type BusStateName,
  type RecvBatchOptions,
  type SendOptions,
  type SendPeriodicOptions,
} from './bus.ts'
export type { ChannelStats } from './channel-tracker.ts'
export { type EdgeInfo, EdgeSessionError, type EdgeSessionErrorCode } from './edge-session.ts'
export {
  CanError,
  CanInitializationError,
  CanOperationError,
  type CanOperationErrorOptions,
  CanTimeoutError,
  type SendFailureReason,
} from './errors.ts'
export { type CanFilter, MAX_FILTERS } from './filters.ts'
export {
  AsyncBufferedReader,
  type AsyncBufferedReaderOptions,
  type LineOutput,
  type Listener,
  Printer,
} from './listeners.ts'
export { type LogFn, type Logger, silentLogger, stderrLogger } from './logger.ts'
export {
  ASCWriter,
  type ASCWriterOptions,
  type BLFFileHeader,
  BLFReader,
  type BLFReaderOptions,
  BLFWriter,
  type BLFWriterOptions,
  busTopic,
  CAN_ERR_FLAG,
  CAN_FRAME_JSON_SCHEMA,
  CAN_FRAME_SCHEMA_NAME,
  CANFD_FLAG,
  type CandumpFrame,
  type CandumpFrameLine,
  type CandumpLogLine,
  CanutilsLogWriter,
  type CanutilsLogWriterOptions,
  type DecodedSignals,
  formatCandumpFrame,
  formatCandumpLogLine,
  INTERFACE_NAMINGS,
  type InterfaceNaming,
  LOG_READER_SUFFIXES,
  LOG_WRITER_SUFFIXES,
  LogFormatError,
  LogParseError,
  LogReader,
  type LogReaderOptions,
  type LogWriter,
  type LogWriterOptions,
  type MCAPCompression,
  MCAPReader,
  MCAPWriter,
  type MCAPWriterOptions,
  openLogWriter,
  parseCandumpFrame,
  parseCandumpLogLine,
  type SignalDecoder,
} from './logs/index.ts'
export {
  CanMessage,
  type CanMessageOptions,
  type EqualsOptions,
  flagOptions,
} from './message.ts'
export { Notifier, type NotifierOptions } from './notifier.ts'
export { MAX_PERIODIC_FRAMES, PeriodicTask } from './periodic-task.ts'
export { isLoopbackHost } from './security/exposure.ts'
export type { EdgeAuthOptions, TlsServerOptions } from './security/server-security.ts'
export {
  SocketcandBus,
  type SocketcandBusEvents,
  type SocketcandBusMode,
  type SocketcandBusOptions,
  type SocketcandBusStats,
  type SocketcandLinkCounters,
  type SocketcandLinkRole,
  type SocketcandReconnectPolicy,
} from './socketcand-bus.ts'
export {
  type DropsEvent,
  type GapEvent,
  type PeerInfo,
  type StateChangeEvent,
  TCPBus,
  type TCPBusAddress,
  type TCPBusEvents,
  type TCPBusOptions,
  type TCPBusStats,
  type WaitForEdgeOptions,
} from './tcp-bus.ts'
