// Fuzz: random text and mutations of valid DBC files (our fixtures and generated ones) must
// either parse or throw a DbcError, nothing else; whatever parses must decode any frame of
// any length without throwing, and encode must throw nothing but DbcError.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type Database, DbcError, parseDbc } from '../src/index.ts'
import { writeDbc } from './support/dbc-writer.ts'
import { CaseGenerator } from './support/generate-cases.ts'
import { Random } from './support/random.ts'

const SEED = Number(process.env['DBC_FUZZ_SEED'] ?? 0xf022)
/** DBC_FUZZ_SCALE=20 runs twenty times as many inputs (a long local run) */
const SCALE = Number(process.env['DBC_FUZZ_SCALE'] ?? 1)
const fixtures = join(import.meta.dirname, 'fixtures')
const generator = new CaseGenerator(new Random(SEED))
const corpus: string[] = [
  ...readdirSync(fixtures)
    .filter((f) => f.endsWith('.dbc'))
    .map((f) => readFileSync(join(fixtures, f), 'latin1')),
  writeDbc(generator.multiplexed(3)),
  writeDbc(generator.extendedMultiplexed(3)),
  writeDbc(generator.floats(3)),
  writeDbc(generator.randomMessages(5)),
].map((text) => (text.length > 6000 ? text.slice(0, 6000) : text))

/** Pieces that make mutations likely to stay close to DBC (and reach deeper code). */
const DBC_PIECES = [
  'BO_ ',
  ' SG_ ',
  'CM_ ',
  'BA_ ',
  'BA_DEF_ ',
  'BA_DEF_DEF_ ',
  'VAL_ ',
  'SIG_VALTYPE_ ',
  'SG_MUL_VAL_ ',
  'BO_TX_BU_ ',
  'BU_: ',
  'NS_ :',
  ' M ',
  ' m1 ',
  ' m2M ',
  ':',
  ';',
  '|',
  '@0+',
  '@1-',
  '(',
  ')',
  '[',
  ']',
  '"',
  '\\"',
  ',',
  '-',
  '0',
  '1',
  '8',
  '64',
  '65',
  '4294967295',
  '2147483648',
  '3221225472',
  '1e308',
  '-1e308',
  '0.1',
  'NaN',
  '\n',
  '\r\n',
  ' ',
  '\t',
  '__proto__',
  'constructor',
  '0-0',
  '1-3',
  'INT',
  'ENUM',
  '"a","b"',
  'Vector__XXX',
  '//',
  '\u00e9',
  '\u0000',
]

function mutate(
  text: string,
  edits: { at: number; kind: number; piece: string; length: number }[],
): string {
  let out = text
  for (const edit of edits) {
    const at = Math.floor(edit.at * (out.length + 1))
    switch (edit.kind) {
      case 0: // insert a piece
        out = out.slice(0, at) + edit.piece + out.slice(at)
        break
      case 1: // delete a run
        out = out.slice(0, at) + out.slice(at + edit.length)
        break
      case 2: // replace a run with a piece
        out = out.slice(0, at) + edit.piece + out.slice(at + edit.length)
        break
      case 3: // duplicate a run
        out = out.slice(0, at) + out.slice(at, at + edit.length * 8) + out.slice(at)
        break
      default: // cut the file short
        out = out.slice(0, at)
    }
  }
  return out
}

/** Parses, then exercises the result; returns what happened, throws on any foreign error. */
function exercise(text: string, frames: Uint8Array[]): 'parsed' | 'refused' {
  let db: Database
  try {
    db = parseDbc(text)
  } catch (error) {
    if (error instanceof DbcError && error.line !== undefined && error.line >= 1) return 'refused'
    throw error
  }
  for (const message of db.messages) {
    for (const data of frames) {
      for (const options of [undefined, { raw: true }, { choices: true }]) {
        const decoded = db.decode(
          { arbitrationId: message.id, isExtendedId: message.isExtendedId, data },
          options,
        )
        if (decoded.name !== message.name)
          throw new Error(`decoded ${message.name} as ${decoded.name}`)
      }
    }
    const values: Record<string, number> = {}
    for (const signal of message.signals) values[signal.name] = 1
    try {
      db.encode(message.name, values)
    } catch (error) {
      if (!(error instanceof DbcError)) throw error
    }
  }
  return 'parsed'
}

const frameArbitrary = fc.array(fc.uint8Array({ minLength: 0, maxLength: 70 }), {
  minLength: 1,
  maxLength: 3,
})

describe(`fuzz (seed ${SEED}): only a Database or a DbcError`, { timeout: 600_000 }, () => {
  it('mutated DBC files', () => {
    const outcomes = { parsed: 0, refused: 0 }
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: corpus.length - 1 }),
        fc.array(
          fc.record({
            at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
            kind: fc.integer({ min: 0, max: 4 }),
            piece: fc.constantFrom(...DBC_PIECES),
            length: fc.integer({ min: 1, max: 12 }),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        frameArbitrary,
        (index, edits, frames) => {
          outcomes[exercise(mutate(corpus[index]!, edits), frames)]++
        },
      ),
      { seed: SEED, numRuns: 1500 * SCALE },
    )
    // Both paths were taken: the mutations are neither all fatal nor all harmless.
    expect(outcomes.parsed).toBeGreaterThan(100)
    expect(outcomes.refused).toBeGreaterThan(100)
  })

  it('random text built from DBC pieces', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...DBC_PIECES), { maxLength: 60 }),
        frameArbitrary,
        (pieces, frames) => {
          exercise(pieces.join(''), frames)
        },
      ),
      { seed: SEED, numRuns: 3000 * SCALE },
    )
  })

  it('random unicode text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        exercise(text, [new Uint8Array(8)])
      }),
      { seed: SEED, numRuns: 2000 * SCALE },
    )
  })
})
