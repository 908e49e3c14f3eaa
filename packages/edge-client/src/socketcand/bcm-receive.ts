// BCM mode's reception (`subscribe` / `filter` / `unsubscribe`), as the kernel's broadcast
// manager does it for socketcand: per CAN id, every frame (subscribe) or only frames whose
// masked content changed (filter), throttled to one per interval when one is given (the
// latest frame is sent when the interval has passed, as the kernel's RX throttle does).
import type { CanFilter } from '@canbridge/protocol'
import { FRAME_FLAG, MAX_FD_LENGTH } from '@canbridge/protocol/frames'

/** One received frame: FrameBatch's columns for one frame, or a kept copy (offset 0). */
export interface FrameView {
  seconds: number
  nanoseconds: number
  id: number
  /** FRAME_FLAG bits */
  flags: number
  len: number
  /** the payload at `offset` */
  data: Uint8Array
  offset: number
}

interface ReceiveOp {
  id: number
  extended: boolean
  throttleMs: number
  /** content filter mask (8 bytes, zero-padded); undefined = every frame (subscribe) */
  mask: Uint8Array | undefined
  received: boolean
  /** the last frame that counted as a change, kept for comparison and for the throttle */
  kept: FrameView
  /** a change waits for the throttle interval to pass */
  waiting: boolean
  lastSentAt: number
  timer: NodeJS.Timeout | undefined
}

function keyOf(id: number, extended: boolean): number {
  return extended ? (id | 0x80000000) >>> 0 : id
}

export class BcmReceiver {
  readonly #emit: (frame: FrameView) => void
  readonly #ops = new Map<number, ReceiveOp>()
  readonly #now: () => number

  constructor(emit: (frame: FrameView) => void, now: () => number = () => performance.now()) {
    this.#emit = emit
    this.#now = now
  }

  get size(): number {
    return this.#ops.size
  }

  /** `< subscribe >` (mask undefined) or `< filter >`: replaces what the id had. */
  set(id: number, extended: boolean, throttleMs: number, mask?: Uint8Array): void {
    this.delete(id, extended)
    let padded: Uint8Array | undefined
    if (mask !== undefined) {
      padded = new Uint8Array(8)
      padded.set(mask.subarray(0, 8))
    }
    this.#ops.set(keyOf(id, extended), {
      id,
      extended,
      throttleMs,
      mask: padded,
      received: false,
      kept: {
        seconds: 0,
        nanoseconds: 0,
        id,
        flags: 0,
        len: 0,
        data: new Uint8Array(MAX_FD_LENGTH),
        offset: 0,
      },
      waiting: false,
      lastSentAt: Number.NEGATIVE_INFINITY,
      timer: undefined,
    })
  }

  /** `< unsubscribe >`: false when the id had nothing. */
  delete(id: number, extended: boolean): boolean {
    const key = keyOf(id, extended)
    const op = this.#ops.get(key)
    if (!op) return false
    clearTimeout(op.timer)
    this.#ops.delete(key)
    return true
  }

  clear(): void {
    for (const op of this.#ops.values()) clearTimeout(op.timer)
    this.#ops.clear()
  }

  /**
   * Kernel filters that pass exactly the ids asked for; with none, a filter no data frame
   * matches (the CAN_ERR_FLAG bit, which only error frames carry).
   */
  kernelFilters(): CanFilter[] {
    if (this.#ops.size === 0) return [{ canId: 0x20000000, canMask: 0x20000000 }]
    return [...this.#ops.values()].map((op) => ({
      canId: op.id,
      canMask: op.extended ? 0x1fffffff : 0x7ff,
      extended: op.extended,
    }))
  }

  /** One received frame. Remote, FD and error frames are not BCM's (socketcand's BCM socket gets none). */
  receive(frame: FrameView): void {
    const flags = frame.flags
    if (flags & (FRAME_FLAG.RTR | FRAME_FLAG.FD | FRAME_FLAG.ERR)) return
    const op = this.#ops.get(keyOf(frame.id, (flags & FRAME_FLAG.EXT) !== 0))
    if (!op || (op.received && !this.#changed(op, frame))) return
    op.received = true
    const kept = op.kept
    kept.seconds = frame.seconds
    kept.nanoseconds = frame.nanoseconds
    kept.flags = flags
    kept.len = frame.len
    kept.data.set(frame.data.subarray(frame.offset, frame.offset + frame.len))
    if (op.throttleMs === 0) {
      this.#send(op)
      return
    }
    op.waiting = true
    if (op.timer !== undefined) return // the throttle timer sends the latest change
    const since = this.#now() - op.lastSentAt
    if (since >= op.throttleMs) this.#send(op)
    else this.#arm(op, op.throttleMs - since)
  }

  /** Masked content differs from the last change (filter); every frame counts (subscribe). */
  #changed(op: ReceiveOp, frame: FrameView): boolean {
    const mask = op.mask
    if (mask === undefined) return true
    const kept = op.kept
    for (let i = 0; i < 8; i++) {
      const now = i < frame.len ? frame.data[frame.offset + i]! : 0
      const before = i < kept.len ? kept.data[i]! : 0
      if ((now & mask[i]!) !== (before & mask[i]!)) return true
    }
    return false
  }

  #send(op: ReceiveOp): void {
    op.waiting = false
    op.lastSentAt = this.#now()
    this.#emit(op.kept)
  }

  /** While changes keep coming, one goes out per interval; a quiet interval ends the timer. */
  #arm(op: ReceiveOp, delayMs: number): void {
    op.timer = setTimeout(() => {
      op.timer = undefined
      if (!op.waiting) return
      this.#send(op)
      this.#arm(op, op.throttleMs)
    }, delayMs)
  }
}
