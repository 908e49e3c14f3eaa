// Output to one socketcand client with TCP backpressure: while the socket wants a drain,
// text waits in a bounded queue; past the bound the client is dropped (never unbounded
// memory for a client that cannot keep up).
import type { Socket } from 'node:net'

/** Bytes that may wait for one client beyond what the socket holds (≈ 20,000 frames). */
export const DEFAULT_MAX_QUEUED_BYTES = 1024 * 1024

export class ClientWriter {
  readonly #socket: Socket
  readonly #maxQueuedBytes: number
  readonly #onOverflow: (queuedBytes: number) => void
  #queue: string[] = []
  #queuedBytes = 0
  #overflowed = false
  /** bytes handed to the socket */
  bytesWritten = 0

  constructor(socket: Socket, maxQueuedBytes: number, onOverflow: (queuedBytes: number) => void) {
    this.#socket = socket
    this.#maxQueuedBytes = maxQueuedBytes
    this.#onOverflow = onOverflow
    socket.on('drain', this.#drain)
  }

  /** bytes waiting for the socket to drain */
  get queuedBytes(): number {
    return this.#queuedBytes
  }

  /** Writes (or queues) `text`; false once the client overflowed and is being dropped. */
  write(text: string): boolean {
    if (this.#overflowed || this.#socket.destroyed) return false
    if (this.#queuedBytes === 0 && !this.#socket.writableNeedDrain) {
      this.bytesWritten += text.length
      this.#socket.write(text)
      return true
    }
    this.#queue.push(text)
    this.#queuedBytes += text.length
    if (this.#queuedBytes > this.#maxQueuedBytes) {
      this.#overflowed = true
      const queued = this.#queuedBytes
      this.#queue = []
      this.#queuedBytes = 0
      this.#onOverflow(queued)
      return false
    }
    return true
  }

  #drain = (): void => {
    if (this.#queuedBytes === 0 || this.#socket.destroyed) return
    // one write for everything that waited
    const text = this.#queue.length === 1 ? this.#queue[0]! : this.#queue.join('')
    this.#queue = []
    this.bytesWritten += this.#queuedBytes
    this.#queuedBytes = 0
    this.#socket.write(text)
  }
}
