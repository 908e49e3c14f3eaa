// Collects the frames of one TCP read as protocol records in a reused buffer and hands them
// to the ReceiveQueue in one push, the form TCPBus's batches take (no object kept per frame).
import {
  type CanFrame,
  MAX_FD_LENGTH,
  RECORD_HEADER_BYTES,
  writeRecordParts,
  writeTimestampNs,
} from '@canbridge/protocol'
import type { ChannelTracker } from '../channel-tracker.ts'
import type { ReceiveQueue } from '../receive-queue.ts'

const BUFFER_BYTES = 64 * 1024
const LARGEST_RECORD = RECORD_HEADER_BYTES + MAX_FD_LENGTH

export class FrameRecords {
  readonly #queue: ReceiveQueue
  readonly #channel: ChannelTracker
  readonly #onFull: () => void
  readonly #bytes = new Uint8Array(BUFFER_BYTES)
  #used = 0
  #count = 0

  /** `onFull` is called when a push leaves the queue at its capacity (pause the reader). */
  constructor(queue: ReceiveQueue, channel: ChannelTracker, onFull: () => void) {
    this.#queue = queue
    this.#channel = channel
    this.#onFull = onFull
  }

  /** Adds a frame (parsed, so valid); `extraFlags` marks own messages with FRAME_FLAG.TX. */
  add(frame: CanFrame, extraFlags = 0): void {
    if (BUFFER_BYTES - this.#used < LARGEST_RECORD) this.flush()
    const offset = this.#used
    writeTimestampNs(this.#bytes, offset, frame.timestampNs)
    this.#used = writeRecordParts(
      this.#bytes,
      offset,
      frame.id,
      frame.flags | extraFlags,
      frame.len,
      frame.data,
      0,
    )
    this.#count++
  }

  /** Pushes what was collected; the channel's `framesIn` counts it. */
  flush(): void {
    if (this.#count === 0) return
    const count = this.#count
    this.#channel.framesIn += count
    const room = this.#queue.push(this.#bytes, 0, this.#used, count, this.#channel)
    this.#used = 0
    this.#count = 0
    if (!room) this.#onFull()
  }
}
