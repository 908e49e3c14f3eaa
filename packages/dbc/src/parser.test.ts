import { describe, expect, it } from 'vitest'
import { DBC_ERROR_CODE, DbcError, parseDbc, parseDbcBytes } from './index.ts'

const FULL = `VERSION "1.0"

NS_ :
	NS_DESC_
	CM_
	BA_DEF_
	BA_
	VAL_
	SIG_VALTYPE_
	SG_MUL_VAL_

BS_:

BU_: Engine Gateway Dash

VAL_TABLE_ OnOff 1 "On" 0 "Off" ;

BO_ 256 EngineData: 8 Engine
 SG_ Speed : 0|16@1+ (0.01,0) [0|655.35] "km/h" Gateway,Dash
 SG_ Torque : 23|12@0- (0.5,-10) [-500|500] "Nm" Dash
 SG_ Temp : 32|32@1- (1,0) [0|0] "degC" Dash

BO_ 2566844416 Diag: 64 Gateway
 SG_ Mode M : 0|8@1+ (1,0) [0|0] "" Engine
 SG_ Rpm m1 : 8|16@1+ (1,0) [0|0] "rpm" Engine
 SG_ Voltage m2 : 8|16@1+ (0.001,0) [0|0] "V" Engine
 SG_ Sub m3M : 8|8@1+ (1,0) [0|0] "" Engine
 SG_ Deep m0 : 16|8@1+ (1,0) [0|0] "" Engine

BO_TX_BU_ 256 : Engine,Gateway;

CM_ "The network";
CM_ BU_ Engine "Engine ECU";
CM_ BO_ 256 "Engine status, every 10 ms";
CM_ SG_ 256 Speed "Vehicle \\"speed\\" in C:\\km
on two lines";
BA_DEF_ BO_ "GenMsgCycleTime" INT 0 65535;
BA_DEF_ BO_ "VFrameFormat" ENUM "StandardCAN","ExtendedCAN","reserved","StandardCAN_FD","ExtendedCAN_FD";
BA_DEF_ SG_ "GenSigStartValue" FLOAT 0 100000;
BA_DEF_ "BusType" STRING ;
BA_DEF_ BU_ "NodeLayer" HEX 0 255;
BA_DEF_REL_ BU_SG_REL_ "GenSigTimeoutTime" INT 0 65535;
BA_DEF_DEF_ "GenMsgCycleTime" 0;
BA_DEF_DEF_ "VFrameFormat" "StandardCAN";
BA_DEF_DEF_ "GenSigStartValue" 0;
BA_DEF_DEF_ "BusType" "CAN FD";
BA_DEF_DEF_ "NodeLayer" 0;
BA_ "BusType" "CAN";
BA_ "NodeLayer" BU_ Engine 3;
BA_ "GenMsgCycleTime" BO_ 256 10;
BA_ "VFrameFormat" BO_ 2566844416 4;
BA_ "GenSigStartValue" SG_ 256 Speed 12.5;
VAL_ 256 Torque -20 "Min" 0 "Zero" ;
VAL_ 2566844416 Mode 1 "Rpm" 2 "Voltage" ;
SIG_VALTYPE_ 256 Temp : 1;
SG_MUL_VAL_ 2566844416 Deep Sub 0-0, 5-7;
SG_MUL_VAL_ 2566844416 Sub Mode 3-3;
`

describe('parseDbc', () => {
  const db = parseDbc(FULL)

  it('reads version, nodes, value tables and the network comment and attributes', () => {
    expect(db.version).toBe('1.0')
    expect(db.comment).toBe('The network')
    expect(db.nodes.map((n) => n.name)).toEqual(['Engine', 'Gateway', 'Dash'])
    expect(db.nodes[0]!.comment).toBe('Engine ECU')
    expect(db.nodes[0]!.attributes.get('NodeLayer')).toBe(3)
    expect(db.nodes[1]!.attributes.get('NodeLayer')).toBe(0)
    expect([...db.valueTables.get('OnOff')!]).toEqual([
      [1, 'On'],
      [0, 'Off'],
    ])
    expect(db.attributes.get('BusType')).toBe('CAN')
    expect(db.warnings).toEqual([])
  })

  it('reads messages: ids, extended flag (bit 31), lengths, senders, comments, attributes', () => {
    const engine = db.getMessage('EngineData')!
    expect(engine).toMatchObject({
      id: 256,
      isExtendedId: false,
      length: 8,
      cycleTimeMs: 10,
      isFd: false,
    })
    expect(engine.senders).toEqual(['Engine', 'Gateway'])
    expect(engine.comment).toBe('Engine status, every 10 ms')
    const diag = db.getMessage('Diag')!
    expect(diag).toMatchObject({ id: 0x18fef000, isExtendedId: true, length: 64, isFd: true })
    expect(diag.attributes.get('VFrameFormat')).toBe('ExtendedCAN_FD')
    expect(db.getMessageById(0x18fef000, true)).toBe(diag)
    expect(db.getMessageById(0x18fef000, false)).toBeUndefined()
  })

  it('reads signals: layout, sign, scaling, range, unit, receivers, choices, value type', () => {
    const [speed, torque, temp] = db.getMessage('EngineData')!.signals
    expect(speed).toMatchObject({
      name: 'Speed',
      startBit: 0,
      length: 16,
      byteOrder: 'little_endian',
      isSigned: false,
      valueType: 'integer',
      factor: 0.01,
      offset: 0,
      minimum: 0,
      maximum: 655.35,
      unit: 'km/h',
      receivers: ['Gateway', 'Dash'],
      comment: 'Vehicle "speed" in C:\\km\non two lines',
    })
    expect(speed!.attributes.get('GenSigStartValue')).toBe(12.5)
    expect(torque).toMatchObject({
      startBit: 23,
      byteOrder: 'big_endian',
      isSigned: true,
      factor: 0.5,
      offset: -10,
    })
    expect([...torque!.choices!]).toEqual([
      [-20, 'Min'],
      [0, 'Zero'],
    ])
    expect(torque!.attributes.get('GenSigStartValue')).toBe(0)
    // [0|0] means no range was given
    expect(temp).toMatchObject({ valueType: 'float32', minimum: undefined, maximum: undefined })
  })

  it('reads simple and extended multiplexing', () => {
    const signals = new Map(db.getMessage('Diag')!.signals.map((s) => [s.name, s]))
    expect(signals.get('Mode')).toMatchObject({ isMultiplexer: true, multiplexing: undefined })
    expect(signals.get('Rpm')!.multiplexing).toEqual({ multiplexer: 'Mode', ranges: [[1, 1]] })
    expect(signals.get('Sub')).toMatchObject({
      isMultiplexer: true,
      multiplexing: { multiplexer: 'Mode', ranges: [[3, 3]] },
    })
    expect(signals.get('Deep')!.multiplexing).toEqual({
      multiplexer: 'Sub',
      ranges: [
        [0, 0],
        [5, 7],
      ],
    })
  })

  it('takes Windows line ends, tabs, // comments and statements in any order', () => {
    const text = `BO_ 1 A: 1 X\r\n SG_ S : 0|8@1+ (1,0) [0|0] "" Y\r\n// a note\r\nCM_ SG_ 1 S "c";\r\n`
    const parsed = parseDbc(text)
    expect(parsed.getMessage('A')!.signals[0]!.comment).toBe('c')
    expect(parsed.getMessage('A')!.senders).toEqual(['X'])
  })

  it('reads names that start with a digit, as cantools does', () => {
    const parsed = parseDbc('BO_ 1275 2017_5: 1 XXX\n SG_ 0_COUNTER : 0|4@1+ (1,0) [0|0] "" XXX\n')
    const decoded = parsed.decode({ arbitrationId: 1275, data: Uint8Array.of(0x1c) })
    expect(decoded.name).toBe('2017_5')
    expect(decoded.signals).toEqual({ '0_COUNTER': 12 })
  })

  it('reads Windows-1252 bytes (what CANdb++ writes) and UTF-8', () => {
    const text = 'BO_ 1 A: 1 X\n SG_ T : 0|8@1+ (1,0) [0|0] "\u00b0C" X\n'
    const cp1252 = Uint8Array.from(text, (c) => c.charCodeAt(0))
    expect(parseDbcBytes(cp1252).getMessage('A')!.signals[0]!.unit).toBe('\u00b0C')
    const utf8 = new TextEncoder().encode(text)
    expect(parseDbcBytes(utf8).getMessage('A')!.signals[0]!.unit).toBe('\u00b0C')
  })

  it('warns about references to what the file does not define, and goes on', () => {
    const parsed = parseDbc(
      'BO_ 1 A: 1 X\n SG_ S : 0|8@1+ (1,0) [0|0] "" Y\nCM_ BO_ 2 "none";\nVAL_ 1 T 0 "x" ;\n',
    )
    expect(parsed.warnings.map((w) => [w.line, w.message])).toEqual([
      [3, 'CM_ refers to message id 2, which no BO_ defines'],
      [4, 'VAL_ refers to signal T, which message A does not have'],
    ])
  })
})

describe('malformed DBC text gives a DbcError with line, column and what was expected', () => {
  const cases: [string, string, number, number, string][] = [
    ['missing colon', 'BO_ 1 A 8 X\n', 1, 9, "expected ':', found number 8"],
    [
      'bad byte order',
      'BO_ 1 A: 8 X\n SG_ S : 0|8@2+ (1,0) [0|0] "" X\n',
      2,
      14,
      "expected the byte order, '0' (Motorola) or '1' (Intel), found number 2",
    ],
    [
      'missing sign',
      'BO_ 1 A: 8 X\n SG_ S : 0|8@1 (1,0) [0|0] "" X\n',
      2,
      16,
      "expected '+' (unsigned) or '-' (signed), found '('",
    ],
    [
      'unknown keyword',
      'FOO_ 1;\n',
      1,
      1,
      "expected a DBC keyword (BO_, SG_, CM_, BA_, VAL_, …), found 'FOO_'",
    ],
    [
      'SG_ without BO_',
      ' SG_ S : 0|8@1+ (1,0) [0|0] "" X\n',
      1,
      2,
      "expected 'BO_' before the signal (an SG_ belongs to a message), found 'SG_'",
    ],
    ['open string', 'CM_ "no end;\n', 1, 5, "string not closed: expected '\"'"],
    [
      'stray character',
      'BO_ 1 A: 8 X\n SG_ S : 0|8@1+ (1,0) [0|0] "" X #\n',
      2,
      34,
      'unexpected character "#"',
    ],
    [
      'missing semicolon at end',
      'BA_DEF_ BO_ "X" INT 0 1\n',
      2,
      1,
      "expected ';', found the end of the file",
    ],
    [
      'bad multiplexer indicator',
      'BO_ 1 A: 8 X\n SG_ S x3 : 0|8@1+ (1,0) [0|0] "" X\n',
      2,
      8,
      "expected ':' or a multiplexer indicator (M, m<n>, m<n>M), found 'x3'",
    ],
  ]
  for (const [name, text, line, column, message] of cases) {
    it(name, () => {
      const error = catchError(() => parseDbc(text))
      expect(error).toBeInstanceOf(DbcError)
      expect(error).toMatchObject({ code: DBC_ERROR_CODE.SYNTAX, line, column })
      expect(error.message).toContain(message)
      expect(error.message.startsWith(`line ${line}, column ${column}: `)).toBe(true)
    })
  }

  const invalid: [string, string, string, number][] = [
    [
      'signal past the message end',
      'BO_ 1 A: 1 X\n SG_ S : 4|8@1+ (1,0) [0|0] "" X\n',
      'needs 2 bytes but message A has 1',
      2,
    ],
    [
      'Motorola signal past the end',
      'BO_ 1 A: 1 X\n SG_ S : 3|8@0+ (1,0) [0|0] "" X\n',
      'needs 2 bytes',
      2,
    ],
    [
      'length 0',
      'BO_ 1 A: 8 X\n SG_ S : 0|0@1+ (1,0) [0|0] "" X\n',
      'length 0 bits (must be 1..64)',
      2,
    ],
    ['length 65', 'BO_ 1 A: 9 X\n SG_ S : 0|65@1+ (1,0) [0|0] "" X\n', 'length 65 bits', 2],
    [
      'float of 16 bits',
      'BO_ 1 A: 8 X\n SG_ S : 0|16@1+ (1,0) [0|0] "" X\nSIG_VALTYPE_ 1 S : 1;\n',
      'declared float32 but is 16 bits long',
      3,
    ],
    [
      'm1 without M',
      'BO_ 1 A: 8 X\n SG_ S m1 : 0|8@1+ (1,0) [0|0] "" X\n',
      'has no multiplexer signal (M)',
      2,
    ],
    [
      'SG_MUL_VAL_ naming a plain signal',
      'BO_ 1 A: 8 X\n SG_ M0 M : 0|8@1+ (1,0) [0|0] "" X\n SG_ P : 8|8@1+ (1,0) [0|0] "" X\n SG_ S m1 : 16|8@1+ (1,0) [0|0] "" X\nSG_MUL_VAL_ 1 S P 1-1;\n',
      'P is not a multiplexer signal',
      5,
    ],
    [
      'multiplexers in a circle',
      'BO_ 1 A: 8 X\n SG_ P m1M : 0|8@1+ (1,0) [0|0] "" X\n SG_ Q m1M : 8|8@1+ (1,0) [0|0] "" X\nSG_MUL_VAL_ 1 P Q 1-1;\nSG_MUL_VAL_ 1 Q P 1-1;\n',
      'goes round in a circle',
      2,
    ],
    ['multiplexers nested too deep', deepMultiplexing(40), 'nested deeper than 32 levels', 34],
    ['extended id over 29 bits', 'BO_ 4294967295 A: 8 X\n', 'is not an extended id', 1],
    [
      'empty range',
      'BO_ 1 A: 8 X\n SG_ M0 M : 0|8@1+ (1,0) [0|0] "" X\n SG_ S m1 : 8|8@1+ (1,0) [0|0] "" X\nSG_MUL_VAL_ 1 S M0 3-1;\n',
      'range 3-1 is empty',
      4,
    ],
  ]
  for (const [name, text, message, line] of invalid) {
    it(name, () => {
      const error = catchError(() => parseDbc(text))
      expect(error).toMatchObject({ code: DBC_ERROR_CODE.INVALID_DEFINITION, line })
      expect(error.message).toContain(message)
    })
  }

  it('two messages with one id, and two signals with one name', () => {
    expect(catchError(() => parseDbc('BO_ 1 A: 8 X\nBO_ 1 B: 8 X\n'))).toMatchObject({
      code: DBC_ERROR_CODE.DUPLICATE,
      line: 2,
    })
    expect(
      catchError(() =>
        parseDbc(
          'BO_ 1 A: 8 X\n SG_ S : 0|8@1+ (1,0) [0|0] "" X\n SG_ S : 8|8@1+ (1,0) [0|0] "" X\n',
        ),
      ),
    ).toMatchObject({ code: DBC_ERROR_CODE.DUPLICATE, line: 3 })
  })

  it('strict: false keeps a signal past the end as a warning', () => {
    const db = parseDbc(
      'BO_ 1 A: 1 X\n SG_ S : 4|8@1+ (1,0) [0|0] "" X\n SG_ T : 0|4@1+ (1,0) [0|0] "" X\n',
      { strict: false },
    )
    expect(db.warnings[0]!.message).toContain('it is never decoded')
    expect(db.decode({ arbitrationId: 1, data: new Uint8Array([0xab]) }).signals).toEqual({
      T: 0xb,
    })
    expect(db.encode('A', { T: 5 })).toEqual(new Uint8Array([5]))
  })
})

/** A message whose signal i is selected by signal i-1, `levels` deep. */
function deepMultiplexing(levels: number): string {
  const lines = ['BO_ 1 A: 8 X', ' SG_ S0 M : 0|1@1+ (1,0) [0|0] "" X']
  for (let i = 1; i <= levels; i++) lines.push(` SG_ S${i} m1M : ${i}|1@1+ (1,0) [0|0] "" X`)
  for (let i = 2; i <= levels; i++) lines.push(`SG_MUL_VAL_ 1 S${i} S${i - 1} 1-1;`)
  return `${lines.join('\n')}\n`
}

function catchError(run: () => unknown): DbcError {
  try {
    run()
  } catch (error) {
    if (error instanceof DbcError) return error
    throw error
  }
  throw new Error('expected a DbcError')
}
