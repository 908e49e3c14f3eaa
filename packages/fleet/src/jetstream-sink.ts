// Where the gateway's EdgeServer puts accepted frames: each batch goes to its channel's
// ChannelPublisher, and the edge is acknowledged only when JetStream has stored it. Batches
// waiting for JetStream are bounded per channel; past the bound the edge is paused (TCP
// pushes back, the edge's ring and spool hold the frames) until JetStream catches up.
import { BATCH_HEADER_BYTES, DataBatch, writeBatchHeader } from '@canbridge/protocol'
import type { ChannelTracker, ReceiveSink } from '@canbridge/server-bus/edge-server'
import type { ChannelPublisher } from './channel-publisher.ts'

export interface JetStreamSinkEvents {
  /** frames of `channel` below `nextSeq` are stored */
  stored(channel: string, nextSeq: number): void
  /** a channel could not be stored (another writer, NATS refused): the edge must resume */
  failed(channel: ChannelTracker, error: Error): void
  /** the sink has room again: resume paused edges */
  drained(): void
}

export class JetStreamSink implements ReceiveSink {
  /** every frame the edges send is stored, their own echoes included */
  readonly ownMessages = true
  readonly capacity: number
  #publisherOf: (channel: ChannelTracker) => ChannelPublisher
  #instanceOf: (edgeId: string) => string
  #events: JetStreamSinkEvents
  #size = 0
  #peak = 0
  #full = false

  constructor(
    capacityFrames: number,
    publisherOf: (channel: ChannelTracker) => ChannelPublisher,
    instanceOf: (edgeId: string) => string,
    events: JetStreamSinkEvents,
  ) {
    this.capacity = capacityFrames
    this.#publisherOf = publisherOf
    this.#instanceOf = instanceOf
    this.#events = events
  }

  /** frames waiting for JetStream */
  get size(): number {
    return this.#size
  }

  get peak(): number {
    return this.#peak
  }

  push(
    bytes: Uint8Array,
    start: number,
    end: number,
    count: number,
    channel: ChannelTracker,
  ): boolean {
    // the tracker has moved past these records: they are the `count` before its nextSeq
    const firstSeq = channel.nextSeq! - count
    const body = new Uint8Array(BATCH_HEADER_BYTES + (end - start))
    body.set(bytes.subarray(start, end), BATCH_HEADER_BYTES)
    // channel index 0: in the stream the subject names the channel, not the edge's HELLO
    writeBatchHeader(body, 0, count, firstSeq)
    const batch = DataBatch.parse(body)
    this.#size += count
    if (this.#size > this.#peak) this.#peak = this.#size
    const name = channel.name
    this.#publisherOf(channel)
      .store(batch, this.#instanceOf(channel.edgeId))
      .then(
        () => this.#events.stored(name, firstSeq + count),
        (error: unknown) => this.#events.failed(channel, error as Error),
      )
      .finally(() => {
        this.#size -= count
        if (this.#full && this.#size <= this.capacity / 2) {
          this.#full = false
          this.#events.drained()
        }
      })
    if (this.#size >= this.capacity) this.#full = true
    return !this.#full
  }
}
