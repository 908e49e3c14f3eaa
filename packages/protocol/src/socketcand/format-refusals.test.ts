// The formatters refuse, with BAD_FRAME or BAD_BUS_NAME, every value the socketcand
// protocol cannot carry, instead of writing something a server would misread.
import { describe, expect, it } from 'vitest'
import type { CanFrame } from '../frame.ts'
import { thrownBy } from '../testing/index.ts'
import {
  formatSocketcandClientMessage,
  formatSocketcandFrame,
  formatSocketcandSend,
  formatSocketcandServerMessage,
  type SocketcandClientMessage,
  SocketcandError,
  type SocketcandErrorCode,
  type SocketcandServerMessage,
} from './index.ts'

/** Asserts `fn` throws a SocketcandError with `code`. */
function expectRefused(fn: () => unknown, code: SocketcandErrorCode): void {
  const error = thrownBy(fn)
  expect(error).toBeInstanceOf(SocketcandError)
  expect((error as SocketcandError).code).toBe(code)
}

describe('formatters refuse what the protocol cannot carry', () => {
  const frame = (over: Partial<CanFrame>): CanFrame => ({
    timestampNs: 0n,
    id: 0x123,
    flags: 0,
    len: 0,
    data: new Uint8Array(0),
    ...over,
  })

  it.each([
    ['a standard id above 0x7FF', frame({ id: 0x800 })],
    ['data that disagrees with len', frame({ len: 2, data: Uint8Array.of(1) })],
    ['a classic frame of 9 bytes', frame({ len: 9, data: new Uint8Array(9) })],
    ['an FD length of 9', frame({ flags: 0x08, len: 9, data: new Uint8Array(9) })],
    ['BRS without FD', frame({ flags: 0x10 })],
    ['a negative timestamp', frame({ timestampNs: -1n })],
    ['a number timestamp', frame({ timestampNs: 5 as unknown as bigint })],
    ['no data array', frame({ data: [1] as unknown as Uint8Array, len: 1 })],
  ])('formatSocketcandFrame and formatSocketcandSend refuse %s', (_name, bad) => {
    expectRefused(() => formatSocketcandFrame(bad), 'BAD_FRAME')
    expectRefused(() => formatSocketcandSend(bad), 'BAD_FRAME')
  })

  it('refuses to send an error frame', () => {
    expectRefused(() => formatSocketcandSend(frame({ flags: 0x04, id: 4 })), 'BAD_FRAME')
  })

  it.each([
    [{ type: 'open', bus: '' }, 'BAD_BUS_NAME'],
    [{ type: 'open', bus: 'can 0' }, 'BAD_BUS_NAME'],
    [{ type: 'open', bus: 'a'.repeat(17) }, 'BAD_BUS_NAME'],
    [{ type: 'mode', mode: 'fast' }, 'BAD_FRAME'],
    [
      { type: 'add', interval: { seconds: 0, microseconds: 1_000_000 }, frame: frame({}) },
      'BAD_FRAME',
    ],
    [{ type: 'add', interval: { seconds: -1, microseconds: 0 }, frame: frame({}) }, 'BAD_FRAME'],
    [
      { type: 'add', interval: { seconds: 0, microseconds: 0 }, frame: frame({ flags: 0x02 }) },
      'BAD_FRAME',
    ],
    [{ type: 'update', frame: frame({ flags: 0x08 }) }, 'BAD_FRAME'],
    [{ type: 'delete', id: 0x800, extended: false }, 'BAD_FRAME'],
    [
      {
        type: 'filter',
        interval: { seconds: 0, microseconds: 0 },
        id: 1,
        extended: false,
        mask: new Uint8Array(9),
      },
      'BAD_FRAME',
    ],
    [
      {
        type: 'muxfilter',
        interval: { seconds: 0, microseconds: 0 },
        id: 1,
        extended: false,
        tuples: [new Uint8Array(8)],
      },
      'BAD_FRAME',
    ],
    [{ type: 'statistics', intervalMs: 1.5 }, 'BAD_FRAME'],
    [{ type: 'extension', version: 0, features: [] }, 'BAD_FRAME'],
    [{ type: 'extension', version: 1, features: ['F D'] }, 'BAD_FRAME'],
    [{ type: 'bogus' }, 'BAD_FRAME'],
  ])('formatSocketcandClientMessage refuses case %#', (message, code) => {
    expectRefused(
      () => formatSocketcandClientMessage(message as SocketcandClientMessage),
      code as SocketcandErrorCode,
    )
  })

  it.each([
    [{ type: 'error', text: 'a > b' }, 'BAD_FRAME'],
    [{ type: 'stat', rxBytes: -1, rxPackets: 0, txBytes: 0, txPackets: 0 }, 'BAD_FRAME'],
    [{ type: 'stat', rxBytes: 2 ** 32, rxPackets: 0, txBytes: 0, txPackets: 0 }, 'BAD_FRAME'],
    [{ type: 'bogus' }, 'BAD_FRAME'],
  ])('formatSocketcandServerMessage refuses case %#', (message, code) => {
    expectRefused(
      () => formatSocketcandServerMessage(message as SocketcandServerMessage),
      code as SocketcandErrorCode,
    )
  })
})
