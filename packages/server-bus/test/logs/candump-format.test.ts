// candump's formats against what can-utils itself printed (can-utils-output.ts): the log
// format read and written back byte for byte, and the frame notation case by case with
// hand-written values. (The screen formats are the CLI's: candump-printer.test.ts.)
import { FRAME_FLAG } from '@canbridge/protocol'
import { describe, expect, it } from 'vitest'
import {
  CanMessage,
  type CanMessageOptions,
  CanutilsLogWriter,
  formatCandumpFrame,
  parseCandumpFrame,
} from '../../src/index.ts'
import { CANDUMP_L, CANDUMP_LX } from './can-utils-output.ts'
import { collector, hex, readText as read } from './helpers.ts'

const { EXT, RTR, ERR, FD, BRS, ESI } = FRAME_FLAG

describe('candump -L files round-trip through LogReader and CanutilsLogWriter', () => {
  it('reads every frame kind candump wrote, with its kernel time and interface', async () => {
    const messages = await read(CANDUMP_L)
    expect(messages).toHaveLength(18)
    const summary = messages.map((m) => ({
      t: m.timestampNs.toString(),
      ch: m.channel,
      id: m.arbitrationId.toString(16),
      ext: m.isExtendedId,
      rtr: m.isRemoteFrame,
      err: m.isErrorFrame,
      fd: m.isFd,
      brs: m.bitrateSwitch,
      esi: m.errorStateIndicator,
      dlc: m.dlc,
      data: hex(m.data),
    }))
    const base = {
      ch: 'vcan0',
      ext: false,
      rtr: false,
      err: false,
      fd: false,
      brs: false,
      esi: false,
    }
    expect(summary.slice(0, 10)).toEqual([
      { ...base, t: '1795263540090447000', id: '123', dlc: 4, data: 'deadbeef' },
      { ...base, t: '1795263540108880000', id: '123', rtr: true, dlc: 0, data: '' },
      { ...base, t: '1795263540122064000', id: '123', rtr: true, dlc: 4, data: '' },
      { ...base, t: '1795263540133360000', id: '12345678', ext: true, dlc: 1, data: '11' },
      {
        ...base,
        t: '1795263540145882000',
        id: '123',
        fd: true,
        brs: true,
        dlc: 12,
        data: '112233445566778899aabbcc',
      },
      { ...base, t: '1795263540157546000', id: '123', fd: true, esi: true, dlc: 3, data: '112233' },
      {
        ...base,
        t: '1795263540169934000',
        id: '123',
        fd: true,
        brs: true,
        esi: true,
        dlc: 0,
        data: '',
      },
      { ...base, t: '1795263540181632000', id: '123', fd: true, dlc: 1, data: 'aa' },
      { ...base, t: '1795263540194024000', id: '4', err: true, dlc: 8, data: '0000000000000000' },
      { ...base, t: '1795263540204761000', id: '123', dlc: 8, data: '4142434445464748' },
    ])
    expect(messages.every((m) => m.isRx)).toBe(true)
  })

  it('writes them back byte for byte', async () => {
    const out = collector()
    const writer = new CanutilsLogWriter(out.stream)
    for (const message of await read(CANDUMP_L)) await writer.onMessage(message)
    await writer.stop()
    expect(out.text()).toBe(CANDUMP_L)
  })

  it('candump -x -L: R/T after the frame, read as isRx and written back with direction', async () => {
    const messages = await read(CANDUMP_LX)
    expect(messages.every((m) => !m.isRx)).toBe(true)
    const out = collector()
    const writer = new CanutilsLogWriter(out.stream, { direction: true })
    for (const message of messages) await writer.onMessage(message)
    await writer.stop()
    expect(out.text()).toBe(CANDUMP_LX)
  })
})

describe('the frame notation (lib.c parse_canframe / sprint_canframe)', () => {
  const frame = (text: string) => {
    const parsed = parseCandumpFrame(text)
    if (typeof parsed === 'string') throw new Error(`${text}: ${parsed}`)
    return { ...parsed, data: hex(parsed.data) }
  }

  it('reads each kind', () => {
    expect(frame('123#DEADBEEF')).toEqual({ id: 0x123, flags: 0, len: 4, data: 'deadbeef' })
    expect(frame('0BA5B2E6#ce01')).toEqual({ id: 0xba5b2e6, flags: EXT, len: 2, data: 'ce01' })
    expect(frame('20000040#0000000000000000')).toMatchObject({ id: 0x40, flags: ERR, len: 8 })
    expect(frame('7FF#')).toEqual({ id: 0x7ff, flags: 0, len: 0, data: '' })
    expect(frame('4B0#r')).toEqual({ id: 0x4b0, flags: RTR, len: 0, data: '' })
    expect(frame('1B8D0ED2#R8_F')).toEqual({ id: 0x1b8d0ed2, flags: EXT | RTR, len: 8, data: '' })
    expect(frame('321##0')).toEqual({ id: 0x321, flags: FD, len: 0, data: '' })
    expect(frame('321##311.22')).toEqual({ id: 0x321, flags: FD | BRS | ESI, len: 2, data: '1122' })
    expect(frame('123#11.22.33.44.55.66.77.88_9')).toMatchObject({
      len: 8,
      data: '1122334455667788',
    })
  })

  it('says what is wrong with what can-utils never writes', () => {
    const cases: [string, RegExp][] = [
      ['12#11', /neither 3 nor 8 hex digits/],
      ['1G3#11', /bad id "1G3"/],
      ['800#11', /standard id 800 above 7FF/],
      ['40000000#11', /extended id 40000000 above 1FFFFFFF/],
      ['123#112', /bad data "112"/],
      ['123#112233445566778899', /9 data bytes is not a classic CAN \(0..8\) length/],
      ['123##1112233445566778899', /9 data bytes is not a CAN FD/],
      ['123#R9', /bad remote frame "R9"/],
      ['123#R4_C', /bad remote frame/],
      ['20000040#R', /an error frame cannot be a remote frame/],
      ['20000040##1', /an error frame cannot be CAN FD/],
      ['123##', /without its flags digit/],
      ['123#1122_C', /needs exactly 8 data bytes/],
      ['123#1122334455667788_3', /bad raw DLC suffix "_3"/],
    ]
    for (const [text, reason] of cases) expect(parseCandumpFrame(text), text).toMatch(reason)
  })

  it('writes each kind; --no-fdf style (fdFlagBase 0) as python-can and Linux < 6.0', () => {
    const m = (options: CanMessageOptions) => new CanMessage(options)
    expect(formatCandumpFrame(m({ arbitrationId: 0x5, isExtendedId: false, data: [1] }))).toBe(
      '005#01',
    )
    expect(formatCandumpFrame(m({ arbitrationId: 0x5, data: [] }))).toBe('00000005#')
    expect(
      formatCandumpFrame(
        m({ arbitrationId: 0x7ff, isExtendedId: false, isRemoteFrame: true, dlc: 8 }),
      ),
    ).toBe('7FF#R8')
    expect(
      formatCandumpFrame(
        m({
          arbitrationId: 0x1,
          isErrorFrame: true,
          isExtendedId: false,
          data: [0, 0, 0, 0, 0, 0, 0, 0],
        }),
      ),
    ).toBe('20000001#0000000000000000')
    const fd = m({
      arbitrationId: 0x10,
      isExtendedId: false,
      isFd: true,
      bitrateSwitch: true,
      data: new Uint8Array(12).fill(0xab),
    })
    expect(formatCandumpFrame(fd)).toBe(`010##5${'AB'.repeat(12)}`)
    expect(formatCandumpFrame(fd, 0)).toBe(`010##1${'AB'.repeat(12)}`)
  })
})
