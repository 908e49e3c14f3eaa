// LogReader: the messages of a candump log (python-can's LogReader / CanutilsLogReader),
// streamed from a file or any readable stream a chunk at a time, so a log of any size is
// read in constant memory. A malformed frame line stops it with a LogParseError naming the
// file, the line and what is wrong.

import { createReadStream, ReadStream } from 'node:fs'
import { extname } from 'node:path'
import type { Readable } from 'node:stream'
import { CanError } from '../errors.ts'
import { CanMessage, flagOptions } from '../message.ts'
import { BLFReader } from './blf-reader.ts'
import { type CandumpFrameLine, parseCandumpLogLine } from './candump-line.ts'
import { LineSplitter } from './line-splitter.ts'
import { MCAPReader } from './mcap-reader.ts'

/** Suffixes LogReader reads, with what each is. */
export const LOG_READER_SUFFIXES: Readonly<Record<string, string>> = {
  '.log': 'candump -L',
  '.blf': 'Vector BLF',
  '.mcap': 'MCAP',
}

export class LogParseError extends CanError {
  override readonly name = 'LogParseError'
  /** the file path, or the name given for a stream */
  readonly file: string
  /** 1-based line number */
  readonly line: number
  /** what is wrong, e.g. `standard id 800 above 7FF` */
  readonly reason: string
  /** the line as read */
  readonly text: string

  constructor(file: string, line: number, reason: string, text: string, options?: ErrorOptions) {
    super(`${file}:${line}: ${reason}: ${JSON.stringify(text)}`, options)
    this.file = file
    this.line = line
    this.reason = reason
    this.text = text
  }
}

export interface LogReaderOptions {
  /** the name errors use for a stream (default `stdin` for process.stdin, else `stream`) */
  name?: string | undefined
  /** BLF: names for the channel numbers, in order (see BLFReaderOptions) */
  channels?: readonly string[] | undefined
}

const NS_PER_S = 1_000_000_000n
const NS_PER_US = 1000n
const READ_CHUNK = 65_536

/**
 * Reads a log file by its suffix (python-can's `LogReader`): `.log` candump -L, `.blf` Vector
 * BLF (BLFReader), `.mcap` MCAP (MCAPReader); a stream is read as candump -L text. Iterate it
 * once with `for await`. In a candump log each message carries the line's interface as its
 * `channel`; lines that do not start with `(` are skipped, as canplayer does; DROPCOUNT lines
 * are counted in `drops`. A BLF or MCAP file that breaks ends with a LogFormatError.
 */
export class LogReader implements AsyncIterable<CanMessage> {
  /** the path, or the stream's name, as errors name it */
  readonly name: string
  readonly #source: string | Readable
  readonly #channels: readonly string[] | undefined
  /** lines read so far */
  line = 0
  /** frames candump reported dropped (its DROPCOUNT lines) */
  drops = 0
  #started = false
  #bytesRead: () => number = () => 0

  constructor(source: string | Readable, options: LogReaderOptions = {}) {
    if (typeof source === 'string') {
      checkLogSuffix(source)
      this.name = source
    } else {
      this.name = options.name ?? (source === process.stdin ? 'stdin' : 'stream')
    }
    this.#source = source
    this.#channels = options.channels
  }

  /** bytes of the file read so far (for a progress bar); 0 for a stream that is no file */
  get bytesRead(): number {
    return this.#bytesRead()
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<CanMessage, void, undefined> {
    if (this.#started) throw new Error(`${this.name}: a LogReader can be iterated once`)
    this.#started = true
    if (typeof this.#source === 'string') {
      const suffix = extname(this.#source).toLowerCase()
      if (suffix === '.blf' || suffix === '.mcap') {
        const reader =
          suffix === '.blf'
            ? new BLFReader(this.#source, { channels: this.#channels })
            : new MCAPReader(this.#source)
        this.#bytesRead = () => reader.bytesRead
        yield* reader
        return
      }
    }
    const stream =
      typeof this.#source === 'string'
        ? createReadStream(this.#source, { highWaterMark: READ_CHUNK })
        : this.#source
    stream.setEncoding('utf8')
    if (stream instanceof ReadStream) this.#bytesRead = () => stream.bytesRead
    const splitter = new LineSplitter()
    const lines: string[] = []
    const collect = (line: string) => lines.push(line)
    try {
      for await (const chunk of stream) {
        splitter.push(chunk as string, collect)
        yield* this.#messages(lines)
      }
    } catch (error) {
      if (error instanceof LogParseError) throw error
      throw new Error(`cannot read ${this.name}: ${(error as Error).message}`, { cause: error })
    } finally {
      if (typeof this.#source === 'string') stream.destroy()
    }
    splitter.end(collect)
    yield* this.#messages(lines)
  }

  /** Parses the collected lines (emptying the list) into messages. */
  *#messages(lines: string[]): Generator<CanMessage, void, undefined> {
    for (let i = 0; i < lines.length; i++) {
      this.line++
      const text = lines[i]!
      const parsed = parseCandumpLogLine(text)
      if (parsed === null) continue
      switch (parsed.kind) {
        case 'frame':
          yield this.#message(parsed, text)
          break
        case 'drops':
          this.drops += parsed.count
          break
        case 'comment':
          break
        case 'invalid':
          lines.length = 0
          throw new LogParseError(this.name, this.line, parsed.reason, text)
      }
    }
    lines.length = 0
  }

  #message(line: CandumpFrameLine, text: string): CanMessage {
    try {
      return new CanMessage({
        timestampNs: BigInt(line.sec) * NS_PER_S + BigInt(line.usec) * NS_PER_US,
        channel: line.iface,
        arbitrationId: line.id,
        ...flagOptions(line.flags),
        isRx: line.isRx,
        dlc: line.len,
        data: line.data,
      })
    } catch (error) {
      // the parser checked what the notation can say; this is the message's own last word
      throw new LogParseError(this.name, this.line, (error as Error).message, text, {
        cause: error,
      })
    }
  }
}

/** A RangeError naming the supported suffixes unless LogReader reads `path`'s. */
export function checkLogSuffix(path: string): void {
  const suffix = extname(path).toLowerCase()
  if (!Object.hasOwn(LOG_READER_SUFFIXES, suffix)) {
    throw new RangeError(
      `cannot read ${JSON.stringify(path)}: ${describeSuffix(suffix)}; supported: ${describeSuffixes(LOG_READER_SUFFIXES)}`,
    )
  }
}

/** `no suffix` or `unsupported suffix ".txt"` */
export function describeSuffix(suffix: string): string {
  return suffix === '' ? 'no suffix' : `unsupported suffix ${JSON.stringify(suffix)}`
}

/** `.log (candump -L), .asc (Vector ASC)` */
export function describeSuffixes(suffixes: Readonly<Record<string, string>>): string {
  return Object.entries(suffixes)
    .map(([suffix, what]) => `${suffix} (${what})`)
    .join(', ')
}
