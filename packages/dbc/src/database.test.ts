import { describe, expect, it } from 'vitest'
import { DBC_ERROR_CODE, DbcError, DECODE_NOTE, parseDbc } from './index.ts'

// Expected payloads below are worked out by hand from the DBC definitions (Vector's bit
// numbering); the differential test covers the rest against canmatrix.
const DBC = `BU_: Engine
BO_ 256 EngineCmd: 8 Engine
 SG_ Torque : 0|16@1- (0.1,0) [-3000|3000] "Nm" Engine
 SG_ Mode : 16|2@1+ (1,0) [0|3] "" Engine
 SG_ Rpm : 31|16@0+ (1,0) [0|8000] "rpm" Engine
 SG_ Temp : 48|8@1+ (1,-40) [-40|215] "degC" Engine
 SG_ Wide : 56|8@1+ (1,0) [0|0] "" Engine

BO_ 2147484160 Mux: 8 Engine
 SG_ Sel M : 0|8@1+ (1,0) [0|0] "" Engine
 SG_ A m1 : 8|16@1+ (1,0) [0|0] "" Engine
 SG_ B m2 : 8|8@1- (1,0) [0|0] "" Engine

BO_ 768 Big: 16 Engine
 SG_ U64 : 0|64@1+ (1,0) [0|0] "" Engine
 SG_ S64 : 64|64@1- (1,0) [0|0] "" Engine

BO_ 769 Floats: 12 Engine
 SG_ F32 : 0|32@1- (1,0) [0|0] "" Engine
 SG_ F64 : 39|64@0- (2,1) [0|0] "" Engine

VAL_ 256 Mode 0 "Off" 1 "Idle" 2 "Run" ;
SIG_VALTYPE_ 769 F32 : 1;
SIG_VALTYPE_ 769 F64 : 2;
`

const db = parseDbc(DBC)

describe('decode', () => {
  it('decodes Intel and Motorola, signed and scaled signals', () => {
    // Torque -12.5 Nm = raw -125 = 0xff83 (Intel: 83 ff); Mode 2; Rpm 0x1234 Motorola from
    // bit 31 (bytes 3, 4 = 12 34); Temp 90 degC = raw 130 = 0x82; Wide 0xff.
    const data = Uint8Array.from([0x83, 0xff, 0x02, 0x12, 0x34, 0x00, 0x82, 0xff])
    const decoded = db.decode({ arbitrationId: 256, isExtendedId: false, data })
    expect(decoded).toEqual({
      name: 'EngineCmd',
      message: db.getMessage('EngineCmd'),
      signals: { Torque: -12.5, Mode: 2, Rpm: 0x1234, Temp: 90, Wide: 255 },
      note: undefined,
    })
    expect(db.decode({ arbitrationId: 256, data }, { raw: true }).signals).toEqual({
      Torque: -125,
      Mode: 2,
      Rpm: 0x1234,
      Temp: 130,
      Wide: 255,
    })
    expect(db.decode({ arbitrationId: 256, data }, { choices: true }).signals['Mode']).toBe('Run')
  })

  it('accepts any frame-shaped object (CanMessage of server-bus, plain arrays)', () => {
    const decoded = db.decode({
      arbitrationId: 256,
      isExtendedId: false,
      data: [0, 0, 0, 0, 0, 40, 0, 0],
      dlc: 8,
    } as never)
    expect(decoded.signals['Temp']).toBe(-40)
  })

  it('decodes multiplexed signals by the multiplexer value', () => {
    const frame = (sel: number) => ({
      arbitrationId: 512,
      isExtendedId: true,
      data: Uint8Array.from([sel, 0xfe, 0x01, 0, 0, 0, 0, 0]),
    })
    expect(db.decode(frame(1)).signals).toEqual({ Sel: 1, A: 0x01fe })
    expect(db.decode(frame(2)).signals).toEqual({ Sel: 2, B: -2 })
    const unknown = db.decode(frame(9))
    expect(unknown.signals).toEqual({ Sel: 9 })
    expect(unknown.note).toEqual({
      code: DECODE_NOTE.UNKNOWN_MULTIPLEXER_VALUE,
      detail: 'Mux: Sel = 9 selects no signal',
    })
    // the note of one frame does not stick to the next
    expect(db.decode(frame(1)).note).toBeUndefined()
  })

  it('64-bit integers: physical as the nearest double, raw exact as bigint', () => {
    const data = new Uint8Array(16).fill(0xff)
    data[15] = 0x7f
    const physical = db.decode({ arbitrationId: 768, data })
    expect(physical.signals).toEqual({ U64: 2 ** 64, S64: 2 ** 63 })
    const raw = db.decode({ arbitrationId: 768, data }, { raw: true })
    expect(raw.signals).toEqual({ U64: 2n ** 64n - 1n, S64: 2n ** 63n - 1n })
  })

  it('float and double signals, Motorola double at an odd place', () => {
    const data = new Uint8Array(12)
    new DataView(data.buffer).setFloat32(0, -1.5, true)
    // F64 Motorola from bit 39: bytes 4..11 big-endian
    new DataView(data.buffer).setFloat64(4, Math.PI, false)
    expect(db.decode({ arbitrationId: 769, data }).signals).toEqual({
      F32: -1.5,
      F64: Math.PI * 2 + 1,
    })
  })

  it('unknown id and wrong length give a note, never a throw', () => {
    const unknown = db.decode({
      arbitrationId: 0x7ff,
      isExtendedId: false,
      data: new Uint8Array(8),
    })
    expect(unknown).toEqual({
      name: undefined,
      message: undefined,
      signals: {},
      note: { code: DECODE_NOTE.UNKNOWN_ID, detail: 'no message with id 0x7ff' },
    })
    // the extended id space is separate
    expect(
      db.decode({ arbitrationId: 256, isExtendedId: true, data: new Uint8Array(8) }).note?.code,
    ).toBe(DECODE_NOTE.UNKNOWN_ID)
    const short = db.decode({ arbitrationId: 256, data: Uint8Array.from([0x83, 0xff, 0x01]) })
    expect(short.note).toEqual({
      code: DECODE_NOTE.WRONG_LENGTH,
      detail: 'EngineCmd: 3 bytes, expected 8',
    })
    // what lies within the bytes received is decoded
    expect(short.signals).toEqual({ Torque: -12.5, Mode: 1 })
    const long = db.decode({ arbitrationId: 256, data: new Uint8Array(12) })
    expect(long.note?.code).toBe(DECODE_NOTE.WRONG_LENGTH)
    expect(Object.keys(long.signals)).toEqual(['Torque', 'Mode', 'Rpm', 'Temp', 'Wide'])
    expect(db.decode({ arbitrationId: 256, data: new Uint8Array(0) }).signals).toEqual({})
  })

  it('a CAN FD payload padded to the next FD length is not a wrong length', () => {
    const fd = parseDbc('BO_ 1 A: 10 X\n SG_ S : 72|8@1+ (1,0) [0|0] "" X\n')
    const data = new Uint8Array(12)
    data[9] = 7
    expect(fd.decode({ arbitrationId: 1, data })).toMatchObject({
      signals: { S: 7 },
      note: undefined,
    })
    expect(fd.decode({ arbitrationId: 1, data: new Uint8Array(16) }).note?.code).toBe(
      DECODE_NOTE.WRONG_LENGTH,
    )
  })

  it('a signal named __proto__ is a plain property', () => {
    const odd = parseDbc(
      'BO_ 1 A: 2 X\n SG_ __proto__ M : 0|8@1+ (1,0) [0|0] "" X\n SG_ constructor m1 : 8|8@1+ (1,0) [0|0] "" X\n',
    )
    const decoded = odd.decode({ arbitrationId: 1, data: Uint8Array.from([1, 7]) })
    expect(Object.getPrototypeOf(decoded.signals)).toBe(Object.prototype)
    expect(Object.entries(decoded.signals)).toEqual([
      ['__proto__', 1],
      ['constructor', 7],
    ])
  })
})

describe('encode', () => {
  it('encodes physical values into the payload', () => {
    const data = db.encode('EngineCmd', {
      Torque: -12.5,
      Mode: 'Run',
      Rpm: 0x1234,
      Temp: 90,
      Wide: 255,
    })
    expect(data).toEqual(Uint8Array.from([0x83, 0xff, 0x02, 0x12, 0x34, 0x00, 0x82, 0xff]))
    expect(db.encode(256, { Torque: 0, Mode: 0, Rpm: 0, Temp: -40, Wide: 0 })).toEqual(
      new Uint8Array(8),
    )
  })

  it('rounds to the nearest raw value, halves to even as cantools does', () => {
    const base = { Mode: 0, Rpm: 0, Temp: -40, Wide: 0 }
    expect(db.encode('EngineCmd', { ...base, Torque: 0.04 })[0]).toBe(0)
    expect(db.encode('EngineCmd', { ...base, Torque: 0.06 })[0]).toBe(1)
    expect(db.encode('EngineCmd', { ...base, Torque: 0.25 })[0]).toBe(2)
  })

  it('encodes raw values, and bigints for 64-bit signals', () => {
    const data = db.encode('Big', { U64: 2n ** 64n - 1n, S64: -(2n ** 63n) }, { raw: true })
    expect([...data]).toEqual([255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0x80])
  })

  it('encodes only the signals the multiplexer selects', () => {
    expect(db.encode('Mux', { Sel: 2, B: -2 })).toEqual(
      Uint8Array.from([2, 0xfe, 0, 0, 0, 0, 0, 0]),
    )
    expect(db.encode('Mux', { Sel: 2, A: 5, B: -2 })).toEqual(
      Uint8Array.from([2, 0xfe, 0, 0, 0, 0, 0, 0]),
    )
  })

  it('encodes floats and doubles', () => {
    const data = db.encode('Floats', { F32: -1.5, F64: Math.PI * 2 + 1 })
    const view = new DataView(data.buffer)
    expect(view.getFloat32(0, true)).toBe(-1.5)
    expect(view.getFloat64(4, false)).toBe(Math.PI)
  })

  const errors: [string, () => unknown, string, string][] = [
    [
      'unknown message',
      () => db.encode('Nope', {}),
      DBC_ERROR_CODE.UNKNOWN_MESSAGE,
      'no message Nope in the database',
    ],
    [
      'unknown id',
      () => db.encode(0x123, {}),
      DBC_ERROR_CODE.UNKNOWN_MESSAGE,
      'no message with id 0x123',
    ],
    [
      'unknown signal',
      () => db.encode('Mux', { Sel: 1, A: 1, C: 2 }),
      DBC_ERROR_CODE.UNKNOWN_SIGNAL,
      'message Mux has no signal C (it has Sel, A, B)',
    ],
    [
      'missing signal',
      () => db.encode('EngineCmd', { Torque: 1 }),
      DBC_ERROR_CODE.MISSING_SIGNAL,
      'message EngineCmd: no value for signal Mode',
    ],
    [
      'missing multiplexed signal',
      () => db.encode('Mux', { Sel: 1 }),
      DBC_ERROR_CODE.MISSING_SIGNAL,
      'no value for signal A (selected by Sel = 1)',
    ],
    [
      'above maximum',
      () => db.encode('EngineCmd', { Torque: 3000.1, Mode: 0, Rpm: 0, Temp: 0, Wide: 0 }),
      DBC_ERROR_CODE.OUT_OF_RANGE,
      'EngineCmd.Torque: 3000.1 is outside -3000..3000 Nm',
    ],
    [
      'raw does not fit',
      () => db.encode('EngineCmd', { Torque: 0, Mode: 0, Rpm: 0, Temp: 0, Wide: 256 }),
      DBC_ERROR_CODE.OUT_OF_RANGE,
      'EngineCmd.Wide: 256 is raw 256, which does not fit 8 unsigned bits (physical 0..255)',
    ],
    [
      'raw value out of range',
      () => db.encode('Mux', { Sel: 256, A: 0 }, { raw: true }),
      DBC_ERROR_CODE.OUT_OF_RANGE,
      'Mux.Sel: raw value 256 does not fit 8 unsigned bits (0..255)',
    ],
    [
      'not a number',
      () => db.encode('Mux', { Sel: Number.NaN, A: 0 }),
      DBC_ERROR_CODE.BAD_VALUE,
      'Mux.Sel: NaN is not a finite number',
    ],
    [
      'raw not an integer',
      () => db.encode('Mux', { Sel: 1.5, A: 0 }, { raw: true }),
      DBC_ERROR_CODE.BAD_VALUE,
      'Mux.Sel: raw value 1.5 is not an integer',
    ],
    [
      'unknown choice',
      () => db.encode('EngineCmd', { Torque: 0, Mode: 'Fast', Rpm: 0, Temp: 0, Wide: 0 }),
      DBC_ERROR_CODE.BAD_VALUE,
      'EngineCmd.Mode: no choice named "Fast" (choices: Off, Idle, Run)',
    ],
    [
      'bigint outside raw mode',
      () => db.encode('Big', { U64: 1n, S64: 0 }),
      DBC_ERROR_CODE.BAD_VALUE,
      'a bigint is accepted only as a raw integer value',
    ],
    [
      'bigint too wide',
      () => db.encode('Big', { U64: 2n ** 64n, S64: 0 }, { raw: true }),
      DBC_ERROR_CODE.OUT_OF_RANGE,
      'Big.U64: raw value 18446744073709551616 does not fit 64 unsigned bits',
    ],
    [
      'float32 overflow',
      () => db.encode('Floats', { F32: 1e39, F64: 0 }),
      DBC_ERROR_CODE.OUT_OF_RANGE,
      'Floats.F32: 1e+39 is too large for a 32-bit float',
    ],
  ]
  for (const [name, run, code, message] of errors) {
    it(`refuses: ${name}`, () => {
      let caught: unknown
      try {
        run()
      } catch (error) {
        caught = error
      }
      expect(caught).toBeInstanceOf(DbcError)
      expect(caught).toMatchObject({ code, name: 'DbcError' })
      expect((caught as DbcError).message).toContain(message)
    })
  }

  it('checkRange: false lets a value outside minimum..maximum through if its bits hold it', () => {
    const data = db.encode(
      'EngineCmd',
      { Torque: 3000.1, Mode: 0, Rpm: 0, Temp: -40, Wide: 0 },
      { checkRange: false },
    )
    expect(new DataView(data.buffer).getInt16(0, true)).toBe(30001)
  })
})
