// Listeners a Notifier feeds (python-can's can/listener.py and can/io/printer.py): the
// interface, a Printer, and an AsyncBufferedReader. A listener may return a promise from
// onMessage to slow the Notifier down (a file writer later will), and may flush in stop().
import type { Writable } from 'node:stream'
import type { CanMessage } from './message.ts'

/**
 * Receives messages from a Notifier. `onMessage` may return a promise: the Notifier waits
 * for it before the next message (backpressure, no loss). `onError` sees errors raised while
 * receiving or by other listeners; `stop` runs once when the Notifier stops.
 */
export interface Listener {
  onMessage(message: CanMessage): void | Promise<void>
  onError?(error: unknown): void
  stop?(): void | Promise<void>
}

export type LineOutput = Writable | ((line: string) => void)

/** Writes each message as python-can's one-line `str(msg)`, to stdout by default. */
export class Printer implements Listener {
  readonly #write: (line: string) => boolean
  readonly #stream: Writable | undefined

  constructor(output: LineOutput = process.stdout) {
    if (typeof output === 'function') {
      this.#stream = undefined
      this.#write = (line) => {
        output(line)
        return true
      }
    } else {
      this.#stream = output
      this.#write = (line) => output.write(line)
    }
  }

  onMessage(message: CanMessage): void | Promise<void> {
    if (this.#write(`${message.toString()}\n`)) return
    // The stream is full: wait for it rather than buffer without bound.
    const stream = this.#stream!
    return new Promise((resolve) => stream.once('drain', resolve))
  }
}

export interface AsyncBufferedReaderOptions {
  /** most messages held; when full, onMessage waits (the Notifier with it). Default: no bound */
  maxSize?: number | undefined
}

/**
 * Buffers messages for `await reader.getMessage()` or `for await (const m of reader)`
 * (python-can's AsyncBufferedReader).
 */
export class AsyncBufferedReader implements Listener, AsyncIterable<CanMessage> {
  readonly maxSize: number
  #buffer: CanMessage[] = []
  #head = 0
  #stopped = false
  #readers: (() => void)[] = []
  #writers: (() => void)[] = []

  constructor(options: AsyncBufferedReaderOptions = {}) {
    this.maxSize = options.maxSize ?? Number.POSITIVE_INFINITY
    if (!(this.maxSize >= 1)) throw new RangeError(`maxSize must be >= 1, got ${this.maxSize}`)
  }

  /** Messages waiting. */
  get size(): number {
    return this.#buffer.length - this.#head
  }

  get stopped(): boolean {
    return this.#stopped
  }

  onMessage(message: CanMessage): void | Promise<void> {
    if (this.#stopped) throw new Error('AsyncBufferedReader: the reader has been stopped')
    if (this.size >= this.maxSize) {
      return new Promise<void>((resolve) => this.#writers.push(resolve)).then(() =>
        this.onMessage(message),
      )
    }
    this.#buffer.push(message)
    this.#wake(this.#readers)
  }

  /**
   * The oldest message; waits for one, at most `timeoutMs` if given. Resolves null on
   * timeout, or when the reader was stopped and is empty.
   */
  async getMessage(timeoutMs?: number): Promise<CanMessage | null> {
    const deadline = timeoutMs === undefined ? undefined : performance.now() + timeoutMs
    for (;;) {
      const message = this.#take()
      if (message !== null) return message
      if (this.#stopped) return null
      const left = deadline === undefined ? undefined : deadline - performance.now()
      if (left !== undefined && left <= 0) return null
      await new Promise<void>((resolve) => {
        const timer = left === undefined ? undefined : setTimeout(done, left)
        function done() {
          clearTimeout(timer)
          resolve()
        }
        this.#readers.push(done)
      })
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<CanMessage, void, undefined> {
    for (;;) {
      const message = await this.getMessage()
      if (message === null) return
      yield message
    }
  }

  /** No more messages are accepted; readers get what is buffered, then null. */
  stop(): void {
    this.#stopped = true
    this.#wake(this.#readers)
    this.#wake(this.#writers)
  }

  #take(): CanMessage | null {
    if (this.#head >= this.#buffer.length) return null
    const message = this.#buffer[this.#head]!
    this.#buffer[this.#head] = undefined as unknown as CanMessage
    this.#head++
    if (this.#head === this.#buffer.length) {
      this.#buffer.length = 0
      this.#head = 0
    } else if (this.#head > 1024 && this.#head * 2 > this.#buffer.length) {
      this.#buffer.splice(0, this.#head)
      this.#head = 0
    }
    if (this.#writers.length > 0) this.#wake(this.#writers, 1)
    return message
  }

  #wake(waiting: (() => void)[], count = waiting.length): void {
    for (const wake of waiting.splice(0, count)) wake()
  }
}
