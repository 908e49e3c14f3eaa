// candump's screen formats (`canbridge dump`'s CandumpPrinter) against what can-utils itself
// printed (can-utils-output.ts): the compact format, -ta -a -x, -L, relative times.

import { CanMessage } from '@canbridge/server-bus'
import { describe, expect, it } from 'vitest'
import { CandumpPrinter } from '../src/candump-printer.ts'
import {
  CANDUMP_COMPACT,
  CANDUMP_L,
  CANDUMP_LX,
  CANDUMP_X_TA_A,
} from './support/can-utils-output.ts'
import { readText as read, withTimeZone } from './support/helpers.ts'

describe("candump's screen formats (CandumpPrinter)", () => {
  it('default compact format, standard ids indented once an extended one was seen', async () => {
    const printer = new CandumpPrinter({ width: 'vcan0'.length })
    const text = (await read(CANDUMP_L)).map((m) => printer.line(m, 'vcan0')).join('')
    expect(text).toBe(CANDUMP_COMPACT)
  })

  it('-x -ta -a: direction, BRS/ESI, absolute times, ASCII column, ERRORFRAME', async () => {
    const printer = new CandumpPrinter({ width: 5, timestamps: 'a', ascii: true, extra: true })
    const text = (await read(CANDUMP_LX)).map((m) => printer.line(m, 'vcan0')).join('')
    expect(text).toBe(CANDUMP_X_TA_A)
  })

  it('-L prints the log format', async () => {
    const printer = new CandumpPrinter({ width: 5, logFormat: true })
    const text = (await read(CANDUMP_L)).map((m) => printer.line(m, 'vcan0')).join('')
    expect(text).toBe(CANDUMP_L)
  })

  it('-t d and -t z count from the previous and the first frame; -L -t z too', () => {
    const at = (us: number) =>
      new CanMessage({ arbitrationId: 1, isExtendedId: false, timestampNs: BigInt(us) * 1000n })
    const messages = [at(5_000_000), at(5_250_000), at(6_000_001)]
    const d = new CandumpPrinter({ timestamps: 'd' })
    expect(messages.map((m) => d.line(m, 'can0'))).toEqual([
      ' (000.000000)  can0  001   [0] \n',
      ' (000.250000)  can0  001   [0] \n',
      ' (000.750001)  can0  001   [0] \n',
    ])
    const z = new CandumpPrinter({ timestamps: 'z', logFormat: true })
    expect(messages.map((m) => z.line(m, 'can0'))).toEqual([
      '(000.000000) can0 001#\n',
      '(000.250000) can0 001#\n',
      '(001.000001) can0 001#\n',
    ])
  })

  it('-t A prints the local date and time', async () => {
    const printer = new CandumpPrinter({ timestamps: 'A' })
    const message = new CanMessage({
      arbitrationId: 0x7ff,
      isExtendedId: false,
      timestampNs: 1_700_000_000_000_042_000n,
    })
    expect(await withTimeZone('UTC', () => printer.line(message, 'can0'))).toBe(
      ' (2023-11-14 22:13:20.000042)  can0  7FF   [0] \n',
    )
  })

  it('the interface column widens to the longest name, as candump aligns them', () => {
    const printer = new CandumpPrinter({ logFormat: true, width: 3 })
    const message = new CanMessage({
      arbitrationId: 1,
      isExtendedId: false,
      timestampNs: 1_000_000n,
    })
    expect(printer.line(message, 'can0')).toBe('(0000000000.001000) can0 001#\n')
    expect(printer.line(message, 'vcan10')).toBe('(0000000000.001000) vcan10 001#\n')
    expect(printer.line(message, 'can0')).toBe('(0000000000.001000)   can0 001#\n')
  })
})
