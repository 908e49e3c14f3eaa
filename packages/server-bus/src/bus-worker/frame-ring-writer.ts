// The worker's end of the frame ring: EdgeServer's receive sink. Copies each accepted batch's
// records into the ring as one entry and wakes the reader. When the ring is at its frame bound
// (or out of bytes) it says so (the server pauses its edges: TCP pushes back, the edges
// spool), keeps what the paused sockets still deliver in a short overflow, and waits for the
// reader to take frames before it asks the server to resume.
import type { ChannelTracker } from '../channel-tracker.ts'
import type { ReceiveSink } from '../edge-server.ts'
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

/** An entry that did not fit when it came: written once the reader makes room. */
interface Overflow {
  kind: number
  channel: number
  /** frames of a DATA entry; the name's length in bytes for a CHANNEL entry */
  count: number
  body: Uint8Array
}

export class FrameRingWriter implements ReceiveSink {
  readonly ownMessages: boolean
  readonly capacity: number
  readonly #lowWater: number
  readonly #control: Int32Array
  readonly #data: Uint8Array
  readonly #view: DataView
  readonly #mask: number
  readonly #channels = new Map<ChannelTracker, number>()
  readonly #names = new TextEncoder()
  #onDrain: () => void = () => {}
  #written = 0
  #writtenFrames = 0
  #overflow: Overflow[] = []
  #overflowFrames = 0
  #full = false
  #waiting = false
  #closed = false
  #peak = 0

  constructor(buffers: FrameRingBuffers, ownMessages: boolean) {
    this.#control = new Int32Array(buffers.control)
    this.#data = new Uint8Array(buffers.data)
    this.#view = new DataView(buffers.data)
    this.#mask = this.#data.length - 1
    this.capacity = this.#control[RING_SLOT.CAPACITY_FRAMES]!
    this.#lowWater = Math.floor(this.capacity / 2)
    this.ownMessages = ownMessages
  }

  /** Called once the reader has taken the ring down to half its bound after it was full. */
  set onDrain(callback: () => void) {
    this.#onDrain = callback
  }

  /** Frames in the ring and its overflow, not yet taken by the application. */
  get size(): number {
    const taken = Atomics.load(this.#control, RING_SLOT.TAKEN_FRAMES)
    return ((this.#writtenFrames - taken) | 0) + this.#overflowFrames
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
    if (this.#closed || count === 0) return !this.#closed
    let index = this.#channels.get(channel)
    if (index === undefined) {
      index = this.#channels.size
      this.#channels.set(channel, index)
      const name = this.#names.encode(channel.name)
      this.#enqueue(ENTRY.CHANNEL, index, name.length, name, 0, name.length)
    }
    this.#enqueue(ENTRY.DATA, index, count, bytes, start, end)
    this.#publish()
    const size = this.size
    if (size > this.#peak) {
      this.#peak = size
      Atomics.store(this.#control, RING_SLOT.PEAK_FRAMES, size)
    }
    if (this.#overflow.length > 0 || size >= this.capacity) {
      this.#full = true
      this.#waitForRoom()
    }
    return !this.#full
  }

  /** Later pushes are ignored; a wait for room ends. */
  close(): void {
    this.#closed = true
    this.#overflow = []
    this.#overflowFrames = 0
  }

  #enqueue(
    kind: number,
    channel: number,
    count: number,
    bytes: Uint8Array,
    start: number,
    end: number,
  ): void {
    if (this.#overflow.length === 0 && this.#write(kind, channel, count, bytes, start, end)) return
    this.#overflow.push({ kind, channel, count, body: bytes.slice(start, end) })
    if (kind === ENTRY.DATA) this.#overflowFrames += count
  }

  /** Writes one entry when it fits (padding to the end first when it must); false if not. */
  #write(
    kind: number,
    channel: number,
    count: number,
    bytes: Uint8Array,
    start: number,
    end: number,
  ): boolean {
    const length = entryLength(end - start)
    if (!this.#fits(length)) return false
    let position = this.#written & this.#mask
    const tail = this.#data.length - position
    if (length > tail) {
      if (tail >= ENTRY_HEADER_BYTES) this.#header(position, tail, 0, 0, ENTRY.PAD)
      this.#written = (this.#written + tail) | 0
      position = 0
    }
    this.#header(position, length, count, channel, kind)
    this.#data.set(bytes.subarray(start, end), position + ENTRY_HEADER_BYTES)
    this.#written = (this.#written + length) | 0
    if (kind === ENTRY.DATA) this.#writtenFrames = (this.#writtenFrames + count) | 0
    return true
  }

  #header(position: number, bytes: number, count: number, channel: number, kind: number): void {
    const view = this.#view
    view.setUint32(position + ENTRY_BYTES_AT, bytes, true)
    view.setUint32(position + ENTRY_COUNT_AT, count, true)
    view.setUint16(position + ENTRY_CHANNEL_AT, channel, true)
    view.setUint8(position + ENTRY_KIND_AT, kind)
  }

  /** Frames first, then bytes: a reader that sees the bytes sees their frames counted. */
  #publish(): void {
    Atomics.store(this.#control, RING_SLOT.WRITTEN_FRAMES, this.#writtenFrames)
    Atomics.store(this.#control, RING_SLOT.WRITTEN_BYTES, this.#written)
    Atomics.notify(this.#control, RING_SLOT.WRITTEN_BYTES)
  }

  #hasRoom(): boolean {
    const next = this.#overflow[0]
    if (next === undefined) return this.size <= this.#lowWater
    return this.#fits(entryLength(next.body.length))
  }

  /** True when an entry of `length` bytes fits now, with the padding it may need first. */
  #fits(length: number): boolean {
    const used = (this.#written - Atomics.load(this.#control, RING_SLOT.RELEASED_BYTES)) | 0
    const tail = this.#data.length - (this.#written & this.#mask)
    return used + (length > tail ? tail : 0) + length <= this.#data.length
  }

  #waitForRoom(): void {
    if (this.#waiting || this.#closed) return
    this.#waiting = true
    Atomics.store(this.#control, RING_SLOT.WRITER_WAITING, 1)
    const seen = Atomics.load(this.#control, RING_SLOT.TAKEN_FRAMES)
    // the reader may have taken everything before it could see WRITER_WAITING
    if (this.#hasRoom()) {
      queueMicrotask(() => this.#onRoom())
      return
    }
    const wait = Atomics.waitAsync(this.#control, RING_SLOT.TAKEN_FRAMES, seen)
    if (wait.async) void wait.value.then(() => this.#onRoom())
    else queueMicrotask(() => this.#onRoom())
  }

  #onRoom(): void {
    this.#waiting = false
    if (this.#closed) return
    while (this.#overflow.length > 0) {
      const next = this.#overflow[0]!
      if (!this.#write(next.kind, next.channel, next.count, next.body, 0, next.body.length)) break
      this.#overflow.shift()
      if (next.kind === ENTRY.DATA) this.#overflowFrames -= next.count
    }
    this.#publish()
    if (this.#overflow.length === 0 && this.size <= this.#lowWater) {
      Atomics.store(this.#control, RING_SLOT.WRITER_WAITING, 0)
      this.#full = false
      this.#onDrain()
      return
    }
    this.#waitForRoom()
  }
}

/** Entries start at multiples of 4 bytes. */
function entryLength(bodyBytes: number): number {
  return (ENTRY_HEADER_BYTES + bodyBytes + 3) & ~3
}
