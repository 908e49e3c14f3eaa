// Buffered text output for the log writers: lines gather in memory and go to the file (or a
// stream) in large writes, on a timer so a quiet capture still reaches the disk, and all of
// it on close. A stream that pushes back makes `write` return a promise (a Notifier waits).
import { closeSync, createWriteStream, openSync } from 'node:fs'
import type { Writable } from 'node:stream'

export interface TextSinkOptions {
  /** append to an existing file instead of truncating it (paths only) */
  append?: boolean | undefined
  /** characters held before they are written (default 65536) */
  bufferSize?: number | undefined
  /** held text is written at least this often, in ms (default 1000; 0: only when full) */
  flushIntervalMs?: number | undefined
}

const DEFAULT_BUFFER = 65_536
const DEFAULT_FLUSH_MS = 1000

export class TextSink {
  /** the file path, or `stream` for a stream the caller gave */
  readonly name: string
  readonly #stream: Writable
  readonly #owned: boolean
  readonly #bufferSize: number
  readonly #timer: NodeJS.Timeout | undefined
  #buffer = ''
  #error: Error | undefined
  #closing: Promise<void> | undefined

  /** Opens `target` (a path: at once, so a bad path fails here) or wraps a stream. */
  constructor(target: string | Writable, options: TextSinkOptions = {}) {
    this.#bufferSize = positive(options.bufferSize ?? DEFAULT_BUFFER, 'bufferSize')
    const flushMs = options.flushIntervalMs ?? DEFAULT_FLUSH_MS
    if (!(flushMs >= 0)) throw new RangeError(`flushIntervalMs must be >= 0, got ${flushMs}`)
    if (typeof target === 'string') {
      this.name = target
      this.#stream = openFile(target, options.append === true)
      this.#owned = true
    } else {
      this.name = 'stream'
      this.#stream = target
      this.#owned = false
    }
    this.#stream.on('error', (error: Error) => {
      this.#error ??= new Error(`${this.name}: write failed: ${error.message}`, { cause: error })
    })
    if (flushMs > 0) {
      this.#timer = setInterval(() => void this.flush(), flushMs)
      this.#timer.unref()
    }
  }

  /** Adds text; returns a promise only when the stream asked to wait (its buffer is full). */
  write(text: string): void | Promise<void> {
    if (this.#error !== undefined) throw this.#error
    if (this.#closing !== undefined) throw new Error(`${this.name}: written after close()`)
    this.#buffer += text
    if (this.#buffer.length >= this.#bufferSize) return this.flush()
  }

  /** Hands what is held to the stream; resolves at once unless the stream pushes back. */
  flush(): void | Promise<void> {
    if (this.#buffer === '' || this.#error !== undefined) return
    const ok = this.#stream.write(this.#buffer)
    this.#buffer = ''
    if (!ok) return drained(this.#stream)
  }

  /**
   * Writes everything held, then closes the file (a caller's stream is left open) and
   * resolves once the data is with the operating system; rejects with the first write error.
   * Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    clearInterval(this.#timer)
    await this.flush()
    const stream = this.#stream
    if (this.#owned && !stream.closed) {
      await new Promise<void>((resolve) => {
        stream.once('close', resolve)
        stream.end()
      })
    } else if (stream.writableNeedDrain && this.#error === undefined) {
      await drained(stream)
    }
    if (this.#error !== undefined) throw this.#error
  }
}

/** Resolves when the stream has room again, or can never have (it failed or closed). */
export function drained(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done)
      stream.off('error', done)
      stream.off('close', done)
      resolve()
    }
    stream.on('drain', done)
    stream.on('error', done)
    stream.on('close', done)
  })
}

function openFile(path: string, append: boolean): Writable {
  const fd = openLogFile(path, append ? 'a' : 'w')
  try {
    return createWriteStream(path, { fd, autoClose: true })
  } catch (error) {
    closeSync(fd)
    throw error
  }
}

/** Opens a log file for writing; the error says what to check. */
export function openLogFile(path: string, flags: 'a' | 'w'): number {
  try {
    return openSync(path, flags)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const hint =
      code === 'ENOENT'
        ? ' (does its directory exist?)'
        : code === 'EACCES'
          ? ' (no permission to write there)'
          : ''
    throw new Error(
      `cannot open log file ${path} for writing: ${(error as Error).message}${hint}`,
      {
        cause: error,
      },
    )
  }
}

function positive(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${String(value)}`)
  }
  return value
}
