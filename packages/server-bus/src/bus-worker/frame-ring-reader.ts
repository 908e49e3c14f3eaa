// The application's end of the frame ring: TCPBus's frame source in worker mode. Builds a
// CanMessage from a record when one is taken (filters and the own-message rule applied then),
// frees each entry once all its records are taken, and wakes a waiting recv() through
// Atomics.waitAsync on the writer's byte total.
import type { CanFilter } from '../filters.ts'
import type { CanMessage } from '../message.ts'
import type { FrameSource } from '../queue-backed-bus.ts'
import { type RecordCursor, takeRecords } from '../receive-queue.ts'
import { WakeList } from '../wake-list.ts'
import {
  ENTRY,
  ENTRY_BYTES_AT,
  ENTRY_CHANNEL_AT,
  ENTRY_COUNT_AT,
  ENTRY_HEADER_BYTES,
  ENTRY_KIND_AT,
  type FrameRingBuffers,
  RING_SLOT,
} from './frame-ring-layout.ts'

/** What the application's thread counts per channel (the worker counts the rest). */
export interface DeliveryCounters {
  readonly name: string
  /** frames handed to the application */
  delivered: number
  /** frames dropped by the local filters, or echoes not asked for */
  filtered: number
}

export class FrameRingReader implements FrameSource {
  filters: readonly CanFilter[] | null = null
  readonly ownMessages: boolean
  readonly #control: Int32Array
  readonly #data: Uint8Array
  readonly #view: DataView
  readonly #mask: number
  readonly #names = new TextDecoder()
  readonly #channels: DeliveryCounters[] = []
  readonly #byName = new Map<string, DeliveryCounters>()
  readonly #waiters = new WakeList()
  /** byte total at the start of the next entry to read */
  #next = 0
  /** the DATA entry being taken: next record, records left, its channel */
  readonly #cursor: RecordCursor = { offset: 0, remaining: 0 }
  /** reused by shift(): one message at a time through shiftInto */
  readonly #one: CanMessage[] = []
  #channel: DeliveryCounters | undefined
  #taken = 0
  #armed = false
  #closed = false
  #onWake = () => {
    this.#armed = false
    this.#waiters.wakeAll()
  }

  /** called before new entries are read: events posted before them are handled first */
  beforeRead: () => void = () => {}

  constructor(buffers: FrameRingBuffers, ownMessages: boolean) {
    this.#control = new Int32Array(buffers.control)
    this.#data = new Uint8Array(buffers.data)
    this.#view = new DataView(buffers.data)
    this.#mask = this.#data.length - 1
    this.ownMessages = ownMessages
  }

  /** The counters of a channel, by name (none before its first frame arrived). */
  counters(channel: string): DeliveryCounters | undefined {
    return this.#byName.get(channel)
  }

  /** Frames written and not yet taken. */
  get size(): number {
    return (Atomics.load(this.#control, RING_SLOT.WRITTEN_FRAMES) - this.#taken) | 0
  }

  shift(): CanMessage | null {
    const one = this.#one
    one.length = 0
    this.shiftInto(one, 1)
    const message = one[0] ?? null
    one.length = 0
    return message
  }

  shiftInto(out: CanMessage[], max: number): number {
    const start = out.length
    const limit = start + max
    const cursor = this.#cursor
    while (out.length < limit) {
      if (cursor.remaining === 0 && !this.#nextEntry()) break
      const channel = this.#channel!
      const before = out.length
      const taken = takeRecords(
        out,
        limit,
        this.#data,
        cursor,
        channel.name,
        this.filters,
        this.ownMessages,
      )
      const delivered = out.length - before
      this.#taken = (this.#taken + taken) | 0
      channel.filtered += taken - delivered
      channel.delivered += delivered
      if (cursor.remaining === 0) this.#release()
    }
    this.#publishTaken()
    return out.length - start
  }

  wait(timeoutMs?: number, signal?: AbortSignal): Promise<void> {
    if (this.#closed || signal?.aborted || this.#cursor.remaining > 0) return Promise.resolve()
    if (Atomics.load(this.#control, RING_SLOT.WRITTEN_BYTES) !== this.#next) {
      return Promise.resolve()
    }
    const waiting = this.#waiters.wait(timeoutMs, signal)
    this.#arm()
    return waiting
  }

  /** Wakes every waiter; frames still in the ring stay readable (a failed worker's last ones). */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    // ends our own Atomics.waitAsync, if one is pending
    Atomics.notify(this.#control, RING_SLOT.WRITTEN_BYTES)
    this.#waiters.wakeAll()
  }

  /** One Atomics.waitAsync for all waiters, on the byte total as this reader last saw it. */
  #arm(): void {
    if (this.#armed) return
    this.#armed = true
    const wait = Atomics.waitAsync(this.#control, RING_SLOT.WRITTEN_BYTES, this.#next)
    if (wait.async) void wait.value.then(this.#onWake)
    else queueMicrotask(this.#onWake)
  }

  /** Moves to the next DATA entry, reading channel names and skipping padding; false if none. */
  #nextEntry(): boolean {
    if (Atomics.load(this.#control, RING_SLOT.WRITTEN_BYTES) === this.#next) return false
    this.beforeRead()
    const written = Atomics.load(this.#control, RING_SLOT.WRITTEN_BYTES)
    const view = this.#view
    while (this.#next !== written) {
      const position = this.#next & this.#mask
      const tail = this.#data.length - position
      if (tail < ENTRY_HEADER_BYTES) {
        this.#skip(tail)
        continue
      }
      const bytes = view.getUint32(position + ENTRY_BYTES_AT, true)
      const kind = view.getUint8(position + ENTRY_KIND_AT)
      if (kind === ENTRY.DATA) {
        this.#cursor.offset = position + ENTRY_HEADER_BYTES
        this.#cursor.remaining = view.getUint32(position + ENTRY_COUNT_AT, true)
        this.#channel = this.#channels[view.getUint16(position + ENTRY_CHANNEL_AT, true)]
        this.#next = (this.#next + bytes) | 0
        if (this.#cursor.remaining > 0) return true
        this.#release()
        continue
      }
      if (kind === ENTRY.CHANNEL) {
        const body = position + ENTRY_HEADER_BYTES
        const length = view.getUint32(position + ENTRY_COUNT_AT, true)
        // TextDecoder does not read shared memory: decode a copy (once per channel)
        const name = this.#names.decode(this.#data.slice(body, body + length))
        const counters = this.#byName.get(name) ?? { name, delivered: 0, filtered: 0 }
        this.#byName.set(name, counters)
        this.#channels[view.getUint16(position + ENTRY_CHANNEL_AT, true)] = counters
      }
      this.#skip(bytes)
    }
    return false
  }

  #skip(bytes: number): void {
    this.#next = (this.#next + bytes) | 0
    this.#release()
  }

  /** Everything before #next is taken: the writer may reuse it. */
  #release(): void {
    Atomics.store(this.#control, RING_SLOT.RELEASED_BYTES, this.#next)
  }

  #publishTaken(): void {
    Atomics.store(this.#control, RING_SLOT.TAKEN_FRAMES, this.#taken)
    if (Atomics.load(this.#control, RING_SLOT.WRITER_WAITING) === 1) {
      Atomics.notify(this.#control, RING_SLOT.TAKEN_FRAMES)
    }
  }
}
