import { FRAME_FLAG } from '@canbridge/protocol'
import { describe, expect, it } from 'vitest'
import { LineSplitter, parseCandumpLine, parseFrameText } from '../src/candump-log.ts'

const { EXT, RTR, ERR, FD, BRS, ESI } = FRAME_FLAG

function frame(line: string) {
  const parsed = parseCandumpLine(line)
  if (parsed?.kind !== 'frame') throw new Error(`not a frame: ${JSON.stringify(parsed)}`)
  return { ...parsed, data: Buffer.from(parsed.data).toString('hex') }
}

describe('candump -L lines (can-utils lib.c sprint_canframe)', () => {
  it('classic frame, 3-digit standard id, timestamp in µs', () => {
    expect(frame('(1637791111.209224) vcan0 123#DEADBEEF')).toEqual({
      kind: 'frame',
      iface: 'vcan0',
      tsUs: 1637791111209224,
      id: 0x123,
      flags: 0,
      len: 4,
      data: 'deadbeef',
    })
  })

  it('8-digit id is extended', () => {
    expect(frame('(1.000001) can1 0BA5B2E6#CE01')).toMatchObject({
      id: 0xba5b2e6,
      flags: EXT,
      len: 2,
      tsUs: 1_000_001,
    })
  })

  it('8-digit id with CAN_ERR_FLAG is an error frame, the class bits as id', () => {
    expect(frame('(1.000000) vcan0 20000040#0000000000000000')).toMatchObject({
      id: 0x40,
      flags: ERR,
      len: 8,
    })
  })

  it('empty data frame', () => {
    expect(frame('(1.000000) vcan0 7FF#')).toMatchObject({ id: 0x7ff, flags: 0, len: 0, data: '' })
  })

  it('remote frames: R, R<dlc>, R<dlc>_<len8_dlc>, extended', () => {
    expect(frame('(1.000000) vcan0 4B0#R')).toMatchObject({
      id: 0x4b0,
      flags: RTR,
      len: 0,
      data: '',
    })
    expect(frame('(1.000000) vcan0 4B0#R4')).toMatchObject({ flags: RTR, len: 4 })
    expect(frame('(1.000000) vcan0 4B0#R8_C')).toMatchObject({ flags: RTR, len: 8 })
    expect(frame('(1.000000) vcan0 1B8D0ED2#R1')).toMatchObject({
      id: 0x1b8d0ed2,
      flags: EXT | RTR,
      len: 1,
    })
  })

  it('CAN FD: ## then the flags nibble (BRS 1, ESI 2, FDF 4), then data', () => {
    expect(frame('(1.000000) vcan0 123##1112233445566778899AABBCC')).toMatchObject({
      flags: FD | BRS,
      len: 12,
      data: '112233445566778899aabbcc',
    })
    expect(frame(`(1.000000) vcan0 1ABCDE00##3${'A5'.repeat(64)}`)).toMatchObject({
      flags: EXT | FD | BRS | ESI,
      len: 64,
    })
    expect(frame('(1.000000) vcan0 321##0')).toMatchObject({ flags: FD, len: 0 })
    expect(frame('(1.000000) vcan0 321##40011')).toMatchObject({ flags: FD, len: 2 })
  })

  it('classic 8 bytes with a raw DLC suffix (len8_dlc) and dot separators', () => {
    expect(frame('(1.000000) vcan0 123#1122334455667788_C')).toMatchObject({
      len: 8,
      data: '1122334455667788',
    })
    expect(frame('(1.000000) vcan0 123#11.22.33')).toMatchObject({ len: 3, data: '112233' })
  })

  it('DROPCOUNT lines (candump -d)', () => {
    expect(
      parseCandumpLine("DROPCOUNT: dropped 3 CAN frames on 'vcan0' socket (total drops 7)"),
    ).toEqual({
      kind: 'drops',
      iface: 'vcan0',
      count: 3,
      total: 7,
    })
    expect(
      parseCandumpLine("DROPCOUNT: dropped 1 CAN frame on 'vcan0' socket (total drops 1)"),
    ).toMatchObject({ count: 1 })
  })

  it('rejects what sprint_canframe never writes', () => {
    const bad = [
      '(1.000000) vcan0 12#11',
      '(1.000000) vcan0 800#11',
      '(1.000000) vcan0 123#112',
      '(1.000000) vcan0 123#112233445566778899',
      '(1.000000) vcan0 123##1112233445566778899',
      '(1.000000) vcan0 123#R9',
      '(1.000000) vcan0 20000040#R',
      '(1.00000) vcan0 123#11',
      'garbage',
    ]
    for (const line of bad) expect(parseCandumpLine(line)?.kind, line).toBe('invalid')
    expect(parseCandumpLine('')).toBeNull()
    expect(typeof parseFrameText('123#ZZ')).toBe('string')
  })

  it('LineSplitter keeps partial lines across chunks', () => {
    const lines: string[] = []
    const s = new LineSplitter()
    s.push('(1.000000) vcan0 12', (l) => lines.push(l))
    s.push('3#11\n(2.000000) vc', (l) => lines.push(l))
    s.push('an0 124#\n', (l) => lines.push(l))
    s.end((l) => lines.push(l))
    expect(lines).toEqual(['(1.000000) vcan0 123#11', '(2.000000) vcan0 124#'])
  })
})
