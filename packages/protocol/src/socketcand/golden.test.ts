// Golden strings written by hand from socketcand's doc/protocol.md and source (its printf
// formats) and from python-can 4.1.0's socketcand interface: each parses to the value
// given, and the canonical ones are what the formatters write, byte for byte.
import { describe, expect, it } from 'vitest'
import type { CanFrame } from '../frame.ts'
import { chunkings } from '../testing/index.ts'
import {
  formatSocketcandClientMessage,
  formatSocketcandFrame,
  formatSocketcandSend,
  formatSocketcandServerMessage,
  parseSocketcandClientMessage,
  parseSocketcandServerMessage,
  type SocketcandClientMessage,
  type SocketcandServerMessage,
  SocketcandTokenizer,
} from './index.ts'

// FRAME_FLAG bits, by hand (PROTOCOL.md §6.2).
const [EXT, RTR, ERR, FD, BRS, ESI] = [0x01, 0x02, 0x04, 0x08, 0x10, 0x20]

function frame(
  id: number,
  flags: number,
  data: number[],
  timestampNs = 0n,
  len = data.length,
): CanFrame {
  return { timestampNs, id, flags, len, data: Uint8Array.from(data) }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

// [text, value, canonical]: canonical texts are also what the formatter writes.
const SERVER_MESSAGES: [string, SocketcandServerMessage, boolean][] = [
  ['< hi >', { type: 'hi' }, true],
  ['< ok >', { type: 'ok' }, true],
  ['< echo >', { type: 'echo' }, true],
  ['< error unknown command >', { type: 'error', text: 'unknown command' }, true],
  ['< error could not open bus >', { type: 'error', text: 'could not open bus' }, true],
  // raw mode: "< frame %03X %ld.%06ld " + "%02X" per byte + " >"
  [
    '< frame 123 23.424242 11223344 >',
    { type: 'frame', frame: frame(0x123, 0, [0x11, 0x22, 0x33, 0x44], 23_424_242_000n) },
    true,
  ],
  [
    '< frame 1AAAAAAA 1700000000.000001 01F1 >',
    { type: 'frame', frame: frame(0x1aaaaaaa, EXT, [0x01, 0xf1], 1_700_000_000_000_001_000n) },
    true,
  ],
  // extended id below 0x800: still 8 digits
  [
    '< frame 00000123 5.000000 FF >',
    { type: 'frame', frame: frame(0x123, EXT, [0xff], 5_000_000_000n) },
    true,
  ],
  // no data: socketcand's "... " + " >" leaves two spaces
  ['< frame 7FF 0.000000  >', { type: 'frame', frame: frame(0x7ff, 0, [], 0n) }, true],
  [
    '< frame 000 12.345678 0001020304050607 >',
    { type: 'frame', frame: frame(0, 0, range(8), 12_345_678_000n) },
    true,
  ],
  // BCM mode: "%02X " per byte, then " >"
  [
    '< frame 123 23.424242 11 22 33 44  >',
    { type: 'frame', frame: frame(0x123, 0, [0x11, 0x22, 0x33, 0x44], 23_424_242_000n) },
    false,
  ],
  // raw mode error frame: "< error %03X %ld.%06ld >" of can_id & CAN_EFF_MASK
  [
    '< error 004 24.000001 >',
    { type: 'frame', frame: frame(0x004, ERR, [], 24_000_001_000n) },
    true,
  ],
  ['< error 100 1.500000 >', { type: 'frame', frame: frame(0x100, ERR, [], 1_500_000_000n) }, true],
  // BCM mode error frame: class with CAN_ERR_FLAG, 8 data bytes "%02X "
  [
    '< error 20000004 3.000000 00 08 00 00 00 00 00 00  >',
    { type: 'frame', frame: frame(0x004, ERR, [0, 8, 0, 0, 0, 0, 0, 0], 3_000_000_000n) },
    false,
  ],
  [
    '< stat 1024 128 64 8 >',
    { type: 'stat', rxBytes: 1024, rxPackets: 128, txBytes: 64, txPackets: 8 },
    true,
  ],
  [
    '< stat 4294967295 0 0 4294967295 >',
    { type: 'stat', rxBytes: 0xffffffff, rxPackets: 0, txBytes: 0, txPackets: 0xffffffff },
    true,
  ],
  // extension (socketcand doc: "< rtr 123 23.424242 4 >")
  [
    '< rtr 123 23.424242 4 >',
    { type: 'frame', frame: frame(0x123, RTR, [], 23_424_242_000n, 4) },
    true,
  ],
  [
    '< rtr 18DAF110 1.000000 0 >',
    { type: 'frame', frame: frame(0x18daf110, RTR | EXT, [], 1_000_000_000n, 0) },
    true,
  ],
  // socketcand source: "< fdframe %03X %02X %ld.%06ld " + data + " >"
  [
    '< fdframe 123 01 2.000000 000102030405060708090A0B >',
    { type: 'frame', frame: frame(0x123, FD | BRS, range(12), 2_000_000_000n) },
    true,
  ],
  [
    '< fdframe 1FFFFFFF 03 2.000000 00 >',
    { type: 'frame', frame: frame(0x1fffffff, FD | BRS | ESI | EXT, [0], 2_000_000_000n) },
    false,
  ],
  [
    '< fdframe 456 00 2.000000  >',
    { type: 'frame', frame: frame(0x456, FD, [], 2_000_000_000n) },
    true,
  ],
  // FDF (04) as newer kernels report it: read, not kept
  [
    '< fdframe 456 06 2.000000 AA >',
    { type: 'frame', frame: frame(0x456, FD | ESI, [0xaa], 2_000_000_000n) },
    false,
  ],
  [
    '< canbridge-ext 1 rtr fd errdata >',
    { type: 'extension', version: 1, features: ['rtr', 'fd', 'errdata'] },
    true,
  ],
  ['< canbridge-ext 1 >', { type: 'extension', version: 1, features: [] }, true],
  [
    '< canbridge-ext 2 fd future-thing >',
    { type: 'extension', version: 2, features: ['fd', 'future-thing'] },
    true,
  ],
]

const CLIENT_MESSAGES: [string, SocketcandClientMessage, boolean][] = [
  ['< open vcan0 >', { type: 'open', bus: 'vcan0' }, true],
  ['< open can0 >', { type: 'open', bus: 'can0' }, true],
  ['< rawmode >', { type: 'mode', mode: 'raw' }, true],
  ['< bcmmode >', { type: 'mode', mode: 'bcm' }, true],
  ['< controlmode >', { type: 'mode', mode: 'control' }, true],
  ['< isotpmode >', { type: 'mode', mode: 'isotp' }, true],
  ['< echo >', { type: 'echo' }, true],
  // doc: "< send 123 0 >" and "< send 1AAAAAAA 2 1 F1 >"
  ['< send 123 0 >', { type: 'send', frame: frame(0x123, 0, []) }, true],
  [
    '< send 1AAAAAAA 2 01 F1 >',
    { type: 'send', frame: frame(0x1aaaaaaa, EXT, [0x01, 0xf1]) },
    true,
  ],
  [
    '< send 1AAAAAAA 2 1 F1 >',
    { type: 'send', frame: frame(0x1aaaaaaa, EXT, [0x01, 0xf1]) },
    false,
  ],
  // python-can 4.1.0: f"< send {can_id:X} {length:X} {bytes_string} >", bytes "{:x}"
  ['< send 7DF 3 2 1 c >', { type: 'send', frame: frame(0x7df, 0, [2, 1, 0x0c]) }, false],
  ['< send 5 0  >', { type: 'send', frame: frame(0x005, 0, []) }, false],
  [
    '< send 18DAF110 8 2 10 3 0 0 0 0 0 >',
    { type: 'send', frame: frame(0x18daf110, EXT, [2, 0x10, 3, 0, 0, 0, 0, 0]) },
    false,
  ],
  // an extended id python-can 4.1.0 writes unpadded: above 0x7FF it can only be extended
  ['< send 1ABCDE 1 ff >', { type: 'send', frame: frame(0x1abcde, EXT, [0xff]) }, false],
  ['< send 800 0  >', { type: 'send', frame: frame(0x800, EXT, []) }, false],
  // newer python-can: "{:08X}" / "{:03X}"
  ['< send 00000123 1 aa >', { type: 'send', frame: frame(0x123, EXT, [0xaa]) }, false],
  [
    '< send 123 8 11 22 33 44 55 66 77 88 >',
    { type: 'send', frame: frame(0x123, 0, [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]) },
    true,
  ],
  // doc examples of BCM mode
  [
    '< add 1 0 123 8 11 22 33 44 55 66 77 88 >',
    {
      type: 'add',
      interval: { seconds: 1, microseconds: 0 },
      frame: frame(0x123, 0, [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]),
    },
    true,
  ],
  [
    '< add 0 20000 123 4 42 42 42 42 >',
    {
      type: 'add',
      interval: { seconds: 0, microseconds: 20000 },
      frame: frame(0x123, 0, [0x42, 0x42, 0x42, 0x42]),
    },
    true,
  ],
  [
    '< update 123 3 11 22 33 >',
    { type: 'update', frame: frame(0x123, 0, [0x11, 0x22, 0x33]) },
    true,
  ],
  ['< delete 123 >', { type: 'delete', id: 0x123, extended: false }, true],
  ['< delete 1AAAAAAA >', { type: 'delete', id: 0x1aaaaaaa, extended: true }, true],
  [
    '< subscribe 0 0 123 >',
    { type: 'subscribe', interval: { seconds: 0, microseconds: 0 }, id: 0x123, extended: false },
    true,
  ],
  ['< unsubscribe 123 >', { type: 'unsubscribe', id: 0x123, extended: false }, true],
  [
    '< filter 0 0 123 1 FF >',
    {
      type: 'filter',
      interval: { seconds: 0, microseconds: 0 },
      id: 0x123,
      extended: false,
      mask: Uint8Array.of(0xff),
    },
    true,
  ],
  [
    '< filter 1 500000 123 8 FF 00 F8 00 00 00 00 00 >',
    {
      type: 'filter',
      interval: { seconds: 1, microseconds: 500000 },
      id: 0x123,
      extended: false,
      mask: Uint8Array.of(0xff, 0, 0xf8, 0, 0, 0, 0, 0),
    },
    true,
  ],
  [
    '< muxfilter 0 0 123 2 FF 00 00 00 00 00 00 00 33 FF FF FF FF FF FF FF >',
    {
      type: 'muxfilter',
      interval: { seconds: 0, microseconds: 0 },
      id: 0x123,
      extended: false,
      tuples: [
        Uint8Array.of(0xff, 0, 0, 0, 0, 0, 0, 0),
        Uint8Array.of(0x33, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
      ],
    },
    true,
  ],
  ['< statistics 1000 >', { type: 'statistics', intervalMs: 1000 }, true],
  ['< statistics 0 >', { type: 'statistics', intervalMs: 0 }, true],
  // extension; doc: "< sendrtr 123 0 >", "< sendrtr 1AAAAAAA 2 >"
  ['< sendrtr 123 0 >', { type: 'send', frame: frame(0x123, RTR, [], 0n, 0) }, true],
  [
    '< sendrtr 1AAAAAAA 2 >',
    { type: 'send', frame: frame(0x1aaaaaaa, RTR | EXT, [], 0n, 2) },
    true,
  ],
  // source: sscanf "< %*s %x %hhx %hhu" then " %hhx" per byte
  [
    '< fdsend 123 01 12 00 01 02 03 04 05 06 07 08 09 0A 0B >',
    { type: 'send', frame: frame(0x123, FD | BRS, range(12)) },
    true,
  ],
  ['< fdsend 1AAAAAAA 00 0 >', { type: 'send', frame: frame(0x1aaaaaaa, FD | EXT, []) }, true],
  ['< fdsend 123 3 1 a >', { type: 'send', frame: frame(0x123, FD | BRS | ESI, [0x0a]) }, false],
  ['< canbridge-ext 1 rtr fd >', { type: 'extension', version: 1, features: ['rtr', 'fd'] }, true],
]

describe('socketcand server → client messages', () => {
  it.each(SERVER_MESSAGES)('%s', (text, value, canonical) => {
    expect(parseSocketcandServerMessage(text)).toEqual(value)
    if (canonical) expect(formatSocketcandServerMessage(value)).toBe(text)
  })

  it('writes BCM-mode data and error data when asked', () => {
    const data = frame(0x123, 0, [0x11, 0x22, 0x33, 0x44], 23_424_242_000n)
    expect(formatSocketcandFrame(data, { spacedData: true })).toBe(
      '< frame 123 23.424242 11 22 33 44  >',
    )
    const error = frame(0x004, ERR, [0, 8, 0, 0, 0, 0, 0, 0], 3_000_000_000n)
    expect(formatSocketcandFrame(error)).toBe('< error 004 3.000000 >')
    expect(formatSocketcandFrame(error, { errorData: true })).toBe(
      '< error 004 3.000000 0008000000000000 >',
    )
    expect(parseSocketcandServerMessage('< error 004 3.000000 0008000000000000 >')).toEqual({
      type: 'frame',
      frame: error,
    })
  })

  it('truncates nanoseconds to microseconds, as the kernel’s timeval does', () => {
    expect(formatSocketcandFrame(frame(0x1, 0, [], 1_000_000_999n))).toBe('< frame 001 1.000000  >')
    expect(formatSocketcandFrame(frame(0x1, 0, [], 999_999_999n))).toBe('< frame 001 0.999999  >')
  })

  it('reads a timestamp with another number of fraction digits', () => {
    const read = (t: string) => {
      const message = parseSocketcandServerMessage(`< frame 123 ${t}  >`)
      return message.type === 'frame' ? message.frame.timestampNs : undefined
    }
    expect(read('1.5')).toBe(1_500_000_000n)
    expect(read('1.000000001')).toBe(1_000_000_001n)
    expect(read('000000000000001.000')).toBe(1_000_000_000n)
  })

  it('drops the TX flag of an echoed frame, which the protocol cannot carry', () => {
    expect(formatSocketcandFrame(frame(0x123, 0x40, [1], 0n))).toBe('< frame 123 0.000000 01 >')
  })
})

describe('socketcand client → server messages', () => {
  it.each(CLIENT_MESSAGES)('%s', (text, value, canonical) => {
    expect(parseSocketcandClientMessage(text)).toEqual(value)
    if (canonical) expect(formatSocketcandClientMessage(value)).toBe(text)
  })

  it('formats a send as python-can’s server expects it', () => {
    expect(formatSocketcandSend(frame(0x7df, 0, [2, 1, 0x0c]))).toBe('< send 7DF 3 02 01 0C >')
    expect(formatSocketcandSend(frame(0x5, EXT, []))).toBe('< send 00000005 0 >')
  })
})

describe('a whole session', () => {
  it('tokenizes and parses in every chunking', () => {
    const server =
      '< hi >< ok >< ok >< canbridge-ext 1 rtr >< frame 123 1.000001 DEADBEEF >' +
      '< rtr 456 1.000002 8 >< error unknown command >< frame 18DAF110 1.000003  >'
    const expected: SocketcandServerMessage[] = [
      { type: 'hi' },
      { type: 'ok' },
      { type: 'ok' },
      { type: 'extension', version: 1, features: ['rtr'] },
      { type: 'frame', frame: frame(0x123, 0, [0xde, 0xad, 0xbe, 0xef], 1_000_001_000n) },
      { type: 'frame', frame: frame(0x456, RTR, [], 1_000_002_000n, 8) },
      { type: 'error', text: 'unknown command' },
      { type: 'frame', frame: frame(0x18daf110, EXT, [], 1_000_003_000n) },
    ]
    const bytes = Uint8Array.from(server, (c) => c.charCodeAt(0))
    for (const { name, chunks } of chunkings(bytes)) {
      const tokenizer = new SocketcandTokenizer()
      const parsed: SocketcandServerMessage[] = []
      for (const chunk of chunks)
        tokenizer.write(chunk, (text) => parsed.push(parseSocketcandServerMessage(text)))
      tokenizer.end()
      expect(parsed, name).toEqual(expected)
    }
  })
})
