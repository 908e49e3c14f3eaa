// The on-disk spool of one CAN channel: frames kept while the server is unreachable.
export { SpoolCorruptError, SpoolFullError, type SpoolFullKind, SpoolIoError } from './errors.ts'
export { PROBE_FILE, probeSpoolDirectory, spoolDirectoryUnwritable } from './probe.ts'
export {
  type DroppedRange,
  Spool,
  type SpoolChunk,
  type SpoolOptions,
  type SpoolRecovery,
} from './spool.ts'
