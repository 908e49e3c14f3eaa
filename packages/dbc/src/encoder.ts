// Signal values → payload for one message, with its bit plan made once: physical values are
// checked against minimum..maximum, scaled, rounded as cantools does, and checked to fit.
import { type BitChunk, planBits } from './bit-layout.ts'
import { DBC_ERROR_CODE, DbcError } from './errors.ts'
import type { MessageDefinition, SignalDefinition } from './model.ts'

export type EncodeValue = number | bigint | string

export interface EncodeOptions {
  /** values are raw (as on the bus), not physical; default false */
  raw?: boolean | undefined
  /** refuse a physical value outside the signal's [minimum|maximum]; default true */
  checkRange?: boolean | undefined
}

interface SignalPlan {
  signal: SignalDefinition
  chunks: readonly BitChunk[]
  /** index of the multiplexer in `plans`, -1 when always present */
  multiplexer: number
  /** smallest and largest raw integer the bits hold */
  rawMin: number
  rawMax: number
  choiceByName: ReadonlyMap<string, number> | undefined
}

const TWO_POW_32 = 4294967296

export class MessageEncoder {
  readonly #message: MessageDefinition
  /** multiplexers before the signals they select */
  readonly #plans: SignalPlan[]
  readonly #known: ReadonlySet<string>
  readonly #buffer = new ArrayBuffer(8)
  readonly #u32 = new Uint32Array(this.#buffer)
  readonly #f32 = new Float32Array(this.#buffer)
  readonly #f64 = new Float64Array(this.#buffer)
  readonly #lowWord: number
  readonly #highWord: number

  constructor(message: MessageDefinition) {
    this.#message = message
    this.#known = new Set(message.signals.map((s) => s.name))
    // A signal past the message's end (parsed with strict: false) is never encoded.
    const inside = message.signals.filter(
      (s) => planBits(s.startBit, s.length, s.byteOrder).lastByte < message.length,
    )
    const ordered = orderByMultiplexer(inside)
    const position = new Map(ordered.map((s, i) => [s.name, i]))
    this.#plans = ordered.map((signal) => {
      const bits = signal.length
      return {
        signal,
        chunks: planBits(signal.startBit, bits, signal.byteOrder).chunks,
        multiplexer:
          signal.multiplexing === undefined ? -1 : position.get(signal.multiplexing.multiplexer)!,
        rawMin: signal.isSigned ? -(2 ** (bits - 1)) : 0,
        rawMax: signal.isSigned ? 2 ** (bits - 1) - 1 : 2 ** bits - 1,
        choiceByName:
          signal.choices === undefined
            ? undefined
            : new Map([...signal.choices].map(([value, name]) => [name, value])),
      }
    })
    const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
    this.#lowWord = littleEndianHost ? 0 : 1
    this.#highWord = littleEndianHost ? 1 : 0
  }

  encode(values: Readonly<Record<string, EncodeValue>>, options: EncodeOptions = {}): Uint8Array {
    const message = this.#message
    for (const name in values) {
      if (!this.#known.has(name)) {
        throw new DbcError(
          DBC_ERROR_CODE.UNKNOWN_SIGNAL,
          `message ${message.name} has no signal ${name} (it has ${[...this.#known].join(', ') || 'none'})`,
        )
      }
    }
    const raw = options.raw === true
    const checkRange = options.checkRange !== false
    const data = new Uint8Array(message.length)
    const rawValues: number[] = new Array(this.#plans.length)
    const present: boolean[] = new Array(this.#plans.length)
    for (let i = 0; i < this.#plans.length; i++) {
      const plan = this.#plans[i]!
      const signal = plan.signal
      present[i] =
        plan.multiplexer < 0 ||
        (present[plan.multiplexer]! &&
          selects(signal.multiplexing!.ranges, rawValues[plan.multiplexer]!))
      if (!present[i]) continue
      const given = values[signal.name]
      if (given === undefined) {
        throw new DbcError(
          DBC_ERROR_CODE.MISSING_SIGNAL,
          `message ${message.name}: no value for signal ${signal.name}${plan.multiplexer >= 0 ? ` (selected by ${signal.multiplexing!.multiplexer} = ${rawValues[plan.multiplexer]})` : ''}`,
        )
      }
      const value = this.#rawValue(plan, given, raw, checkRange)
      rawValues[i] = typeof value === 'bigint' ? Number(value) : value
      this.#write(plan, value, data)
    }
    return data
  }

  #rawValue(
    plan: SignalPlan,
    given: EncodeValue,
    raw: boolean,
    checkRange: boolean,
  ): number | bigint {
    const signal = plan.signal
    const where = `${this.#message.name}.${signal.name}`
    if (typeof given === 'string') {
      const choice = plan.choiceByName?.get(given)
      if (choice === undefined) {
        const names =
          plan.choiceByName === undefined ? 'none' : [...plan.choiceByName.keys()].join(', ')
        throw new DbcError(
          DBC_ERROR_CODE.BAD_VALUE,
          `${where}: no choice named ${JSON.stringify(given)} (choices: ${names})`,
        )
      }
      return this.#checkRaw(plan, choice, where)
    }
    if (typeof given === 'bigint') {
      if (!raw || signal.valueType !== 'integer') {
        throw new DbcError(
          DBC_ERROR_CODE.BAD_VALUE,
          `${where}: a bigint is accepted only as a raw integer value (encode with { raw: true })`,
        )
      }
      const min = signal.isSigned ? -(1n << BigInt(signal.length - 1)) : 0n
      const max = signal.isSigned
        ? (1n << BigInt(signal.length - 1)) - 1n
        : (1n << BigInt(signal.length)) - 1n
      if (given < min || given > max) {
        throw new DbcError(
          DBC_ERROR_CODE.OUT_OF_RANGE,
          `${where}: raw value ${given} does not fit ${signal.length} ${signal.isSigned ? 'signed' : 'unsigned'} bits (${min}..${max})`,
        )
      }
      return given
    }
    if (typeof given !== 'number' || !Number.isFinite(given)) {
      throw new DbcError(
        DBC_ERROR_CODE.BAD_VALUE,
        `${where}: ${String(given)} is not a finite number`,
      )
    }
    if (raw) {
      if (signal.valueType !== 'integer') return this.#checkFloat(plan, given, where)
      if (!Number.isInteger(given)) {
        throw new DbcError(
          DBC_ERROR_CODE.BAD_VALUE,
          `${where}: raw value ${given} is not an integer`,
        )
      }
      return this.#checkRaw(plan, given, where)
    }
    if (checkRange && signal.minimum !== undefined && signal.maximum !== undefined) {
      if (given < signal.minimum || given > signal.maximum) {
        throw new DbcError(
          DBC_ERROR_CODE.OUT_OF_RANGE,
          `${where}: ${given} is outside ${signal.minimum}..${signal.maximum}${signal.unit ? ` ${signal.unit}` : ''}`,
        )
      }
    }
    const unscaled = (given - signal.offset) / signal.factor
    if (signal.valueType !== 'integer') return this.#checkFloat(plan, unscaled, where)
    return this.#checkRaw(plan, roundHalfEven(unscaled), where, given)
  }

  #checkRaw(plan: SignalPlan, value: number, where: string, physical?: number): number {
    if (!Number.isFinite(value) || value < plan.rawMin || value > plan.rawMax) {
      const signal = plan.signal
      const bits = `${signal.length} ${signal.isSigned ? 'signed' : 'unsigned'} bits`
      const low = plan.rawMin * signal.factor + signal.offset
      const high = plan.rawMax * signal.factor + signal.offset
      throw new DbcError(
        DBC_ERROR_CODE.OUT_OF_RANGE,
        physical === undefined
          ? `${where}: raw value ${value} does not fit ${bits} (${plan.rawMin}..${plan.rawMax})`
          : `${where}: ${physical} is raw ${value}, which does not fit ${bits} (physical ${Math.min(low, high)}..${Math.max(low, high)})`,
      )
    }
    return value
  }

  #checkFloat(plan: SignalPlan, value: number, where: string): number {
    if (!Number.isFinite(value)) {
      throw new DbcError(
        DBC_ERROR_CODE.OUT_OF_RANGE,
        `${where}: ${value} is not a finite raw value`,
      )
    }
    if (plan.signal.valueType === 'float32' && !Number.isFinite(Math.fround(value))) {
      throw new DbcError(
        DBC_ERROR_CODE.OUT_OF_RANGE,
        `${where}: ${value} is too large for a 32-bit float`,
      )
    }
    return value
  }

  #write(plan: SignalPlan, value: number | bigint, data: Uint8Array): void {
    let low: number
    let high: number
    const type = plan.signal.valueType
    if (typeof value === 'bigint') {
      low = Number(BigInt.asUintN(32, value))
      high = Number(BigInt.asUintN(32, value >> 32n))
    } else if (type === 'float32') {
      this.#f32[0] = value
      low = this.#u32[0]!
      high = 0
    } else if (type === 'float64') {
      this.#f64[0] = value
      low = this.#u32[this.#lowWord]!
      high = this.#u32[this.#highWord]!
    } else {
      // ToUint32 takes an integer modulo 2^32 exactly: two's complement for negatives.
      low = value >>> 0
      high = Math.floor(value / TWO_POW_32) >>> 0
    }
    for (const chunk of plan.chunks) {
      const source = chunk.valueBit < 32 ? low >>> chunk.valueBit : high >>> (chunk.valueBit - 32)
      const mask = (1 << chunk.width) - 1
      const byte = chunk.byte
      data[byte] = (data[byte]! & ~(mask << chunk.shift)) | ((source & mask) << chunk.shift)
    }
  }
}

function selects(ranges: readonly (readonly [number, number])[], value: number): boolean {
  for (const [low, high] of ranges) if (value >= low && value <= high) return true
  return false
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(value: number): number {
  const floor = Math.floor(value)
  const diff = value - floor
  if (diff < 0.5) return floor
  if (diff > 0.5) return floor + 1
  return floor % 2 === 0 ? floor : floor + 1
}

/** Signals in an order where each multiplexer comes before those it selects. */
function orderByMultiplexer(signals: readonly SignalDefinition[]): SignalDefinition[] {
  const byName = new Map(signals.map((s) => [s.name, s]))
  const ordered: SignalDefinition[] = []
  const placed = new Set<string>()
  const place = (signal: SignalDefinition) => {
    if (placed.has(signal.name)) return
    placed.add(signal.name)
    const parent = signal.multiplexing?.multiplexer
    if (parent !== undefined) place(byName.get(parent)!)
    ordered.push(signal)
  }
  for (const signal of signals) place(signal)
  return ordered
}
