// The DATA batch encoders of the socket-write worker: each is handed to the link without a
// copy and taken back once the link has flushed it, so a batch costs no allocation. None
// free means wait, like 'drain'. Shared by every channel's sender.
import {
  BATCH_HEADER_BYTES,
  BatchEncoder,
  HEADER_BYTES,
  MAX_BATCH_FRAMES,
  RECORD_HEADER_BYTES,
} from '@canbridge/protocol'

/** The largest DATA message: a full batch of FD frames with its headers. */
export const MAX_BATCH_BYTES =
  HEADER_BYTES + BATCH_HEADER_BYTES + MAX_BATCH_FRAMES * (RECORD_HEADER_BYTES + 64)

const DEFAULT_ENCODERS = 8

export class EncoderPool {
  readonly #free: BatchEncoder[]
  readonly #busy = new Set<BatchEncoder>()
  readonly #onReturn: () => void
  /** a peek() found none free: a sender waits for the next giveBack() */
  #waiting = false
  /** for spool replay (rare): its bytes are copied before writing, so one is enough */
  readonly replay = new BatchEncoder({ maxBytes: MAX_BATCH_BYTES })

  /** `onReturn` runs when an encoder comes back to a pool that a sender found empty. */
  constructor(onReturn: () => void, size = DEFAULT_ENCODERS) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`size: expected a positive integer, got ${size}`)
    this.#onReturn = onReturn
    this.#free = Array.from({ length: size }, () => new BatchEncoder({ maxBytes: MAX_BATCH_BYTES }))
  }

  /** A free encoder to fill, still in the pool until lend(); undefined when all are out. */
  peek(): BatchEncoder | undefined {
    const encoder = this.#free.at(-1)
    if (encoder === undefined) this.#waiting = true
    return encoder
  }

  /** Takes the encoder peek() gave out of the pool until giveBack(). */
  lend(encoder: BatchEncoder): void {
    if (this.#free.at(-1) !== encoder) throw new Error('lend: not the encoder peek() gave')
    this.#free.pop()
    this.#busy.add(encoder)
  }

  giveBack(encoder: BatchEncoder): void {
    // a late callback from a destroyed socket finds it already returned
    if (!this.#busy.delete(encoder)) return
    this.#free.push(encoder)
    // only a sender that found none free waits: a pump after every write would cost the
    // socket-write worker an event-loop turn per batch
    if (!this.#waiting) return
    this.#waiting = false
    this.#onReturn()
  }

  /** The link closed: every encoder lent to it is free again. */
  reclaimAll(): void {
    for (const encoder of [...this.#busy]) this.giveBack(encoder)
  }

  get free(): number {
    return this.#free.length
  }
}
