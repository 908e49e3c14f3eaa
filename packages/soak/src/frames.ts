// A compact, growable table of CAN frames (columns of typed arrays, payloads in one pool):
// a soak holds millions of frames, ground truth and received, without an object per frame.
import { FRAME_FLAG } from '@canbridge/protocol'

/** One frame as the soak compares it. Times are microseconds since the Unix epoch. */
export interface Frame {
  /** kernel receive time, µs since the epoch */
  tsUs: number
  /** the identifier (11 or 29 bits; the error class bits for an error frame) */
  id: number
  /** FRAME_FLAG bits: EXT, RTR, ERR, FD, BRS, ESI (TX is never part of a soak frame) */
  flags: number
  /** data length in bytes; the requested length for a remote frame */
  len: number
  /** payload (empty for a remote frame) */
  data: Uint8Array
}

/** The flag bits a soak compares (TX is the edge's own echo, never generated traffic). */
export const COMPARED_FLAGS =
  FRAME_FLAG.EXT | FRAME_FLAG.RTR | FRAME_FLAG.ERR | FRAME_FLAG.FD | FRAME_FLAG.BRS | FRAME_FLAG.ESI

export class FrameTable {
  #length = 0
  #ts = new Float64Array(1024)
  #at = new Float64Array(1024)
  #id = new Uint32Array(1024)
  #flags = new Uint8Array(1024)
  #len = new Uint8Array(1024)
  #dataAt = new Uint32Array(1024)
  #pool = new Uint8Array(16 * 1024)
  #poolUsed = 0

  get length(): number {
    return this.#length
  }

  /** Bytes held by the columns and the payload pool. */
  get bytes(): number {
    return (
      this.#ts.byteLength * 2 +
      this.#id.byteLength +
      this.#dataAt.byteLength +
      this.#pool.byteLength +
      2 * this.#flags.byteLength
    )
  }

  /**
   * Appends a frame; `atUs` is a second time column (the receipt time of a received frame).
   * Returns its index.
   */
  push(
    tsUs: number,
    id: number,
    flags: number,
    len: number,
    data: ArrayLike<number>,
    atUs = 0,
  ): number {
    const i = this.#length
    if (i === this.#ts.length) this.#grow()
    const stored = flags & FRAME_FLAG.RTR ? 0 : Math.min(len, data.length)
    if (this.#poolUsed + stored > this.#pool.length) {
      const pool = new Uint8Array(Math.max(this.#pool.length * 2, this.#poolUsed + stored))
      pool.set(this.#pool.subarray(0, this.#poolUsed))
      this.#pool = pool
    }
    this.#ts[i] = tsUs
    this.#at[i] = atUs
    this.#id[i] = id
    this.#flags[i] = flags & COMPARED_FLAGS
    this.#len[i] = len
    this.#dataAt[i] = this.#poolUsed
    for (let k = 0; k < stored; k++) this.#pool[this.#poolUsed + k] = data[k]!
    this.#poolUsed += stored
    this.#length = i + 1
    return i
  }

  pushFrame(frame: Frame, atUs = 0): number {
    return this.push(frame.tsUs, frame.id, frame.flags, frame.len, frame.data, atUs)
  }

  tsUs(i: number): number {
    return this.#ts[i]!
  }

  atUs(i: number): number {
    return this.#at[i]!
  }

  id(i: number): number {
    return this.#id[i]!
  }

  flags(i: number): number {
    return this.#flags[i]!
  }

  len(i: number): number {
    return this.#len[i]!
  }

  /** Payload bytes stored for frame i (a view: copy it to keep it). */
  data(i: number): Uint8Array {
    const start = this.#dataAt[i]!
    const end = i + 1 < this.#length ? this.#dataAt[i + 1]! : this.#poolUsed
    return this.#pool.subarray(start, end)
  }

  get(i: number): Frame {
    if (i < 0 || i >= this.#length) throw new RangeError(`no frame ${i} (have ${this.#length})`)
    return {
      tsUs: this.tsUs(i),
      id: this.id(i),
      flags: this.flags(i),
      len: this.len(i),
      data: this.data(i).slice(),
    }
  }

  /** True when frame i's payload equals frame j's of `other`. */
  sameData(i: number, other: FrameTable, j: number): boolean {
    const a = this.data(i)
    const b = other.data(j)
    if (a.length !== b.length) return false
    for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false
    return true
  }

  static from(frames: readonly Frame[]): FrameTable {
    const table = new FrameTable()
    for (const frame of frames) table.pushFrame(frame)
    return table
  }

  #grow(): void {
    const size = this.#ts.length * 2
    const grow = <T extends Float64Array | Uint32Array | Uint8Array>(
      old: T,
      make: (n: number) => T,
    ): T => {
      const next = make(size)
      next.set(old)
      return next
    }
    this.#ts = grow(this.#ts, (n) => new Float64Array(n))
    this.#at = grow(this.#at, (n) => new Float64Array(n))
    this.#id = grow(this.#id, (n) => new Uint32Array(n))
    this.#flags = grow(this.#flags, (n) => new Uint8Array(n))
    this.#len = grow(this.#len, (n) => new Uint8Array(n))
    this.#dataAt = grow(this.#dataAt, (n) => new Uint32Array(n))
  }
}

/** `123#DEADBEEF`-style text of a frame for reports and examples (candump's notation). */
export function frameText(frame: Pick<Frame, 'id' | 'flags' | 'len' | 'data'>): string {
  const err = (frame.flags & FRAME_FLAG.ERR) !== 0
  const ext = (frame.flags & FRAME_FLAG.EXT) !== 0
  const id = err
    ? (frame.id | 0x20000000).toString(16).toUpperCase().padStart(8, '0')
    : frame.id
        .toString(16)
        .toUpperCase()
        .padStart(ext ? 8 : 3, '0')
  if (frame.flags & FRAME_FLAG.RTR) return `${id}#R${frame.len > 0 ? frame.len : ''}`
  const hex = Buffer.from(frame.data).toString('hex').toUpperCase()
  if (frame.flags & FRAME_FLAG.FD) {
    const fdFlags = (frame.flags & FRAME_FLAG.BRS ? 1 : 0) | (frame.flags & FRAME_FLAG.ESI ? 2 : 0)
    return `${id}##${fdFlags.toString(16).toUpperCase()}${hex}`
  }
  return `${id}#${hex}`
}
