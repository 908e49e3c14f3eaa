// Turns a message definition into one JavaScript function that decodes its payload: every
// shift, mask, scale and the result object's shape are fixed when the DBC is loaded, so a
// frame costs a few integer operations per signal and one object. Only numbers checked to
// be finite and names quoted by JSON.stringify reach the generated source.
import { type BitChunk, planBits } from './bit-layout.ts'
import type { MessageDefinition, MultiplexerRange, SignalDefinition } from './model.ts'

/** A decoded signal: a number, a bigint for a raw integer wider than 53 bits, or a choice name. */
export type SignalValue = number | bigint | string

export type DecodeFunction = (data: Uint8Array) => Record<string, SignalValue>

export interface DecodeMode {
  /** raw values as on the bus (no factor/offset) */
  raw: boolean
  /** a choice's name instead of its value where `VAL_` names it */
  choices: boolean
}

/** Written by the generated code when a multiplexer's value selects none of its signals. */
export class MultiplexerMiss {
  /** index in the message's signals of the multiplexer, -1 when none missed */
  signal = -1
  value = 0
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/
const TWO_POW_32 = 4294967296

/**
 * Compiles a decoder of the signals that lie within the first `availableBytes` bytes (all of
 * them when that is the message length); a multiplexed signal whose multiplexer does not fit
 * is left out too.
 */
export function compileDecoder(
  message: MessageDefinition,
  mode: DecodeMode,
  availableBytes: number,
  miss: MultiplexerMiss,
): DecodeFunction {
  const signals = message.signals
  const index = new Map(signals.map((s, i) => [s.name, i]))
  const fits = signals.map(
    (s) => planBits(s.startBit, s.length, s.byteOrder).lastByte < availableBytes,
  )
  const children = new Map<number, number[]>()
  const roots: number[] = []
  signals.forEach((signal, i) => {
    if (!fits[i]) return
    if (signal.multiplexing === undefined) {
      roots.push(i)
      return
    }
    const parent = index.get(signal.multiplexing.multiplexer)!
    if (!fits[parent]) return
    const list = children.get(parent) ?? []
    list.push(i)
    children.set(parent, list)
  })
  const choiceMaps: (ReadonlyMap<number, string> | undefined)[] = signals.map((s) =>
    mode.choices ? s.choices : undefined,
  )
  const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
  const lines: string[] = []
  const extract = (i: number, pad: string) => {
    for (const line of extractionLines(signals[i]!, i, mode, littleEndianHost))
      lines.push(pad + line)
  }
  const fields = roots.map((i) => `${propertyKey(signals[i]!.name)}: v${i}`).join(', ')
  for (const i of roots) extract(i, '  ')
  if (children.size === 0) {
    lines.push(`  return { ${fields} }`)
  } else {
    // Unconditional signals go into the literal; multiplexed ones are added as they apply.
    lines.push(`  const o = { ${fields} }`)
    const emitDependents = (i: number, depth: number): void => {
      const dependents = children.get(i)
      if (dependents === undefined) return
      const pad = '  '.repeat(depth)
      // Signals with the same value ranges share one test.
      const groups = new Map<string, { ranges: readonly MultiplexerRange[]; members: number[] }>()
      for (const child of dependents) {
        const ranges = signals[child]!.multiplexing!.ranges
        const key = JSON.stringify(ranges)
        const group = groups.get(key) ?? { ranges, members: [] }
        group.members.push(child)
        groups.set(key, group)
      }
      const conditions: string[] = []
      for (const group of groups.values()) {
        const condition = rangeCondition(`r${i}`, group.ranges)
        conditions.push(condition)
        lines.push(`${pad}if (${condition}) {`)
        for (const member of group.members) {
          extract(member, `${pad}  `)
          lines.push(`${pad}  ${assignment(signals[member]!.name, `v${member}`)}`)
          emitDependents(member, depth + 1)
        }
        lines.push(`${pad}}`)
      }
      lines.push(
        `${pad}if (!(${conditions.join(' || ')})) { miss.signal = ${i}; miss.value = r${i} }`,
      )
    }
    for (const i of roots) emitDependents(i, 1)
    lines.push('  return o')
  }
  const source = `'use strict'\nreturn function decode(d) {\n${lines.join('\n')}\n}`
  // The source holds only numbers checked finite and names quoted by JSON.stringify.
  const factory = new Function('s', 'c', 'miss', 'defineValue', source) as (
    s: Scratch,
    c: typeof choiceMaps,
    m: MultiplexerMiss,
    define: typeof defineValue,
  ) => DecodeFunction
  return factory(new Scratch(), choiceMaps, miss, defineValue)
}

/** Typed-array views used to reinterpret 32 / 64 raw bits as an IEEE float. */
class Scratch {
  readonly buffer = new ArrayBuffer(8)
  readonly u32 = new Uint32Array(this.buffer)
  readonly f32 = new Float32Array(this.buffer)
  readonly f64 = new Float64Array(this.buffer)
}

function defineValue(o: object, name: string, value: SignalValue): void {
  Object.defineProperty(o, name, { value, enumerable: true, writable: true, configurable: true })
}

/**
 * Source lines that leave the signal's raw value as a number in `r<i>` and its result
 * (physical, raw or choice name, as the mode asks) in `v<i>`.
 */
function extractionLines(
  signal: SignalDefinition,
  i: number,
  mode: DecodeMode,
  littleEndianHost: boolean,
): string[] {
  const { chunks } = planBits(signal.startBit, signal.length, signal.byteOrder)
  const length = signal.length
  const lines: string[] = []
  let wideRaw: string | undefined
  if (length <= 32) {
    const bits = combine(chunks, 0)
    if (signal.valueType === 'float32') {
      lines.push(`s.u32[0] = ${bits}; const r${i} = s.f32[0]`)
    } else {
      lines.push(`const r${i} = ${word(bits, length, signal.isSigned)}`)
    }
  } else {
    const low = combine(
      chunks.filter((c) => c.valueBit < 32),
      0,
    )
    const high = combine(
      chunks.filter((c) => c.valueBit >= 32),
      32,
    )
    lines.push(`const l${i} = (${low}) >>> 0`)
    const signedHigh = signal.isSigned && signal.valueType === 'integer'
    lines.push(`const h${i} = ${word(high, length - 32, signedHigh)}`)
    if (signal.valueType === 'float64') {
      const [lo, hi] = littleEndianHost ? [0, 1] : [1, 0]
      lines.push(`s.u32[${lo}] = l${i}; s.u32[${hi}] = h${i}; const r${i} = s.f64[0]`)
    } else {
      // One rounding, to the double nearest the exact integer.
      lines.push(`const r${i} = h${i} * ${TWO_POW_32} + l${i}`)
      if (length > 53) wideRaw = `BigInt(h${i}) * ${TWO_POW_32}n + BigInt(l${i})`
    }
  }
  const raw = `r${i}`
  const value = mode.raw ? (wideRaw ?? raw) : scaled(raw, signal.factor, signal.offset)
  if (mode.choices && signal.choices !== undefined && signal.choices.size > 0) {
    lines.push(`const v${i} = c[${i}].get(${raw}) ?? ${value}`)
  } else {
    lines.push(`const v${i} = ${value}`)
  }
  return lines
}

/** A value of `bits` bits (1..32) held in `expression`, as a signed or unsigned number. */
function word(expression: string, bits: number, signed: boolean): string {
  if (bits === 32) return signed ? `(${expression}) | 0` : `(${expression}) >>> 0`
  // shifting the sign bit up to bit 31 and back extends it
  return signed ? `((${expression}) << ${32 - bits}) >> ${32 - bits}` : expression
}

/** OR of the chunks, each moved to its place in a 32-bit half starting at value bit `base`. */
function combine(chunks: readonly BitChunk[], base: number): string {
  const terms = chunks.map((chunk) => {
    let term = `d[${chunk.byte}]`
    if (chunk.shift > 0) term = `(${term} >>> ${chunk.shift})`
    if (chunk.shift + chunk.width < 8) term = `(${term} & ${(1 << chunk.width) - 1})`
    const to = chunk.valueBit - base
    return to > 0 ? `(${term} << ${to})` : term
  })
  return terms.length === 0 ? '0' : terms.join(' | ')
}

function scaled(raw: string, factor: number, offset: number): string {
  let expression = raw
  if (factor !== 1) expression = `${raw} * ${numberLiteral(factor)}`
  if (offset !== 0 || Object.is(offset, -0)) expression = `${expression} + ${numberLiteral(offset)}`
  return expression
}

function numberLiteral(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`)
  if (Object.is(value, -0)) return '(-0)'
  return value < 0 ? `(${String(value)})` : String(value)
}

function rangeCondition(variable: string, ranges: readonly MultiplexerRange[]): string {
  return ranges
    .map(([low, high]) =>
      low === high
        ? `${variable} === ${numberLiteral(low)}`
        : `(${variable} >= ${numberLiteral(low)} && ${variable} <= ${numberLiteral(high)})`,
    )
    .join(' || ')
}

function propertyKey(name: string): string {
  // A literal `__proto__:` would set the prototype; a computed key defines a property.
  return IDENTIFIER.test(name) && name !== '__proto__' ? name : `[${JSON.stringify(name)}]`
}

function assignment(name: string, value: string): string {
  if (name === '__proto__') return `defineValue(o, "__proto__", ${value})`
  return IDENTIFIER.test(name) ? `o.${name} = ${value}` : `o[${JSON.stringify(name)}] = ${value}`
}
