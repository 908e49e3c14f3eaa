// Log files as Notifier listeners and readers: candump's format (read and write), Vector ASC
// (write), Vector BLF and MCAP (read and write).
export { ASCWriter, type ASCWriterOptions } from './asc-writer.ts'
export type { BLFFileHeader } from './blf-format.ts'
export { BLFReader, type BLFReaderOptions } from './blf-reader.ts'
export { BLFWriter, type BLFWriterOptions } from './blf-writer.ts'
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
export { LogFormatError } from './log-format-error.ts'
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
export { CAN_FRAME_JSON_SCHEMA, CAN_FRAME_SCHEMA_NAME } from './mcap-frame.ts'
export { MCAPReader } from './mcap-reader.ts'
export {
  busTopic,
  type MCAPCompression,
  MCAPWriter,
  type MCAPWriterOptions,
} from './mcap-writer.ts'
export type { DecodedSignals, SignalDecoder } from './signal-decoder.ts'
export { type LogNamingOptions, TextLogWriter } from './text-log-writer.ts'
export type { TextSinkOptions } from './text-sink.ts'
