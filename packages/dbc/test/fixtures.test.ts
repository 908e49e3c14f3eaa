// Real DBC files (see fixtures/SOURCES.md) decoded as cantools decodes them: the expected
// values in fixtures/cantools-expected.json were produced by cantools 42.0.3 (its source, run
// by hand once), not by this package.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type Database, DECODE_NOTE, parseDbcBytes } from '../src/index.ts'

interface ExpectedCase {
  message: string
  id: number
  extended: boolean
  data: string
  physical?: Record<string, string>
  raw?: Record<string, string>
  choices?: Record<string, string>
  cantoolsError?: string
}

const dir = join(import.meta.dirname, 'fixtures')
const expected = JSON.parse(readFileSync(join(dir, 'cantools-expected.json'), 'utf8')) as Record<
  string,
  ExpectedCase[]
>

function load(file: string): Database {
  return parseDbcBytes(readFileSync(join(dir, file)))
}

function number(text: string): number {
  if (text === 'nan') return Number.NaN
  if (text === 'inf') return Number.POSITIVE_INFINITY
  if (text === '-inf') return Number.NEGATIVE_INFINITY
  return Number(text)
}

describe('real DBC files decode as cantools decodes them', () => {
  for (const [file, cases] of Object.entries(expected)) {
    it(file, () => {
      const db = load(file)
      let compared = 0
      for (const c of cases) {
        const frame = {
          arbitrationId: c.id,
          isExtendedId: c.extended,
          data: Uint8Array.from(Buffer.from(c.data, 'hex')),
        }
        const physical = db.decode(frame)
        expect(physical.name).toBe(c.message)
        if (c.cantoolsError !== undefined) {
          // cantools refuses the frame (a multiplexer value with no signals): we say so
          expect(physical.note?.code, `${c.message} ${c.data}: ${c.cantoolsError}`).toBe(
            DECODE_NOTE.UNKNOWN_MULTIPLEXER_VALUE,
          )
          continue
        }
        expect(physical.note).toBeUndefined()
        const raw = db.decode(frame, { raw: true })
        const choices = db.decode(frame, { choices: true })
        expect(Object.keys(physical.signals).sort()).toEqual(Object.keys(c.physical!).sort())
        for (const [name, value] of Object.entries(c.physical!)) {
          const where = `${file} ${c.message}.${name} data ${c.data}`
          expect(physical.signals[name], where).toBe(number(value))
          const ourRaw = raw.signals[name]
          if (typeof ourRaw === 'bigint') expect(String(ourRaw), where).toBe(c.raw![name])
          else expect(ourRaw, where).toBe(number(c.raw![name]!))
          const choice = c.choices![name]!
          const ourChoice = choices.signals[name]
          expect(typeof ourChoice === 'string' ? ourChoice : ourChoice, where).toBe(
            typeof ourChoice === 'string' ? choice : number(choice),
          )
          compared++
        }
      }
      expect(compared).toBeGreaterThan(0)
    })
  }
})

describe('what the real files declare', () => {
  it('motohawk: Motorola signals, choices, comments, senders and receivers', () => {
    const db = load('cantools-motohawk.dbc')
    const message = db.getMessage('ExampleMessage')!
    expect(message.id).toBe(496)
    expect(message.senders).toEqual(['PCM1'])
    expect(message.comment).toBe('Example message used as template in MotoHawk models.')
    const temperature = message.signals.find((s) => s.name === 'Temperature')!
    expect(temperature).toMatchObject({
      startBit: 0,
      length: 12,
      byteOrder: 'big_endian',
      isSigned: true,
      factor: 0.01,
      offset: 250,
      minimum: 229.52,
      maximum: 270.47,
      unit: 'degK',
      receivers: ['PCM1', 'FOO'],
    })
    const enable = message.signals.find((s) => s.name === 'Enable')!
    expect([...enable.choices!]).toEqual([
      [0, 'Disabled'],
      [1, 'Enabled'],
    ])
    expect(db.nodes.map((n) => n.name)).toEqual(['PCM1', 'FOO'])
  })

  it('fd_test: VFrameFormat gives FD and extended frames', () => {
    const db = load('cantools-fd_test.dbc')
    const fd = db.getMessage('TestMsg_FDEx')!
    expect(fd.isExtendedId).toBe(true)
    expect(fd.id).toBe(0)
    expect(fd.isFd).toBe(true)
    expect(fd.attributes.get('VFrameFormat')).toBe('ExtendedCAN_FD')
    expect(db.getMessage('TestMsg_Std')!.isFd).toBe(false)
    expect(db.getMessage('TestMsg_FDStd')!.isFd).toBe(true)
  })

  it('floating_point: SIG_VALTYPE_ double and float', () => {
    const db = load('cantools-floating_point.dbc')
    expect(db.getMessage('Message1')!.signals[0]!.valueType).toBe('float64')
    expect(db.getMessage('Message2')!.signals.map((s) => s.valueType)).toEqual([
      'float32',
      'float32',
    ])
  })

  it('abs: attribute definitions, defaults and values', () => {
    const db = load('cantools-abs.dbc')
    expect(db.attributes.get('BusType')).toBe('CAN')
    const definition = db.attributeDefinitions.find((d) => d.name === 'GenMsgCycleTime')!
    expect(definition).toMatchObject({
      objectType: 'message',
      type: 'INT',
      minimum: 1,
      maximum: 3000,
      default: 10,
    })
    // A message without its own GenMsgCycleTime gets the default of 10 ms.
    const withDefault = db.messages.find((m) => m.attributes.get('GenMsgCycleTime') === 10)
    expect(withDefault?.cycleTimeMs).toBe(10)
  })

  it('issue_184 cascaded: extended multiplexing read from SG_MUL_VAL_', () => {
    const db = load('cantools-issue_184_extended_mux_cascaded.dbc')
    const multiplexed = db.messages.flatMap((m) => m.signals).filter((s) => s.multiplexing)
    expect(multiplexed.length).toBeGreaterThan(0)
    for (const signal of multiplexed) expect(signal.multiplexing!.ranges.length).toBeGreaterThan(0)
  })

  it('long_names: the names kept in SystemSignalLongSymbol / SystemMessageLongSymbol', () => {
    const db = load('cantools-long_names.dbc')
    expect(db.messages.some((m) => m.name.length > 32)).toBe(true)
    expect(db.messages.flatMap((m) => m.signals).some((s) => s.name.length > 32)).toBe(true)
  })
})
