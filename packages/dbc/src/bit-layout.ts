// Where a signal's bits lie in the payload: the one place that knows Intel and Motorola
// (Vector's "sawtooth") bit numbering. Decoder and encoder both work from these chunks.
import type { ByteOrder } from './model.ts'

/** A run of a signal's bits inside one payload byte. */
export interface BitChunk {
  /** payload byte index */
  byte: number
  /** lowest bit of the run inside that byte (0 = least significant) */
  shift: number
  /** bits in the run, 1..8 */
  width: number
  /** the run's lowest bit in the signal's value (0 = least significant) */
  valueBit: number
}

export interface BitLayout {
  chunks: readonly BitChunk[]
  /** lowest and highest payload byte the signal touches */
  firstByte: number
  lastByte: number
}

/**
 * Payload bit (byte * 8 + bit in byte) of each value bit, least significant first.
 * Intel: the start bit is the value's least significant bit and bits count upwards.
 * Motorola: the start bit is the most significant bit; going to less significant bits
 * runs down a byte (bit 7 → 0) and then on to bit 7 of the next byte.
 */
export function payloadBitOf(
  startBit: number,
  length: number,
  byteOrder: ByteOrder,
  valueBit: number,
): number {
  if (byteOrder === 'little_endian') return startBit + valueBit
  // In a big-endian (MSB-first) numbering of the payload the signal is one contiguous run.
  const msbLinear = (startBit & ~7) + (7 - (startBit & 7))
  const linear = msbLinear + length - 1 - valueBit
  return (linear & ~7) + (7 - (linear & 7))
}

/** Bytes needed to hold the signal, or how far past the payload it reaches. */
export function signalEndByte(startBit: number, length: number, byteOrder: ByteOrder): number {
  if (byteOrder === 'little_endian') return Math.floor((startBit + length - 1) / 8) + 1
  const msbLinear = (startBit & ~7) + (7 - (startBit & 7))
  return Math.floor((msbLinear + length - 1) / 8) + 1
}

/**
 * The signal's bits as runs within bytes; a run never crosses value bit 32, so a value of up
 * to 64 bits can be assembled as two 32-bit halves.
 */
export function planBits(startBit: number, length: number, byteOrder: ByteOrder): BitLayout {
  const chunks: BitChunk[] = []
  let firstByte = Number.POSITIVE_INFINITY
  let lastByte = -1
  let current: BitChunk | undefined
  for (let k = 0; k < length; k++) {
    const bit = payloadBitOf(startBit, length, byteOrder, k)
    const byte = bit >> 3
    const inByte = bit & 7
    firstByte = Math.min(firstByte, byte)
    lastByte = Math.max(lastByte, byte)
    if (
      current !== undefined &&
      current.byte === byte &&
      current.shift + current.width === inByte &&
      k !== 32
    ) {
      current.width++
      continue
    }
    current = { byte, shift: inByte, width: 1, valueBit: k }
    chunks.push(current)
  }
  return { chunks, firstByte, lastByte }
}
