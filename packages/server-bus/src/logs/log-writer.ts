// openLogWriter: python-can's `can.Logger(filename)`, the writer chosen by the file's suffix.
import { extname } from 'node:path'
import { ASCWriter, type ASCWriterOptions } from './asc-writer.ts'
import { BLFWriter, type BLFWriterOptions } from './blf-writer.ts'
import { CanutilsLogWriter, type CanutilsLogWriterOptions } from './canutils-log-writer.ts'
import { describeSuffix, describeSuffixes } from './log-reader.ts'
import { MCAPWriter, type MCAPWriterOptions } from './mcap-writer.ts'

/** A Listener that writes a log file; `stop()` writes what is buffered and closes it. */
export type LogWriter = CanutilsLogWriter | ASCWriter | BLFWriter | MCAPWriter

/** `channels` is shared: ASC and BLF number the channels in that order. */
export type LogWriterOptions = CanutilsLogWriterOptions &
  ASCWriterOptions &
  Omit<BLFWriterOptions, 'channels'> &
  MCAPWriterOptions

/** Suffixes openLogWriter writes, with what each is. */
export const LOG_WRITER_SUFFIXES: Readonly<Record<string, string>> = {
  '.log': 'candump -L',
  '.asc': 'Vector ASC',
  '.blf': 'Vector BLF',
  '.mcap': 'MCAP',
}

/**
 * Opens a log file for writing (truncating it unless `append`) with the writer its suffix
 * names: `.log` candump's format, `.asc` Vector ASC, `.blf` Vector BLF, `.mcap` MCAP. Any
 * other suffix is a RangeError that lists the supported ones; a path that cannot be opened
 * fails here too.
 */
export function openLogWriter(path: string, options: LogWriterOptions = {}): LogWriter {
  const suffix = extname(path).toLowerCase()
  switch (suffix) {
    case '.log':
      return new CanutilsLogWriter(path, options)
    case '.asc':
      if (options.append)
        throw new RangeError(`cannot append to ${path}: an ASC file has one header`)
      return new ASCWriter(path, options)
    case '.blf':
      if (options.append)
        throw new RangeError(`cannot append to ${path}: a BLF file has one header`)
      return new BLFWriter(path, options)
    case '.mcap':
      if (options.append)
        throw new RangeError(`cannot append to ${path}: an MCAP file ends with its summary`)
      return new MCAPWriter(path, options)
    default:
      throw new RangeError(
        `cannot log to ${JSON.stringify(path)}: ${describeSuffix(suffix)}; supported: ${describeSuffixes(LOG_WRITER_SUFFIXES)}`,
      )
  }
}
