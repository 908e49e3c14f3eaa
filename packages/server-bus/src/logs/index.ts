// Log files: candump's format (read and write) and Vector ASC (write), as Notifier listeners.
export { ASCWriter, type ASCWriterOptions } from './asc-writer.ts'
export {
  CAN_ERR_FLAG,
  CANFD_FLAG,
  type CandumpFrame,
  formatCandumpFrame,
  parseCandumpFrame,
} from './candump-frame.ts'
export {
  type CandumpCommentLine,
  type CandumpDropsLine,
  type CandumpFrameLine,
  type CandumpInvalidLine,
  type CandumpLineFormat,
  type CandumpLogLine,
  formatCandumpLogLine,
  parseCandumpLogLine,
} from './candump-line.ts'
export { CanutilsLogWriter, type CanutilsLogWriterOptions } from './canutils-log-writer.ts'
export { INTERFACE_NAMINGS, type InterfaceNaming } from './interface-name.ts'
export {
  LOG_READER_SUFFIXES,
  LogParseError,
  LogReader,
  type LogReaderOptions,
} from './log-reader.ts'
export {
  LOG_WRITER_SUFFIXES,
  type LogWriter,
  type LogWriterOptions,
  openLogWriter,
} from './log-writer.ts'
export { type LogNamingOptions, TextLogWriter } from './text-log-writer.ts'
export type { TextSinkOptions } from './text-sink.ts'
