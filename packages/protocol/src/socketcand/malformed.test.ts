// Every malformed message, each with the SocketcandError code it must raise, in the
// direction that receives it.
import { describe, expect, it } from 'vitest'
import { thrownBy } from '../testing/index.ts'
import {
  parseSocketcandClientMessage,
  parseSocketcandServerMessage,
  SocketcandError,
  type SocketcandErrorCode,
} from './index.ts'

function codeOf(fn: () => unknown): SocketcandErrorCode | string {
  const error = thrownBy(fn)
  if (error instanceof SocketcandError) return error.code
  return `not a SocketcandError: ${String(error)}`
}

// Both directions share the envelope rules.
const ENVELOPE: [string, SocketcandErrorCode][] = [
  ['', 'BAD_SYNTAX'],
  ['<', 'BAD_SYNTAX'],
  ['< hi', 'BAD_SYNTAX'],
  ['hi >', 'BAD_SYNTAX'],
  ['<>', 'BAD_SYNTAX'],
  ['<   >', 'BAD_SYNTAX'],
  ['< hi > ', 'BAD_SYNTAX'],
  ['< h<i >', 'BAD_CHARACTER'],
  ['< h>i >', 'BAD_CHARACTER'],
  ['< hi\u0000 >', 'BAD_CHARACTER'],
  ['< hé >', 'BAD_CHARACTER'],
]

const SERVER: [string, SocketcandErrorCode][] = [
  ['< open vcan0 >', 'UNKNOWN_COMMAND'],
  ['< send 123 0 >', 'UNKNOWN_COMMAND'],
  ['< HI >', 'UNKNOWN_COMMAND'],
  ['< pdu 1.000000 0011 >', 'UNKNOWN_COMMAND'],
  ['< hi there >', 'BAD_ARGUMENTS'],
  ['< ok ok >', 'BAD_ARGUMENTS'],
  ['< frame 123 >', 'BAD_ARGUMENTS'],
  ['< frame >', 'BAD_ARGUMENTS'],
  ['< frame 12G 1.000000 00 >', 'BAD_ID'],
  ['< frame 123456789 1.000000 00 >', 'BAD_ID'],
  ['< frame 20000000 1.000000 00 >', 'BAD_ID'],
  ['< frame -12 1.000000 00 >', 'BAD_ID'],
  ['< frame 123 1 00 >', 'BAD_TIMESTAMP'],
  ['< frame 123 1. 00 >', 'BAD_TIMESTAMP'],
  ['< frame 123 .5 00 >', 'BAD_TIMESTAMP'],
  ['< frame 123 1.0000000001 00 >', 'BAD_TIMESTAMP'],
  ['< frame 123 1.-5 00 >', 'BAD_TIMESTAMP'],
  ['< frame 123 1e3.000000 00 >', 'BAD_TIMESTAMP'],
  ['< frame 123 1.000000 0 >', 'BAD_DATA'],
  ['< frame 123 1.000000 0G >', 'BAD_DATA'],
  ['< frame 123 1.000000 112 2 >', 'BAD_DATA'],
  ['< frame 123 1.000000 001122334455667788 >', 'BAD_DATA'],
  ['< rtr 123 1.000000 >', 'BAD_ARGUMENTS'],
  ['< rtr 123 1.000000 9 >', 'BAD_NUMBER'],
  ['< rtr 123 1.000000 4 00 >', 'BAD_ARGUMENTS'],
  ['< fdframe 123 01 1.000000 000102030405060708 >', 'BAD_DATA'],
  ['< fdframe 123 08 1.000000 00 >', 'BAD_FLAGS'],
  ['< fdframe 123 100 1.000000 00 >', 'BAD_FLAGS'],
  ['< fdframe 123 1.000000 00 >', 'BAD_FLAGS'],
  ['< fdframe 123 01 >', 'BAD_ARGUMENTS'],
  [`< fdframe 123 01 1.000000 ${'00'.repeat(65)} >`, 'BAD_DATA'],
  ['< error 004 1.000000 001122334455667788 >', 'BAD_DATA'],
  ['< error 004 1.000000 0 >', 'BAD_DATA'],
  ['< error 40000000 1.000000 >', 'BAD_ID'],
  ['< stat 1 2 3 >', 'BAD_ARGUMENTS'],
  ['< stat 1 2 3 4294967296 >', 'BAD_NUMBER'],
  ['< stat 1 2 3 -4 >', 'BAD_NUMBER'],
  ['< stat 1 2 3 0x4 >', 'BAD_NUMBER'],
  ['< canbridge-ext >', 'BAD_ARGUMENTS'],
  ['< canbridge-ext 0 >', 'BAD_NUMBER'],
  ['< canbridge-ext one >', 'BAD_NUMBER'],
  ['< canbridge-ext 1 RTR >', 'BAD_ARGUMENTS'],
]

const CLIENT: [string, SocketcandErrorCode][] = [
  ['< hi >', 'UNKNOWN_COMMAND'],
  ['< frame 123 1.000000 00 >', 'UNKNOWN_COMMAND'],
  ['< vcan0 B 500000 0 0 0 0 0 0 0 >', 'UNKNOWN_COMMAND'],
  ['< isotpconf 123 321 0 0 0 >', 'UNKNOWN_COMMAND'],
  ['< open >', 'BAD_ARGUMENTS'],
  ['< open vcan0 vcan1 >', 'BAD_ARGUMENTS'],
  ['< open abcdefghijklmnopq >', 'BAD_BUS_NAME'],
  ['< open ../can0 >', 'BAD_BUS_NAME'],
  ['< rawmode now >', 'BAD_ARGUMENTS'],
  ['< echo echo >', 'BAD_ARGUMENTS'],
  ['< send 123 >', 'BAD_ARGUMENTS'],
  ['< send 123 2 01 >', 'BAD_ARGUMENTS'],
  ['< send 123 1 01 02 >', 'BAD_ARGUMENTS'],
  ['< send 123 9 1 2 3 4 5 6 7 8 9 >', 'BAD_NUMBER'],
  ['< send 123 A 1 2 3 4 5 6 7 8 9 A >', 'BAD_NUMBER'],
  ['< send 123 x >', 'BAD_NUMBER'],
  ['< send 123 1 100 >', 'BAD_DATA'],
  ['< send 123 1 zz >', 'BAD_DATA'],
  ['< send 1G3 0 >', 'BAD_ID'],
  ['< send 123456789 0 >', 'BAD_ID'],
  ['< send 3FFFFFFF 0 >', 'BAD_ID'],
  ['< sendrtr 123 >', 'BAD_ARGUMENTS'],
  ['< sendrtr 123 9 >', 'BAD_NUMBER'],
  ['< fdsend 123 01 9 0 1 2 3 4 5 6 7 8 >', 'BAD_DATA'],
  ['< fdsend 123 01 12 0 1 >', 'BAD_ARGUMENTS'],
  ['< fdsend 123 10 0 >', 'BAD_FLAGS'],
  ['< fdsend 123 01 65 >', 'BAD_NUMBER'],
  ['< fdsend 123 01 >', 'BAD_ARGUMENTS'],
  ['< add 1 0 123 >', 'BAD_ARGUMENTS'],
  ['< add 1 1000000 123 0 >', 'BAD_NUMBER'],
  ['< add -1 0 123 0 >', 'BAD_NUMBER'],
  ['< add 4294967296 0 123 0 >', 'BAD_NUMBER'],
  ['< add 1 0 123 2 11 >', 'BAD_ARGUMENTS'],
  ['< update 123 >', 'BAD_ARGUMENTS'],
  ['< update 123 1 >', 'BAD_ARGUMENTS'],
  ['< delete >', 'BAD_ARGUMENTS'],
  ['< delete 123 1 >', 'BAD_ARGUMENTS'],
  ['< delete xyz >', 'BAD_ID'],
  ['< subscribe 0 123 >', 'BAD_ARGUMENTS'],
  ['< subscribe 0 0 0x123 >', 'BAD_ID'],
  ['< unsubscribe >', 'BAD_ARGUMENTS'],
  ['< filter 0 0 123 2 FF >', 'BAD_ARGUMENTS'],
  ['< filter 0 0 123 9 FF FF FF FF FF FF FF FF FF >', 'BAD_NUMBER'],
  ['< muxfilter 0 0 123 1 FF 00 00 00 00 00 00 00 >', 'BAD_NUMBER'],
  ['< muxfilter 0 0 123 2 FF 00 00 00 00 00 00 00 >', 'BAD_ARGUMENTS'],
  ['< statistics >', 'BAD_ARGUMENTS'],
  ['< statistics 1.5 >', 'BAD_NUMBER'],
  ['< canbridge-ext 1 fd! >', 'BAD_ARGUMENTS'],
]

describe('malformed messages', () => {
  it.each(ENVELOPE)('%j → %s in both directions', (text, code) => {
    expect(codeOf(() => parseSocketcandServerMessage(text))).toBe(code)
    expect(codeOf(() => parseSocketcandClientMessage(text))).toBe(code)
  })

  it.each(SERVER)('a client refuses %j with %s', (text, code) => {
    expect(codeOf(() => parseSocketcandServerMessage(text))).toBe(code)
  })

  it.each(CLIENT)('a server refuses %j with %s', (text, code) => {
    expect(codeOf(() => parseSocketcandClientMessage(text))).toBe(code)
  })

  it('quotes the message and names the field', () => {
    const error = thrownBy(() => parseSocketcandClientMessage('< send 123 1 zz >')) as Error
    expect(error.message).toBe(
      "BAD_DATA: data byte 0 'zz' is not 1..2 hex digits (in '< send 123 1 zz >')",
    )
    const long = `< frame 123 1.000000 ${'0'.repeat(301)} >`
    const cut = thrownBy(() => parseSocketcandServerMessage(long)) as SocketcandError
    expect(cut.text).toBe(long)
    expect(cut.message.length).toBeLessThan(250)
  })

  it('never throws anything but a SocketcandError on random printable input', () => {
    // A cheap deterministic fuzz: words from the protocol's vocabulary and noise.
    const words = [
      'frame',
      'send',
      'fdsend',
      'error',
      'rtr',
      'fdframe',
      'add',
      'filter',
      'stat',
      'open',
      '123',
      '1AAAAAAA',
      '1.000000',
      '8',
      '0',
      'FF',
      'zz',
      '01',
      '-1',
      '4294967296',
      '',
    ]
    let seed = 42
    const next = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed
    }
    for (let i = 0; i < 5000; i++) {
      const count = next() % 8
      const text = `< ${Array.from({ length: count }, () => words[next() % words.length]).join(' ')} >`
      for (const parse of [parseSocketcandServerMessage, parseSocketcandClientMessage]) {
        const error = thrownBy(() => parse(text))
        if (error !== undefined) expect(error, text).toBeInstanceOf(SocketcandError)
      }
    }
  })
})
