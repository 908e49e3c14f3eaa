// CanutilsLogWriter: a Listener writing candump's log format (python-can's CanutilsLogWriter,
// with the bytes candump -l writes), buffered, everything written by stop().
import type { Writable } from 'node:stream'
import type { CanMessage } from '../message.ts'
import { type CandumpLineFormat, formatCandumpLogLine } from './candump-line.ts'
import { type LogNamingOptions, TextLogWriter } from './text-log-writer.ts'
import type { TextSinkOptions } from './text-sink.ts'

export interface CanutilsLogWriterOptions
  extends TextSinkOptions,
    LogNamingOptions,
    CandumpLineFormat {
  /**
   * Interface names are right-aligned to the longest seen so far, as candump aligns them;
   * this is the starting width (candump's: its longest interface argument). Default 0.
   */
  interfaceWidth?: number | undefined
}

export class CanutilsLogWriter extends TextLogWriter {
  readonly #format: CandumpLineFormat
  #width: number

  constructor(target: string | Writable, options: CanutilsLogWriterOptions = {}) {
    super(target, options)
    this.#format = { fdFlagBase: options.fdFlagBase, direction: options.direction }
    this.#width = options.interfaceWidth ?? 0
  }

  protected format(message: CanMessage): string {
    const iface = this.names.of(message.channel)
    if (iface.length > this.#width) this.#width = iface.length
    return formatCandumpLogLine(message, iface, this.#width, this.#format)
  }
}
