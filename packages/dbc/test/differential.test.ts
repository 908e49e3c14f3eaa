// Differential test against canmatrix (Debian's python3-canmatrix), a DBC implementation we
// did not write: generated databases and frames are decoded by both, and what we encode is
// decoded by canmatrix and compared with what canmatrix packs from the same raw values.
//
// Raw values must be identical. Physical values must be identical where the arithmetic is
// exact (factor 1, offset 0); elsewhere within a few ulp of the terms of raw * factor +
// offset, because canmatrix scales in 28-digit decimal while we (like cantools) compute in
// binary doubles, so 0.1 * 3 is 0.30000000000000004 here and 0.3 there.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { type Database, parseDbc, type SignalDefinition, type SignalValue } from '../src/index.ts'
import { runCanmatrix } from './support/canmatrix.ts'
import { type MessageSpec, writeDbc } from './support/dbc-writer.ts'
import { CaseGenerator, type EncodeCase, type FrameCase } from './support/generate-cases.ts'
import { Random } from './support/random.ts'

const SEED = Number(process.env['DBC_DIFF_SEED'] ?? 0x5eed_2026)
const work = mkdtempSync(join(tmpdir(), 'canbridge-dbc-diff-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

interface Mismatch {
  where: string
  ours: unknown
  theirs: unknown
}

function hex(data: Uint8Array): string {
  return Buffer.from(data).toString('hex')
}

function theirNumber(text: string): number {
  if (text === 'nan' || text === 'NaN') return Number.NaN
  if (text === 'inf' || text === 'Infinity') return Number.POSITIVE_INFINITY
  if (text === '-inf' || text === '-Infinity') return Number.NEGATIVE_INFINITY
  return Number(text)
}

function ulp(x: number): number {
  const a = Math.abs(x)
  if (a === 0 || !Number.isFinite(a)) return Number.MIN_VALUE
  return Math.max(2 ** (Math.floor(Math.log2(a)) - 52), Number.MIN_VALUE)
}

function sameRaw(signal: SignalDefinition, ours: SignalValue, theirs: string): boolean {
  if (signal.valueType !== 'integer') return Object.is(ours, theirNumber(theirs))
  return typeof ours !== 'string' && BigInt(ours) === BigInt(theirs)
}

function samePhysical(
  signal: SignalDefinition,
  ours: number,
  pair: readonly [string, string, ...unknown[]],
): boolean {
  const theirs = theirNumber(pair[1])
  if (Number.isNaN(theirs)) return Number.isNaN(ours)
  if (ours === theirs) return true
  const exact = signal.factor === 1 && signal.offset === 0
  if (exact) return false
  // The rounding error of raw * factor + offset in doubles is bounded by the terms' ulps.
  const product = theirNumber(pair[0]) * signal.factor
  return Math.abs(ours - theirs) <= 4 * (ulp(product) + ulp(signal.offset) + ulp(theirs))
}

function compareDecoded(
  db: Database,
  frames: FrameCase[],
  theirs: Record<string, [string, string, string | null]>[],
  mismatches: Mismatch[],
): { compared: number; namedCompared: number } {
  let compared = 0
  let namedCompared = 0
  frames.forEach((frame, i) => {
    const message = frame.message
    const input = {
      arbitrationId: message.id,
      isExtendedId: message.isExtendedId,
      data: frame.data,
    }
    const physical = db.decode(input)
    const raw = db.decode(input, { raw: true })
    const named = db.decode(input, { raw: true, choices: true })
    const where = `${message.name} data ${hex(frame.data)}`
    const their = theirs[i]!
    const ourNames = Object.keys(physical.signals).sort()
    const theirNames = Object.keys(their).sort()
    if (ourNames.join() !== theirNames.join()) {
      mismatches.push({ where: `${where}: signals present`, ours: ourNames, theirs: theirNames })
      return
    }
    const definition = db.getMessage(message.name)!
    for (const signal of definition.signals) {
      const pair = their[signal.name]
      if (pair === undefined) continue
      compared++
      const ourRaw = raw.signals[signal.name]!
      const ourPhysical = physical.signals[signal.name] as number
      if (!sameRaw(signal, ourRaw, pair[0])) {
        mismatches.push({
          where: `${where} ${signal.name} raw`,
          ours: String(ourRaw),
          theirs: pair[0],
        })
      } else if (!samePhysical(signal, ourPhysical, pair)) {
        mismatches.push({
          where: `${where} ${signal.name} physical`,
          ours: ourPhysical,
          theirs: pair[1],
        })
      } else if (signal.factor === 1 && signal.offset === 0) {
        // canmatrix looks VAL_ up by the physical value (a quirk: VAL_ keys are raw values),
        // so names are compared only where the two are the same.
        const ourName = named.signals[signal.name]
        const theirName = pair[2]
        if ((typeof ourName === 'string' ? ourName : null) !== theirName) {
          mismatches.push({
            where: `${where} ${signal.name} choice`,
            ours: ourName,
            theirs: theirName,
          })
        } else if (theirName !== null) {
          namedCompared++
        }
      }
    }
  })
  return { compared, namedCompared }
}

function differential(
  name: string,
  messages: MessageSpec[],
  framesPerMessage: number,
  random: Random,
) {
  const generator = new CaseGenerator(random)
  const text = writeDbc(messages)
  const db = parseDbc(text)
  expect(db.messages).toHaveLength(messages.length)
  const frames = messages.flatMap((m) => generator.frames(m, framesPerMessage))
  const encodeCases = messages
    .map((m) => generator.encodeCase(m))
    .filter((c): c is EncodeCase => c !== undefined)
  const ours = encodeCases.map((c) => db.encode(c.message.name, c.raw, { raw: true }))
  const oracle = runCanmatrix(work, name, text, {
    decode: [
      ...frames.map((f) => ({
        id: f.message.id,
        extended: f.message.isExtendedId,
        data: hex(f.data),
      })),
      ...encodeCases.map((c, i) => ({
        id: c.message.id,
        extended: c.message.isExtendedId,
        data: hex(ours[i]!),
      })),
    ],
    encode: encodeCases.map((c) => ({
      id: c.message.id,
      extended: c.message.isExtendedId,
      raw: Object.fromEntries(
        Object.entries(c.raw).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v]),
      ),
    })),
  })
  const mismatches: Mismatch[] = []
  const decodedTheirs = oracle.decode.slice(0, frames.length)
  const { compared, namedCompared } = compareDecoded(db, frames, decodedTheirs, mismatches)
  // What we encode: canmatrix packs the same bytes, and reads back the raw values given.
  encodeCases.forEach((c, i) => {
    const where = `${c.message.name} encode ${JSON.stringify(c.raw, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))}`
    if (hex(ours[i]!) !== oracle.encode[i]) {
      mismatches.push({ where: `${where}: bytes`, ours: hex(ours[i]!), theirs: oracle.encode[i] })
    }
    const readBack = oracle.decode[frames.length + i]!
    const definition = db.getMessage(c.message.name)!
    for (const [signalName, value] of Object.entries(c.raw)) {
      const signal = definition.signals.find((s) => s.name === signalName)!
      const pair = readBack[signalName]
      if (pair === undefined || !sameRaw(signal, value, pair[0])) {
        mismatches.push({
          where: `${where}: ${signalName} read back by canmatrix`,
          ours: String(value),
          theirs: pair?.[0],
        })
      }
    }
    // Physical values in: the same bytes out, where the physical value is exact enough.
    if (c.physicalRoundTrip) {
      const physical = Object.fromEntries(
        Object.entries(readBack).map(([k, [, phys]]) => [k, theirNumber(phys)]),
      )
      const again = db.encode(c.message.name, physical)
      if (hex(again) !== hex(ours[i]!)) {
        mismatches.push({
          where: `${where}: encoded from canmatrix's physical values`,
          ours: hex(again),
          theirs: hex(ours[i]!),
        })
      }
    }
  })
  return { compared, namedCompared, frames: frames.length, encoded: encodeCases.length, mismatches }
}

// Generous: each case starts Python and canmatrix reads thousands of signals.
describe(`decode and encode agree with canmatrix (seed ${SEED})`, { timeout: 180_000 }, () => {
  it('every start bit and length 1..64, both byte orders, signed and unsigned (8 bytes)', () => {
    const random = new Random(SEED)
    const result = differential('positions', new CaseGenerator(random).allPositions(), 6, random)
    expect(result.mismatches.slice(0, 10)).toEqual([])
    expect(result.compared).toBeGreaterThan(8000 * 8)
  })

  it('CAN FD payloads of 64 bytes: random start bits for every length and order', () => {
    const random = new Random(SEED + 1)
    const result = differential('fd', new CaseGenerator(random).fdPositions(), 6, random)
    expect(result.mismatches.slice(0, 10)).toEqual([])
    expect(result.compared).toBeGreaterThanOrEqual(128 * 12 * 8)
  })

  it('IEEE float and double signals (SIG_VALTYPE_), aligned and not, scaled and not', () => {
    const random = new Random(SEED + 2)
    const result = differential('floats', new CaseGenerator(random).floats(60), 8, random)
    expect(result.mismatches.slice(0, 10)).toEqual([])
    expect(result.encoded).toBeGreaterThan(50)
  })

  it('random messages with scaling, standard and extended ids, classic and FD lengths', () => {
    const random = new Random(SEED + 3)
    const result = differential('random', new CaseGenerator(random).randomMessages(300), 8, random)
    expect(result.mismatches.slice(0, 10)).toEqual([])
    expect(result.namedCompared).toBeGreaterThan(100)
    expect(result.encoded).toBeGreaterThan(250)
  })

  it('simple multiplexing (M / m<n>)', () => {
    const random = new Random(SEED + 4)
    const result = differential('mux', new CaseGenerator(random).multiplexed(80), 16, random)
    expect(result.mismatches.slice(0, 10)).toEqual([])
    expect(result.encoded).toBeGreaterThan(40)
  })

  it('extended multiplexing (SG_MUL_VAL_, a multiplexer selected by another)', () => {
    const random = new Random(SEED + 5)
    const result = differential(
      'extmux',
      new CaseGenerator(random).extendedMultiplexed(60),
      24,
      random,
    )
    expect(result.mismatches.slice(0, 10)).toEqual([])
    expect(result.encoded).toBeGreaterThan(30)
  })
})
