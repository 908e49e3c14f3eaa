// A reusable batch of received frames in flat typed arrays: a CAN source fills it and hands
// it over once per wake-up, so the hot path allocates nothing per frame.
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
  /** payload of frame i at i × MAX_FD_LENGTH */
  readonly data: Uint8Array

  constructor(capacity = 256) {
    this.capacity = capacity
    this.seconds = new Float64Array(capacity)
    this.nanoseconds = new Uint32Array(capacity)
    this.ids = new Uint32Array(capacity)
    this.flags = new Uint8Array(capacity)
    this.lens = new Uint8Array(capacity)
    this.data = new Uint8Array(capacity * MAX_FD_LENGTH)
  }

  get full(): boolean {
    return this.count === this.capacity
  }

  /** Appends a frame; the caller checks `full` first. Returns its index. */
  push(seconds: number, nanoseconds: number, id: number, flags: number, len: number): number {
    const i = this.count++
    this.seconds[i] = seconds
    this.nanoseconds[i] = nanoseconds
    this.ids[i] = id
    this.flags[i] = flags
    this.lens[i] = len
    return i
  }
}
