// The ring that carries received frame records from TCPBus's worker to the application's
// thread: one writer (the worker), one reader (the bus). Records are the protocol's own
// (PROTOCOL.md §6.2), copied in as the edge sent them and never re-encoded.
//
// Layout: control Int32 slots (Atomics) in one SharedArrayBuffer, the data in another, whose
// size is a power of two so that running byte totals (wrapping Int32) map to offsets.
// Data: entries back to back, each [u32 bytes][u32 count][u16 channel][u8 kind][u8 0] then its
// body; an entry never wraps: the writer pads to the end (a PAD entry, or nothing when fewer
// than ENTRY_HEADER_BYTES are left) and goes on at offset 0.

/** Int32 control slots; each written by one side only (the owner named). */
export const RING_SLOT = {
  /** writer: bytes written in total (wrapping), published after the entry is complete */
  WRITTEN_BYTES: 0,
  /** reader: bytes released in total (wrapping) */
  RELEASED_BYTES: 1,
  /** writer: frames written in total (wrapping) */
  WRITTEN_FRAMES: 2,
  /** reader: frames taken in total (wrapping) */
  TAKEN_FRAMES: 3,
  /** writer: 1 while it waits for room (the reader then notifies on TAKEN_FRAMES) */
  WRITER_WAITING: 4,
  /** writer: most frames ever in the ring (and its overflow) at once */
  PEAK_FRAMES: 5,
  /** the frame bound (`receiveQueueFrames`), set once by the bus */
  CAPACITY_FRAMES: 6,
} as const
export const RING_SLOTS = 8

/** Entry kinds. */
export const ENTRY = {
  /** `count` frame records of channel `channel` */
  DATA: 0,
  /** nothing: skip to offset 0 */
  PAD: 1,
  /** the channel's name (UTF-8) for index `channel`, before its first DATA entry */
  CHANNEL: 2,
} as const

export const ENTRY_HEADER_BYTES = 12
export const ENTRY_BYTES_AT = 0
/** frames of a DATA entry, the name's length in bytes of a CHANNEL entry */
export const ENTRY_COUNT_AT = 4
export const ENTRY_CHANNEL_AT = 8
export const ENTRY_KIND_AT = 10

/** Smallest data area: two of the largest batches (4,096 FD records) fit at any offset. */
export const MIN_RING_BYTES = 1 << 20
export const MAX_RING_BYTES = 1 << 26
/** Bytes per frame the data area is sized for (an 8-byte frame's record is 24). */
const BYTES_PER_FRAME = 32

/** The data area for a frame bound: a power of two in MIN_RING_BYTES..MAX_RING_BYTES. */
export function ringBytesFor(capacityFrames: number): number {
  let bytes = MIN_RING_BYTES
  while (bytes < capacityFrames * BYTES_PER_FRAME && bytes < MAX_RING_BYTES) bytes *= 2
  return bytes
}

/** The two shared buffers of one ring, as they cross to the worker. */
export interface FrameRingBuffers {
  control: SharedArrayBuffer
  data: SharedArrayBuffer
}

export function createFrameRing(capacityFrames: number): FrameRingBuffers {
  const control = new SharedArrayBuffer(RING_SLOTS * 4)
  new Int32Array(control)[RING_SLOT.CAPACITY_FRAMES] = capacityFrames
  return { control, data: new SharedArrayBuffer(ringBytesFor(capacityFrames)) }
}
