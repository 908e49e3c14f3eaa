// A reusable batch of received frames in flat typed arrays: a CAN source fills it and hands
// it over once per wake-up, so the hot path allocates nothing per frame. The payloads stay
// where the source has them (its own array, or the binding's batch records): `offsets`
// says where each one starts.
import { MAX_FD_LENGTH } from '@canbridge/protocol/frames'

export class FrameBatch {
  readonly capacity: number
  count = 0
  /** kernel receive time: whole seconds since the Unix epoch */
  readonly seconds: Float64Array
  /** and the nanoseconds within that second */
  readonly nanoseconds: Uint32Array
  readonly ids: Uint32Array
  /** FRAME_FLAG bits */
  readonly flags: Uint8Array
  /** data length (DLC for a remote frame) */
  readonly lens: Uint8Array
  /** frames the kernel dropped from the socket queue just before frame i (usually 0) */
  readonly lostBefore: Uint32Array
  /** where frame i's payload starts in `data` (i × MAX_FD_LENGTH unless the source says) */
  readonly offsets: Uint32Array
  /** the payloads */
  readonly data: Uint8Array

  /** `data`: the source's own payload store (default: capacity × 64 bytes of its own) */
  constructor(capacity = 256, data?: Uint8Array) {
    this.capacity = capacity
    this.seconds = new Float64Array(capacity)
    this.nanoseconds = new Uint32Array(capacity)
    this.ids = new Uint32Array(capacity)
    this.flags = new Uint8Array(capacity)
    this.lens = new Uint8Array(capacity)
    this.lostBefore = new Uint32Array(capacity)
    this.offsets = new Uint32Array(capacity)
    this.data = data ?? new Uint8Array(capacity * MAX_FD_LENGTH)
  }

  get full(): boolean {
    return this.count === this.capacity
  }

  /**
   * Appends a frame (payload at i × 64 unless the caller sets `offsets[i]`); the caller
   * checks `full` first. Returns its index.
   */
  push(seconds: number, nanoseconds: number, id: number, flags: number, len: number): number {
    const i = this.count++
    this.seconds[i] = seconds
    this.nanoseconds[i] = nanoseconds
    this.ids[i] = id
    this.flags[i] = flags
    this.lens[i] = len
    this.lostBefore[i] = 0
    this.offsets[i] = i * MAX_FD_LENGTH
    return i
  }
}
