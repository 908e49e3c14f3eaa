// Generated test databases and frames for the differential test against canmatrix: every
// start bit and length in both byte orders, FD positions, floats, multiplexing, and random
// messages with scaling. Deterministic for a seed.
import { payloadBitOf } from '../../src/index.ts'
import type { MessageSpec, SignalSpec } from './dbc-writer.ts'
import type { Random } from './random.ts'

export interface FrameCase {
  message: MessageSpec
  data: Uint8Array
}

export interface EncodeCase {
  message: MessageSpec
  /** raw values of the signals the frame carries (bigint above 53 bits) */
  raw: Record<string, number | bigint>
  /** every signal's physical value is exact enough to encode back to the same raw value */
  physicalRoundTrip: boolean
}

const FD_LENGTHS = [12, 16, 20, 24, 32, 48, 64]
const FACTORS = [1, 1, 0.5, 0.25, 2, 0.125, 10, 0.1, 0.01, 0.05, 3, -1, -0.5, 1e-7, 1e6]
const OFFSETS = [0, 0, 0, -40, 100, 0.5, -1000.25, 0.1, 273.15, -0.001]

/** A signal's payload bits, to keep signals that share a frame from overlapping. */
export function occupiedBits(s: SignalSpec): number[] {
  const bits: number[] = []
  for (let k = 0; k < s.length; k++) bits.push(payloadBitOf(s.startBit, s.length, s.byteOrder, k))
  return bits
}

export function fits(
  startBit: number,
  length: number,
  order: SignalSpec['byteOrder'],
  bytes: number,
) {
  for (const k of [0, length - 1]) {
    const bit = payloadBitOf(startBit, length, order, k)
    if (bit < 0 || bit >= bytes * 8) return false
  }
  // Motorola runs can only leave the payload at the end; Intel at either end: both checked.
  return order === 'little_endian'
    ? startBit + length <= bytes * 8
    : (startBit & ~7) + (7 - (startBit & 7)) + length <= bytes * 8
}

export class CaseGenerator {
  readonly #random: Random
  #nextId = 1

  constructor(random: Random) {
    this.#random = random
  }

  #id(extended: boolean): number {
    const id = this.#nextId++
    return extended ? 0x1000_0000 + id * 7 : id
  }

  /** Every start bit of every length 1..64 in an 8-byte payload, both orders, signed and not. */
  allPositions(): MessageSpec[] {
    const messages: MessageSpec[] = []
    for (const byteOrder of ['little_endian', 'big_endian'] as const) {
      for (const isSigned of [false, true]) {
        for (let length = 1; length <= 64; length++) {
          const signals: SignalSpec[] = []
          for (let startBit = 0; startBit < 64; startBit++) {
            if (!fits(startBit, length, byteOrder, 8)) continue
            signals.push({ name: `S${startBit}`, startBit, length, byteOrder, isSigned })
          }
          messages.push({
            id: this.#id(false),
            isExtendedId: false,
            name: `Pos_${byteOrder === 'little_endian' ? 'I' : 'M'}${isSigned ? 's' : 'u'}${length}`,
            length: 8,
            signals,
          })
        }
      }
    }
    return messages
  }

  /** For each order and length, 12 random start bits in a 64-byte CAN FD payload. */
  fdPositions(): MessageSpec[] {
    const messages: MessageSpec[] = []
    for (const byteOrder of ['little_endian', 'big_endian'] as const) {
      for (let length = 1; length <= 64; length++) {
        const signals: SignalSpec[] = []
        const used = new Set<number>()
        while (signals.length < 12) {
          const startBit = this.#random.int(0, 511)
          if (used.has(startBit) || !fits(startBit, length, byteOrder, 64)) continue
          used.add(startBit)
          signals.push({
            name: `S${startBit}`,
            startBit,
            length,
            byteOrder,
            isSigned: this.#random.chance(0.5),
          })
        }
        messages.push({
          id: this.#id(true),
          isExtendedId: true,
          name: `Fd_${byteOrder === 'little_endian' ? 'I' : 'M'}${length}`,
          length: 64,
          fd: true,
          signals,
        })
      }
    }
    return messages
  }

  /** Float and double signals at random (also unaligned) places, scaled and not. */
  floats(count: number): MessageSpec[] {
    const messages: MessageSpec[] = []
    for (let i = 0; i < count; i++) {
      const length = this.#random.pick([8, 8, 16, 64])
      const signals: SignalSpec[] = []
      const taken = new Set<number>()
      for (let tries = 0; tries < 20 && signals.length < 4; tries++) {
        const valueType = this.#random.pick(['float32', 'float64'] as const)
        const bits = valueType === 'float32' ? 32 : 64
        const byteOrder = this.#random.pick(['little_endian', 'big_endian'] as const)
        const aligned = this.#random.chance(0.5)
        let startBit = this.#random.int(0, length * 8 - 1)
        if (aligned) startBit = byteOrder === 'little_endian' ? startBit & ~7 : startBit | 7
        if (!fits(startBit, bits, byteOrder, length)) continue
        const scaled = this.#random.chance(0.3)
        const spec: SignalSpec = {
          name: `F${signals.length}`,
          startBit,
          length: bits,
          byteOrder,
          isSigned: this.#random.chance(0.5),
          valueType,
          factor: scaled ? this.#random.pick([0.5, 2, 0.25]) : 1,
          offset: scaled ? this.#random.pick([0, 1.5, -8]) : 0,
        }
        const occupied = occupiedBits(spec)
        if (occupied.some((b) => taken.has(b))) continue
        for (const b of occupied) taken.add(b)
        signals.push(spec)
      }
      if (signals.length === 0) continue
      messages.push({
        id: this.#id(this.#random.chance(0.3)),
        isExtendedId: false,
        name: `Float${i}`,
        length,
        fd: length > 8,
        signals,
      })
      messages.at(-1)!.isExtendedId = messages.at(-1)!.id > 0x7ff
    }
    return messages
  }

  /** Random non-overlapping integer signals with scaling, classic and FD lengths. */
  randomMessages(count: number, options: { maxLength?: number } = {}): MessageSpec[] {
    const messages: MessageSpec[] = []
    for (let i = 0; i < count; i++) {
      const extended = this.#random.chance(0.4)
      const length = this.#random.chance(0.7)
        ? this.#random.int(1, 8)
        : this.#random.pick(FD_LENGTHS)
      const taken = new Set<number>()
      const signals = this.#fill(
        length,
        taken,
        this.#random.int(1, 12),
        'R',
        options.maxLength ?? 64,
      )
      if (signals.length === 0) continue
      messages.push({
        id: this.#id(extended),
        isExtendedId: extended,
        name: `Random${i}`,
        length,
        fd: length > 8,
        cycleTimeMs: this.#random.chance(0.5) ? this.#random.pick([10, 20, 100, 1000]) : undefined,
        signals,
      })
    }
    return messages
  }

  /** Simple multiplexing: an M signal and groups m0..m3 that may overlap each other. */
  multiplexed(count: number): MessageSpec[] {
    const messages: MessageSpec[] = []
    for (let i = 0; i < count; i++) {
      const length = this.#random.pick([8, 8, 16, 64])
      const taken = new Set<number>()
      const mux = this.#fill(length, taken, 1, 'Mux', 3)[0]!
      mux.multiplex = 'M'
      mux.isSigned = false
      mux.factor = 1
      mux.offset = 0
      const signals: SignalSpec[] = [mux, ...this.#fill(length, taken, 2, 'Always', 32)]
      for (let value = 0; value < 4; value++) {
        const group = this.#fill(length, new Set(taken), this.#random.int(1, 4), `G${value}_`, 40)
        for (const s of group) s.multiplex = value
        signals.push(...group)
      }
      messages.push({
        id: this.#id(false),
        isExtendedId: false,
        name: `Mux${i}`,
        length,
        fd: length > 8,
        signals,
      })
    }
    return messages
  }

  /**
   * Extended multiplexing (SG_MUL_VAL_): a top multiplexer whose values 1-2 select a second
   * multiplexer (m1M), whose value ranges select further signals.
   */
  extendedMultiplexed(count: number): MessageSpec[] {
    const messages: MessageSpec[] = []
    for (let i = 0; i < count; i++) {
      const length = this.#random.pick([8, 16])
      const taken = new Set<number>()
      const top = this.#fill(length, taken, 1, 'Top', 3)[0]!
      Object.assign(top, { multiplex: 'M', isSigned: false, factor: 1, offset: 0 })
      const sub = this.#fill(length, taken, 1, 'Sub', 3)[0]!
      Object.assign(sub, {
        multiplex: { value: 1, multiplexer: true },
        isSigned: false,
        factor: 1,
        offset: 0,
        extendedMultiplexing: { multiplexer: top.name, ranges: [[1, 2]] },
      })
      const signals: SignalSpec[] = [top, sub]
      const byTop = this.#fill(length, new Set(taken), 2, 'ByTop', 24)
      for (const s of byTop) {
        s.multiplex = 3
        s.extendedMultiplexing = {
          multiplexer: top.name,
          ranges: [
            [3, 3],
            [5, 6],
          ],
        }
      }
      signals.push(...byTop)
      const free = new Set(taken)
      for (const [j, ranges] of [[[0, 1]], [[2, 4]], [[6, 7]]].entries()) {
        const group = this.#fill(length, new Set(free), 2, `BySub${j}_`, 24)
        for (const s of group) {
          s.multiplex = ranges[0]![0]!
          s.extendedMultiplexing = { multiplexer: sub.name, ranges: ranges as [number, number][] }
        }
        signals.push(...group)
      }
      messages.push({
        id: this.#id(false),
        isExtendedId: false,
        name: `ExtMux${i}`,
        length,
        signals,
      })
    }
    return messages
  }

  #fill(
    length: number,
    taken: Set<number>,
    count: number,
    prefix: string,
    maxBits: number,
  ): SignalSpec[] {
    const signals: SignalSpec[] = []
    for (let tries = 0; tries < count * 20 && signals.length < count; tries++) {
      const bits = this.#random.chance(0.5)
        ? this.#random.int(1, Math.min(16, maxBits))
        : this.#random.int(1, maxBits)
      const byteOrder = this.#random.pick(['little_endian', 'big_endian'] as const)
      const startBit = this.#random.int(0, length * 8 - 1)
      if (!fits(startBit, bits, byteOrder, length)) continue
      const spec: SignalSpec = {
        name: `${prefix}${signals.length}`,
        startBit,
        length: bits,
        byteOrder,
        isSigned: this.#random.chance(0.4),
        factor: this.#random.pick(FACTORS),
        offset: this.#random.pick(OFFSETS),
      }
      if (bits <= 6 && this.#random.chance(0.5)) {
        spec.choices = [
          [0, 'Zero'],
          [1, 'One'],
          [spec.isSigned ? -1 : 3, 'Other'],
        ]
      }
      const occupied = occupiedBits(spec)
      if (occupied.some((b) => taken.has(b))) continue
      for (const b of occupied) taken.add(b)
      signals.push(spec)
    }
    return signals
  }

  /** Random payloads, plus all-zero and all-one ones. */
  frames(message: MessageSpec, count: number): FrameCase[] {
    const frames: FrameCase[] = [
      { message, data: new Uint8Array(message.length) },
      { message, data: new Uint8Array(message.length).fill(0xff) },
    ]
    for (let i = 0; i < count; i++)
      frames.push({ message, data: this.#random.bytes(message.length) })
    return frames
  }

  /**
   * Random raw values for the signals a frame carries, non-overlapping by construction
   * (the multiplexed kinds pick a multiplexer value and keep only what it selects).
   */
  encodeCase(message: MessageSpec): EncodeCase | undefined {
    const active = this.#activeSignals(message)
    if (active === undefined) return undefined
    const raw: Record<string, number | bigint> = {}
    let physicalRoundTrip = true
    for (const [s, fixed] of active) {
      if (s.valueType === 'float32' || s.valueType === 'float64') {
        const value = (this.#random.next() - 0.5) * 10 ** this.#random.int(-3, 6)
        raw[s.name] = s.valueType === 'float32' ? Math.fround(value) : value
        if ((s.factor ?? 1) !== 1 || (s.offset ?? 0) !== 0) physicalRoundTrip = false
        continue
      }
      if (s.length > 40) physicalRoundTrip = false
      if (fixed !== undefined) {
        raw[s.name] = fixed
        continue
      }
      const low = s.isSigned ? -(2n ** BigInt(s.length - 1)) : 0n
      const span = 2n ** BigInt(s.length)
      let value = low
      for (let b = 0; b < s.length; b += 16)
        value += BigInt(this.#random.int(0, 0xffff)) << BigInt(b)
      value = low + ((value - low) % span)
      raw[s.name] = s.length > 53 ? value : Number(value)
    }
    return { message, raw, physicalRoundTrip }
  }

  /** The signals present for a random choice of multiplexer values, with those values. */
  #activeSignals(message: MessageSpec): [SignalSpec, number | undefined][] | undefined {
    const byName = new Map(message.signals.map((s) => [s.name, s]))
    const chosen = new Map<string, number>()
    const selectorOf = (s: SignalSpec): [string, [number, number][]] | undefined => {
      if (s.extendedMultiplexing !== undefined)
        return [s.extendedMultiplexing.multiplexer, s.extendedMultiplexing.ranges]
      if (typeof s.multiplex === 'number') {
        const top = message.signals.find((t) => t.multiplex === 'M')!
        return [top.name, [[s.multiplex, s.multiplex]]]
      }
      return undefined
    }
    const present = (s: SignalSpec): boolean => {
      const selector = selectorOf(s)
      if (selector === undefined) return true
      const muxer = byName.get(selector[0])!
      if (!present(muxer)) return false
      const value = chosen.get(muxer.name)!
      return selector[1].some(([a, b]) => value >= a && value <= b)
    }
    for (const s of message.signals) {
      const isMux =
        s.multiplex === 'M' || (typeof s.multiplex === 'object' && s.multiplex.multiplexer)
      if (isMux) chosen.set(s.name, this.#random.int(0, Math.min(7, 2 ** s.length - 1)))
    }
    const active: [SignalSpec, number | undefined][] = []
    for (const s of message.signals) if (present(s)) active.push([s, chosen.get(s.name)])
    // Overlap is possible only between groups, which a single choice never mixes.
    const taken = new Set<number>()
    for (const [s] of active) {
      for (const b of occupiedBits(s)) {
        if (taken.has(b)) return undefined
        taken.add(b)
      }
    }
    return active
  }
}
