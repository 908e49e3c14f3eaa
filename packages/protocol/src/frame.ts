// The CAN / CAN FD frame as the protocol carries it, and the rules that make one valid.
import {
  FD_LENGTHS,
  FRAME_FLAG,
  MAX_CLASSIC_LENGTH,
  MAX_EXTENDED_ID,
  MAX_FD_LENGTH,
  MAX_STANDARD_ID,
} from './constants.ts'

export interface CanFrame {
  /** receive time, nanoseconds since the Unix epoch */
  timestampNs: bigint
  /** identifier without flag bits (error class bits for an error frame) */
  id: number
  /** FRAME_FLAG bits */
  flags: number
  /** data length in bytes; for a remote frame, its DLC */
  len: number
  /** the payload (empty for a remote frame) */
  data: Uint8Array
}

const VALID_FD_LENGTH = new Uint8Array(MAX_FD_LENGTH + 1)
for (const length of FD_LENGTHS) VALID_FD_LENGTH[length] = 1

const FD_ONLY_FLAGS = FRAME_FLAG.BRS | FRAME_FLAG.ESI

/**
 * Why (id, flags, len) is not a valid frame, or undefined when it is. Returns no string
 * in the valid case so that the decoder's per-record check allocates nothing.
 */
export function frameProblem(id: number, flags: number, len: number): string | undefined {
  // flags above 0xff would be cut to their low byte when written: refuse them too
  if (flags & FRAME_FLAG.RESERVED || flags > 0xff)
    return `reserved flag bit set (flags 0x${flags.toString(16)})`
  const isFd = (flags & FRAME_FLAG.FD) !== 0
  if (!isFd && flags & FD_ONLY_FLAGS) return 'BRS/ESI set on a frame that is not CAN FD'
  if (flags & FRAME_FLAG.ERR) {
    if (flags & (FRAME_FLAG.RTR | FRAME_FLAG.FD)) return 'error frame marked remote or FD'
    if (id > MAX_EXTENDED_ID) return `error class 0x${id.toString(16)} above 0x1fffffff`
    if (len > MAX_CLASSIC_LENGTH) return `error frame length ${len} above 8`
    return undefined
  }
  const maxId = flags & FRAME_FLAG.EXT ? MAX_EXTENDED_ID : MAX_STANDARD_ID
  if (id > maxId) {
    const kind = flags & FRAME_FLAG.EXT ? 'extended' : 'standard'
    return `${kind} id 0x${id.toString(16)} above 0x${maxId.toString(16)}`
  }
  if (flags & FRAME_FLAG.RTR) {
    if (isFd) return 'remote frame marked CAN FD (CAN FD has no remote frames)'
    if (len > MAX_CLASSIC_LENGTH) return `remote frame DLC ${len} above 8`
    return undefined
  }
  if (isFd) {
    if (len > MAX_FD_LENGTH || VALID_FD_LENGTH[len] !== 1)
      return `CAN FD length ${len} is not a valid FD length`
    return undefined
  }
  if (len > MAX_CLASSIC_LENGTH) return `classic CAN length ${len} above 8`
  return undefined
}

/** Bytes of payload a record carries: none for a remote frame. */
export function payloadLength(flags: number, len: number): number {
  return flags & FRAME_FLAG.RTR ? 0 : len
}

/**
 * Checks a frame object completely (types too), for frames entering from an API.
 * Throws a TypeError or RangeError naming the field and the value.
 */
export function assertValidFrame(frame: CanFrame, what = 'frame'): void {
  if (typeof frame !== 'object' || frame === null) throw new TypeError(`${what} must be an object`)
  if (
    typeof frame.timestampNs !== 'bigint' ||
    frame.timestampNs < 0n ||
    frame.timestampNs > 0xffffffffffffffffn
  ) {
    throw new RangeError(
      `${what}.timestampNs must be a bigint in 0..2^64-1, got ${String(frame.timestampNs)}`,
    )
  }
  assertCount(frame.id, what, 'id')
  assertCount(frame.flags, what, 'flags')
  assertCount(frame.len, what, 'len')
  if (!(frame.data instanceof Uint8Array)) throw new TypeError(`${what}.data must be a Uint8Array`)
  const problem = frameProblem(frame.id, frame.flags, frame.len)
  if (problem) throw new RangeError(`${what}: ${problem}`)
  const expected = payloadLength(frame.flags, frame.len)
  if (frame.data.length !== expected) {
    throw new RangeError(`${what}.data has ${frame.data.length} bytes, len says ${expected}`)
  }
}

function assertCount(value: number, what: string, key: string): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${what}.${key} must be a non-negative integer, got ${String(value)}`)
  }
}

/** Exact nanoseconds for a kernel timestamp given as seconds and nanoseconds. */
export function timestampNsFromParts(seconds: number, nanoseconds: number): bigint {
  return BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds)
}

/** Seconds as a float (python-can's `timestamp`); exact to about a microsecond. */
export function timestampSecondsFromNs(timestampNs: bigint): number {
  const seconds = timestampNs / 1_000_000_000n
  return Number(seconds) + Number(timestampNs - seconds * 1_000_000_000n) / 1e9
}
