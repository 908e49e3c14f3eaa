// The Decoder against hand-built malformed input: every ProtocolError code, with its type
// code and stream offset, in every chunking. Expected offsets follow PROTOCOL.md where it
// says (a record's first byte for BAD_FRAME) and otherwise point at the offending field.
import { describe, expect, it } from 'vitest'
import {
  type DataBatch,
  type DecodedMessage,
  Decoder,
  type DecoderOptions,
  decodeControlBody,
  encodeControl,
  PROTOCOL_ERROR_CODE,
  ProtocolError,
  type ProtocolErrorCode,
  ROLE,
  type Role,
  timestampSecondsFromNs,
} from './index.ts'
import {
  batchBody,
  chunkings,
  concat,
  dataMessageBytes,
  feed,
  handMsgpack,
  hex,
  messageBytes,
  preambleBytes,
  type RecordSpec,
  recordBytes,
  thrownBy,
} from './testing/index.ts'

const EDGE = ROLE.EDGE
const SERVER = ROLE.SERVER

// Type codes from §4, by hand.
const T = {
  HELLO: 0x01,
  WELCOME: 0x02,
  AUTH_CHALLENGE: 0x03,
  AUTH_RESPONSE: 0x04,
  DATA: 0x10,
  ACK: 0x11,
  DROPS: 0x12,
  TRANSMIT: 0x20,
  TRANSMIT_RESULT: 0x21,
  SET_FILTERS: 0x22,
  PERIODIC_START: 0x23,
  PERIODIC_MODIFY: 0x24,
  PERIODIC_STOP: 0x25,
  HEARTBEAT: 0x30,
  STATS: 0x31,
  BUS_STATE: 0x32,
  ERROR: 0x3f,
} as const
const EDGE_TO_SERVER = [
  T.HELLO,
  T.AUTH_RESPONSE,
  T.DATA,
  T.DROPS,
  T.TRANSMIT_RESULT,
  T.STATS,
  T.BUS_STATE,
]
const SERVER_TO_EDGE = [
  T.WELCOME,
  T.AUTH_CHALLENGE,
  T.ACK,
  T.TRANSMIT,
  T.SET_FILTERS,
  T.PERIODIC_START,
  T.PERIODIC_MODIFY,
  T.PERIODIC_STOP,
]
const BOTH = [T.HEARTBEAT, T.ERROR]

/** What the peer with `role` sends: its preamble, then the parts. */
function from(role: Role, ...parts: Uint8Array[]): Uint8Array {
  return concat(preambleBytes(role), ...parts)
}

/** A message header alone (§3), by hand: type, flags 0, reserved 0, u32 length. */
function headerOnly(type: number, length: number): Uint8Array {
  const view = new DataView(new ArrayBuffer(8))
  view.setUint8(0, type)
  view.setUint32(4, length, true)
  return new Uint8Array(view.buffer)
}

const mp = (text: string) => handMsgpack(text, { maps: 'fixmap' })

// A valid ACK (server → edge): { channel: 2, nextSeq: 100 }, 8 + 19 bytes.
const ACK_BODY = mp(`M2 a7 'channel' 02 a7 'nextSeq' 64`)
const ACK = messageBytes(T.ACK, ACK_BODY)
// A valid HEARTBEAT (both directions): { timeMs: 1.5 }
const HEARTBEAT = messageBytes(T.HEARTBEAT, mp(`M1 a6 'timeMs' cb 3f f8 00 00 00 00 00 00`))

/** A classic frame with 8 data bytes: 22 bytes. */
const CLASSIC8: RecordSpec = { timestampNs: 5n, id: 0x100, data: [1, 2, 3, 4, 5, 6, 7, 8] }

interface ExpectedError {
  code: ProtocolErrorCode
  typeCode: number | undefined
  offset: number
}

interface Options {
  options?: Omit<DecoderOptions, 'peerRole'>
  /** feed the stream whole only (long streams) */
  wholeOnly?: boolean
  /** a pattern the error message must match */
  message?: RegExp
  /** messages delivered before the error, in every chunking */
  before?: number
}

/**
 * Feeds `stream` from a peer of role `peerRole` in every chunking, then calls end(), and
 * checks the first throw is the expected ProtocolError. The decoder then stays failed.
 */
function expectError(
  peerRole: Role,
  stream: Uint8Array,
  expected: ExpectedError,
  { options, wholeOnly, message, before = 0 }: Options = {},
): void {
  const feeds = wholeOnly ? [{ name: 'whole', chunks: [stream] }] : chunkings(stream)
  for (const { name, chunks } of feeds) {
    const decoder = new Decoder({ peerRole, ...options })
    const { messages, error } = feed(decoder, chunks)
    expect(error, name).toBeInstanceOf(ProtocolError)
    const e = error as ProtocolError
    expect(
      { code: e.code, typeCode: e.typeCode, offset: e.offset },
      `${name}: ${e.message}`,
    ).toEqual(expected)
    expect(e.message.startsWith(`${expected.code}: `), name).toBe(true)
    if (message) expect(e.message, name).toMatch(message)
    expect(messages.length, name).toBe(before)
    // failed for good: anything else throws the same error
    expect(
      thrownBy(() => decoder.end()),
      name,
    ).toBe(e)
    expect(
      thrownBy(() => decoder.push(new Uint8Array(0))),
      name,
    ).toBe(e)
  }
}

describe('preamble errors (§2)', () => {
  it('BAD_MAGIC at the first wrong byte', () => {
    expectError(EDGE, hex('58 41 4e 42 01 00 01 00'), {
      code: 'BAD_MAGIC',
      typeCode: undefined,
      offset: 0,
    })
    expectError(EDGE, hex('43 41 4e 58 01 00 01 00'), {
      code: 'BAD_MAGIC',
      typeCode: undefined,
      offset: 3,
    })
    expectError(EDGE, hex('63 61 6e 62 01 00 01 00'), {
      code: 'BAD_MAGIC',
      typeCode: undefined,
      offset: 0,
    })
    // an HTTP client, a TLS ClientHello
    expectError(SERVER, new TextEncoder().encode('GET / HTTP/1.1\r\n'), {
      code: 'BAD_MAGIC',
      typeCode: undefined,
      offset: 0,
    })
    expectError(SERVER, hex('16 03 01 02 00 01 00 01 fc 03 03'), {
      code: 'BAD_MAGIC',
      typeCode: undefined,
      offset: 0,
    })
  })

  it('VERSION_MISMATCH names both versions, on both ends', () => {
    const v2 = { code: 'VERSION_MISMATCH', typeCode: undefined, offset: 4 } as const
    expectError(EDGE, preambleBytes(EDGE, 2), v2, { message: /version 2\b.*version 1\b/ })
    expectError(SERVER, preambleBytes(SERVER, 2), v2, { message: /version 2\b.*version 1\b/ })
    expectError(EDGE, preambleBytes(EDGE, 0), v2, { message: /version 0\b.*version 1\b/ })
    // u16 little-endian: 00 01 is version 256, not 1
    expectError(EDGE, hex('43 41 4e 42 00 01 01 00'), v2, { message: /version 256\b/ })
    // the version is read before the role: a v2 peer of any role is reported as such
    expectError(EDGE, preambleBytes(9, 2, 7), v2)
  })

  it('BAD_ROLE: an edge expects a server and a server expects an edge', () => {
    const bad = { code: 'BAD_ROLE', typeCode: undefined, offset: 6 } as const
    expectError(EDGE, preambleBytes(SERVER), bad)
    expectError(SERVER, preambleBytes(EDGE), bad)
    expectError(EDGE, preambleBytes(0), bad)
    expectError(EDGE, preambleBytes(3), bad)
    expectError(SERVER, preambleBytes(0xff), bad)
  })

  it('BAD_PREAMBLE: reserved byte not 0', () => {
    const bad = { code: 'BAD_PREAMBLE', typeCode: undefined, offset: 7 } as const
    expectError(EDGE, preambleBytes(EDGE, 1, 1), bad)
    expectError(SERVER, preambleBytes(SERVER, 1, 0x80), bad)
  })
})

describe('header errors (§3, §4)', () => {
  // Header errors must be raised as soon as the 8 header bytes are in, without the body:
  // the streams below stop after the header, so a decoder that waited for the body would
  // report TRUNCATED_STREAM from end() instead.

  it('BAD_HEADER: flags not 0', () => {
    const header = messageBytes(T.HEARTBEAT, new Uint8Array(0), 1)
    expectError(EDGE, from(EDGE, header), { code: 'BAD_HEADER', typeCode: T.HEARTBEAT, offset: 9 })
    expectError(SERVER, from(SERVER, hex('11 80 00 00 13 00 00 00')), {
      code: 'BAD_HEADER',
      typeCode: T.ACK,
      offset: 9,
    })
  })

  it('BAD_HEADER: reserved bytes not 0 (offset: the first of the zero bytes 1..3)', () => {
    const bad = { code: 'BAD_HEADER', typeCode: T.DATA, offset: 9 } as const
    expectError(EDGE, from(EDGE, hex('10 00 01 00 1a 00 00 00')), bad)
    expectError(EDGE, from(EDGE, hex('10 00 00 80 1a 00 00 00')), bad)
  })

  it('BAD_HEADER after a good message: offset in the stream', () => {
    // 8 preamble + 27 ACK, then the bad header at 35
    expectError(
      SERVER,
      from(SERVER, ACK, hex('30 00 00 01 00 00 00 00')),
      { code: 'BAD_HEADER', typeCode: T.HEARTBEAT, offset: 36 },
      { before: 1 },
    )
  })

  it('UNKNOWN_TYPE for every code §4 does not list, from either peer', () => {
    const known = new Set<number>(Object.values(T))
    for (let type = 0; type < 256; type++) {
      if (known.has(type)) continue
      for (const role of [EDGE, SERVER]) {
        expectError(
          role,
          from(role, headerOnly(type, 0)),
          { code: 'UNKNOWN_TYPE', typeCode: type, offset: 8 },
          { wholeOnly: type !== 0 && type !== 0x13 && type !== 0xff },
        )
      }
    }
  })

  it('UNEXPECTED_TYPE: a server refuses server-to-edge types', () => {
    for (const type of SERVER_TO_EDGE) {
      expectError(EDGE, from(EDGE, headerOnly(type, 3)), {
        code: 'UNEXPECTED_TYPE',
        typeCode: type,
        offset: 8,
      })
    }
  })

  it('UNEXPECTED_TYPE: an edge refuses edge-to-server types', () => {
    for (const type of EDGE_TO_SERVER) {
      expectError(SERVER, from(SERVER, headerOnly(type, 3)), {
        code: 'UNEXPECTED_TYPE',
        typeCode: type,
        offset: 8,
      })
    }
  })

  it('types sent by both are accepted from either peer', () => {
    for (const role of [EDGE, SERVER]) {
      for (const type of BOTH) {
        // header only: no error until end(), which finds the body missing
        expectError(role, from(role, headerOnly(type, 3)), {
          code: 'TRUNCATED_STREAM',
          typeCode: undefined,
          offset: 8,
        })
      }
    }
  })

  it('MESSAGE_TOO_LARGE as soon as the header is in, before any body byte', () => {
    for (const length of [1_048_577, 0x7fffffff, 0xffffffff]) {
      for (const [role, type] of [
        [EDGE, T.DATA],
        [SERVER, T.ACK],
        [EDGE, T.HEARTBEAT],
      ] as const) {
        const stream = from(role, headerOnly(type, length))
        expectError(role, stream, { code: 'MESSAGE_TOO_LARGE', typeCode: type, offset: 12 })
        // and it is write() that throws, with the header just complete
        for (const { name, chunks } of chunkings(stream)) {
          const decoder = new Decoder({ peerRole: role })
          const { error } = feed(decoder, chunks, false)
          expect((error as ProtocolError | undefined)?.code, name).toBe('MESSAGE_TOO_LARGE')
        }
      }
    }
  })

  it('MESSAGE_TOO_LARGE: the default limit is exactly 1 MiB', () => {
    const decoder = new Decoder({ peerRole: EDGE })
    expect(decoder.maxMessageBytes).toBe(1_048_576)
    decoder.push(from(EDGE, headerOnly(T.DATA, 1_048_576)))
    expect(decoder.bufferedBytes).toBe(8)
    expect(decoder.offset).toBe(8)
  })

  it('MESSAGE_TOO_LARGE with a lower maxMessageBytes', () => {
    const options = { maxMessageBytes: 100 }
    expectError(
      EDGE,
      from(EDGE, headerOnly(T.DATA, 101)),
      { code: 'MESSAGE_TOO_LARGE', typeCode: T.DATA, offset: 12 },
      { options, message: /101\b.*\b100\b/ },
    )
    // a body of exactly the limit is fine: 12 + 4 x 22 = 100 bytes
    const batch = dataMessageBytes(0, 0, [CLASSIC8, CLASSIC8, CLASSIC8, CLASSIC8].map(recordBytes))
    expect(batch.length).toBe(108)
    for (const { name, chunks } of chunkings(from(EDGE, batch))) {
      const { messages, error } = feed(new Decoder({ peerRole: EDGE, ...options }), chunks)
      expect(error, name).toBeUndefined()
      expect(messages.length, name).toBe(1)
    }
    expectError(
      EDGE,
      from(EDGE, batch),
      { code: 'MESSAGE_TOO_LARGE', typeCode: T.DATA, offset: 12 },
      { options: { maxMessageBytes: 99 } },
    )
  })

  it('the limit can be raised after a handshake (a server keeps it low until then)', () => {
    const decoder = new Decoder({ peerRole: EDGE, maxMessageBytes: 100 })
    decoder.push(from(EDGE, new Uint8Array(0)))
    expect(() => decoder.push(headerOnly(T.DATA, 101))).toThrow(/MESSAGE_TOO_LARGE/)
    const raised = new Decoder({ peerRole: EDGE, maxMessageBytes: 100 })
    raised.maxMessageBytes = 200
    raised.push(from(EDGE, headerOnly(T.DATA, 101)))
    expect(raised.bufferedBytes).toBe(8)
    expect(() => {
      raised.maxMessageBytes = 1_048_577
    }).toThrow(/maxMessageBytes must be an integer in 1..1048576/)
  })

  it('refuses bad options', () => {
    expect(() => new Decoder({ peerRole: 3 as Role })).toThrow(RangeError)
    for (const maxMessageBytes of [0, 1_048_577, 1.5, Number.NaN]) {
      expect(() => new Decoder({ peerRole: EDGE, maxMessageBytes })).toThrow(/maxMessageBytes/)
    }
    for (const maxBatchFrames of [0, 4097, 2.5]) {
      expect(() => new Decoder({ peerRole: EDGE, maxBatchFrames })).toThrow(/maxBatchFrames/)
    }
  })
})

describe('DATA batch errors (§6)', () => {
  // Body starts at 16 (8 preamble + 8 header); records at 28.
  const data = (body: Uint8Array) => from(EDGE, messageBytes(T.DATA, body))

  it('BATCH_TOO_LARGE: count 0', () => {
    expectError(EDGE, data(batchBody(0, 0, [], 0)), {
      code: 'BATCH_TOO_LARGE',
      typeCode: T.DATA,
      offset: 18,
    })
    expectError(EDGE, data(batchBody(0, 0, [recordBytes(CLASSIC8)], 0)), {
      code: 'BATCH_TOO_LARGE',
      typeCode: T.DATA,
      offset: 18,
    })
  })

  it('BATCH_TOO_LARGE: count above 4096, or above maxBatchFrames', () => {
    expectError(EDGE, data(batchBody(0, 0, [recordBytes(CLASSIC8)], 4097)), {
      code: 'BATCH_TOO_LARGE',
      typeCode: T.DATA,
      offset: 18,
    })
    expectError(EDGE, data(batchBody(0, 0, [recordBytes(CLASSIC8)], 0xffff)), {
      code: 'BATCH_TOO_LARGE',
      typeCode: T.DATA,
      offset: 18,
    })
    const three = [CLASSIC8, CLASSIC8, CLASSIC8].map(recordBytes)
    expectError(
      EDGE,
      data(batchBody(0, 0, three)),
      { code: 'BATCH_TOO_LARGE', typeCode: T.DATA, offset: 18 },
      { options: { maxBatchFrames: 2 } },
    )
  })

  it('4096 records is the limit and fits', () => {
    const remote = recordBytes({ timestampNs: 1n, id: 1, flags: 0x02, len: 8 })
    const records = Array.from({ length: 4096 }, () => remote)
    const decoder = new Decoder({ peerRole: EDGE })
    const [message] = decoder.push(data(batchBody(0, 0, records)))
    expect(message?.type === 'DATA' && message.batch.count).toBe(4096)
  })

  it('BAD_LENGTH: body shorter than the 12-byte batch header', () => {
    for (const length of [0, 1, 11]) {
      expectError(EDGE, data(new Uint8Array(length)), {
        code: 'BAD_LENGTH',
        typeCode: T.DATA,
        offset: 16,
      })
    }
  })

  it('BAD_LENGTH: bytes after the last record, at the first extra byte', () => {
    const body = concat(batchBody(0, 0, [recordBytes(CLASSIC8)]), hex('00 00 00'))
    expectError(EDGE, data(body), { code: 'BAD_LENGTH', typeCode: T.DATA, offset: 28 + 22 })
    // count 1, but two records
    const two = batchBody(0, 0, [recordBytes(CLASSIC8), recordBytes(CLASSIC8)], 1)
    expectError(EDGE, data(two), { code: 'BAD_LENGTH', typeCode: T.DATA, offset: 28 + 22 })
  })

  it('BAD_SEQUENCE: the last sequence number beyond 2^53 - 1', () => {
    const bad = { code: 'BAD_SEQUENCE', typeCode: T.DATA, offset: 20 } as const
    const one = [recordBytes(CLASSIC8)]
    expectError(EDGE, data(batchBody(0, 2n ** 53n, one)), bad)
    expectError(EDGE, data(batchBody(0, 2n ** 64n - 1n, one)), bad)
    expectError(EDGE, data(batchBody(0, 2n ** 53n - 1n, [...one, ...one])), bad)
    expectError(EDGE, data(batchBody(0, 2n ** 53n - 3n, [...one, ...one, ...one, ...one])), bad)
    // the edge of the range is fine
    const decoder = new Decoder({ peerRole: EDGE })
    const [message] = decoder.push(data(batchBody(0, 2n ** 53n - 2n, [...one, ...one])))
    expect(message?.type === 'DATA' && message.batch.firstSeq).toBe(2 ** 53 - 2)
  })

  describe('BAD_FRAME, each rule of §6.2, offset at the record', () => {
    const invalid: [string, RecordSpec][] = [
      ['reserved bit 0x80', { timestampNs: 0n, id: 1, flags: 0x80, data: [] }],
      [
        'reserved bit with everything else valid',
        { timestampNs: 0n, id: 1, flags: 0x81, data: [1] },
      ],
      ['standard id above 0x7ff', { timestampNs: 0n, id: 0x800, data: [] }],
      ['standard id 0x1fffffff without EXT', { timestampNs: 0n, id: 0x1fffffff, data: [] }],
      ['extended id above 0x1fffffff', { timestampNs: 0n, id: 0x20000000, flags: 0x01, data: [] }],
      ['extended id 0xffffffff', { timestampNs: 0n, id: 0xffffffff, flags: 0x01, data: [] }],
      ['RTR with FD', { timestampNs: 0n, id: 1, flags: 0x0a, len: 8 }],
      ['RTR DLC 9', { timestampNs: 0n, id: 1, flags: 0x02, len: 9 }],
      ['RTR DLC 64', { timestampNs: 0n, id: 1, flags: 0x02, len: 64 }],
      ['FD length 9', { timestampNs: 0n, id: 1, flags: 0x08, data: new Array(9).fill(0) }],
      ['FD length 13', { timestampNs: 0n, id: 1, flags: 0x08, data: new Array(13).fill(0) }],
      ['FD length 65', { timestampNs: 0n, id: 1, flags: 0x08, data: new Array(65).fill(0) }],
      ['FD length 255', { timestampNs: 0n, id: 1, flags: 0x08, len: 255 }],
      ['classic length 9', { timestampNs: 0n, id: 1, data: new Array(9).fill(0) }],
      ['classic length 64', { timestampNs: 0n, id: 1, data: new Array(64).fill(0) }],
      ['BRS without FD', { timestampNs: 0n, id: 1, flags: 0x10, data: [] }],
      ['ESI without FD', { timestampNs: 0n, id: 1, flags: 0x20, data: [] }],
      ['ERR with RTR', { timestampNs: 0n, id: 1, flags: 0x06, len: 0 }],
      ['ERR with FD', { timestampNs: 0n, id: 1, flags: 0x0c, data: [] }],
      ['ERR with BRS', { timestampNs: 0n, id: 1, flags: 0x14, data: [] }],
      ['ERR length 9', { timestampNs: 0n, id: 1, flags: 0x04, data: new Array(9).fill(0) }],
      ['ERR class above 0x1fffffff', { timestampNs: 0n, id: 0x20000000, flags: 0x04, data: [] }],
    ]
    for (const [name, spec] of invalid) {
      it(name, () => {
        // as the only record: at 28
        expectError(EDGE, data(batchBody(0, 0, [recordBytes(spec)])), {
          code: 'BAD_FRAME',
          typeCode: T.DATA,
          offset: 28,
        })
        // as the third record, after two valid ones (22 + 14 bytes): at 64
        const remote = { timestampNs: 0n, id: 7, flags: 0x02, len: 3 }
        const body = batchBody(1, 9, [
          recordBytes(CLASSIC8),
          recordBytes(remote),
          recordBytes(spec),
        ])
        expectError(
          EDGE,
          data(body),
          { code: 'BAD_FRAME', typeCode: T.DATA, offset: 28 + 22 + 14 },
          { message: /record 2\b/ },
        )
      })
    }

    it('the valid limits next to each rule are accepted', () => {
      const valid: RecordSpec[] = [
        { timestampNs: 0n, id: 0x7ff, data: [] },
        { timestampNs: 0n, id: 0x1fffffff, flags: 0x01, data: [] },
        { timestampNs: 0n, id: 0x7ff, flags: 0x02, len: 8 },
        { timestampNs: 0n, id: 0x1fffffff, flags: 0x03, len: 0 },
        { timestampNs: 0n, id: 0x1fffffff, flags: 0x04, data: new Array(8).fill(0) },
        { timestampNs: 0n, id: 0x1fffffff, flags: 0x05, data: [] },
        { timestampNs: 0n, id: 0, flags: 0x79, data: new Array(64).fill(0) }, // TX|ESI|BRS|FD|EXT
        { timestampNs: 0n, id: 0, flags: 0x08, data: [] },
        { timestampNs: 0n, id: 0, flags: 0x48, data: new Array(8).fill(0) },
        { timestampNs: 0n, id: 0, flags: 0x40, data: new Array(8).fill(0) },
        { timestampNs: 0n, id: 0, flags: 0x44, data: [] },
      ]
      for (const [i, spec] of valid.entries()) {
        const decoder = new Decoder({ peerRole: EDGE })
        const { error, messages } = feed(decoder, [data(batchBody(0, 0, [recordBytes(spec)]))])
        expect(error, `valid record ${i}`).toBeUndefined()
        expect(messages.length).toBe(1)
      }
    })
  })

  it('TRUNCATED_RECORD: no room for the next record header, at that record', () => {
    // count 2, one record present
    const body = batchBody(0, 0, [recordBytes(CLASSIC8)], 2)
    expectError(EDGE, data(body), { code: 'TRUNCATED_RECORD', typeCode: T.DATA, offset: 50 })
    // count 1, 10 bytes of a record header
    const partial = batchBody(0, 0, [recordBytes(CLASSIC8).subarray(0, 10)])
    expectError(EDGE, data(partial), { code: 'TRUNCATED_RECORD', typeCode: T.DATA, offset: 28 })
  })

  it('TRUNCATED_RECORD: data runs past the body, at the record (not past it)', () => {
    const short = batchBody(0, 0, [recordBytes(CLASSIC8).subarray(0, 14 + 4)])
    expectError(EDGE, data(short), { code: 'TRUNCATED_RECORD', typeCode: T.DATA, offset: 28 })
    const fd64 = recordBytes({ timestampNs: 0n, id: 1, flags: 0x08, data: new Array(64).fill(9) })
    const second = batchBody(0, 0, [recordBytes(CLASSIC8), fd64.subarray(0, fd64.length - 1)])
    expectError(EDGE, data(second), { code: 'TRUNCATED_RECORD', typeCode: T.DATA, offset: 50 })
  })
})

describe('TRUNCATED_STREAM (end() inside a message)', () => {
  it('inside the preamble', () => {
    expectError(EDGE, preambleBytes(EDGE).subarray(0, 5), {
      code: 'TRUNCATED_STREAM',
      typeCode: undefined,
      offset: 0,
    })
  })

  it('inside a header, and inside a body', () => {
    const message = messageBytes(T.ACK, ACK_BODY)
    for (const cut of [1, 7, 8, 9, message.length - 1]) {
      expectError(SERVER, from(SERVER, message.subarray(0, cut)), {
        code: 'TRUNCATED_STREAM',
        typeCode: undefined,
        offset: 8,
      })
    }
  })

  it('after complete messages: at the start of the cut one', () => {
    expectError(
      SERVER,
      from(SERVER, ACK, HEARTBEAT, ACK.subarray(0, 20)),
      { code: 'TRUNCATED_STREAM', typeCode: undefined, offset: 8 + ACK.length + HEARTBEAT.length },
      { before: 2 },
    )
  })

  it('end() after whole messages, or before anything, is fine', () => {
    for (const stream of [new Uint8Array(0), preambleBytes(SERVER), from(SERVER, ACK, HEARTBEAT)]) {
      for (const { name, chunks } of chunkings(stream)) {
        expect(feed(new Decoder({ peerRole: SERVER }), chunks).error, name).toBeUndefined()
      }
    }
  })
})

describe('BAD_CONTROL (§5)', () => {
  /** A control message from `role` whose body is hand-written msgpack; body at offset 16. */
  function badControl(role: Role, type: number, body: string | Uint8Array, field?: RegExp): void {
    const bytes = typeof body === 'string' ? mp(body) : body
    expectError(
      role,
      from(role, messageBytes(type, bytes)),
      { code: 'BAD_CONTROL', typeCode: type, offset: 16 },
      field ? { message: field } : {},
    )
  }

  it('not msgpack', () => {
    badControl(SERVER, T.ACK, new Uint8Array(0)) // nothing at all
    badControl(SERVER, T.ACK, 'c1') // 0xc1 is never used
    badControl(SERVER, T.ACK, `82 a7 'channel'`) // cut short
    badControl(SERVER, T.ACK, `82 a7 'chan'`) // string shorter than its header says
    badControl(SERVER, T.ACK, 'db ff ff ff ff 00') // str32 of 4 GiB
    badControl(SERVER, T.ACK, 'dd ff ff ff ff') // array32 of 2^32 - 1 items
    badControl(SERVER, T.ACK, 'df ff ff ff ff') // map32 of 2^32 - 1 entries
  })

  it('trailing bytes after the value', () => {
    badControl(SERVER, T.ACK, `M2 a7 'channel' 02 a7 'nextSeq' 64 c0`)
    badControl(SERVER, T.ACK, `M2 a7 'channel' 02 a7 'nextSeq' 64 M0`)
  })

  it('not a map', () => {
    for (const body of [
      '92 02 64',
      '07',
      `a3 'abc'`,
      'c0',
      'c3',
      'c4 02 00 00',
      'cb 3f f8 00 00 00 00 00 00',
    ]) {
      badControl(SERVER, T.ACK, body, /^BAD_CONTROL: ACK must be a map/)
    }
  })

  it('a missing field', () => {
    badControl(SERVER, T.ACK, `M1 a7 'channel' 02`, /ACK\.nextSeq\b/)
    badControl(SERVER, T.ACK, `M1 a7 'nextSeq' 02`, /ACK\.channel\b/)
    badControl(SERVER, T.ACK, `M0`, /ACK\.channel\b/)
    badControl(EDGE, T.ERROR, `M2 a4 'code' a1 'x' a7 'message' a0`, /ERROR\.fatal\b/)
  })

  it('a missing int | nil field (§5: only fields marked ? are optional)', () => {
    badControl(SERVER, T.SET_FILTERS, `M1 a7 'filters' 90`, /SET_FILTERS\.channel\b/)
    badControl(
      EDGE,
      T.DROPS,
      `M3 a7 'channel' 00 a5 'count' 01 a6 'reason' a3 'ttl'`,
      /DROPS\.fromSeq\b/,
    )
    badControl(
      SERVER,
      T.WELCOME,
      `M4 a8 'serverId' a0 ab 'heartbeatMs' cd 03 e8 a8 'channels' 91 M1 a4 'name' a1 'a'
          ac 'capabilities' 90`,
      /WELCOME\.channels\[0\]\.nextSeq\b/,
    )
  })

  it('a field of the wrong type', () => {
    badControl(SERVER, T.ACK, `M2 a7 'channel' a1 'x' a7 'nextSeq' 64`, /ACK\.channel\b/)
    badControl(SERVER, T.ACK, `M2 a7 'channel' 02 a7 'nextSeq' c3`, /ACK\.nextSeq\b/)
    badControl(SERVER, T.ACK, `M2 a7 'channel' 02 a7 'nextSeq' c0`, /ACK\.nextSeq\b/)
    badControl(SERVER, T.ACK, `M2 a7 'channel' 92 01 02 a7 'nextSeq' 64`, /ACK\.channel\b/)
    badControl(SERVER, T.ACK, `M2 a7 'channel' M0 a7 'nextSeq' 64`, /ACK\.channel\b/)
    badControl(EDGE, T.HEARTBEAT, `M1 a6 'timeMs' a3 'now'`, /HEARTBEAT\.timeMs\b/)
    badControl(EDGE, T.ERROR, `M3 a4 'code' a1 'x' a7 'message' a0 a5 'fatal' 01`, /ERROR\.fatal\b/)
    badControl(
      EDGE,
      T.STATS,
      `M3 a8 'uptimeMs' 01 aa 'reconnects' 00 a8 'channels' 91
          M2 a7 'channel' 00 a8 'counters' M1 a1 'x' a1 'y'`,
      /STATS\.channels\[0\]\.counters\.x\b/,
    )
  })

  it('a map whose keys shadow Object.prototype (regression: TypeError escaped)', () => {
    // { channel: { toString: 1 }, nextSeq: 0 }: describing the bad value must not call it
    badControl(SERVER, T.ACK, `M2 a7 'channel' M1 a8 'toString' 01 a7 'nextSeq' 00`, /ACK\.channel/)
    badControl(
      SERVER,
      T.ACK,
      `M2 a7 'channel' 91 M1 a7 'valueOf' 01 a7 'nextSeq' 00`,
      /ACK\.channel/,
    )
    badControl(EDGE, T.HELLO, `M1 a6 'edgeId' M1 a8 'toString' c0`, /HELLO\.edgeId/)
  })

  it('a value out of range', () => {
    badControl(SERVER, T.ACK, `M2 a7 'channel' ce 00 01 00 00 a7 'nextSeq' 64`, /ACK\.channel\b/)
    badControl(SERVER, T.ACK, `M2 a7 'channel' ff a7 'nextSeq' 64`, /ACK\.channel\b/) // -1
    badControl(
      SERVER,
      T.ACK,
      `M2 a7 'channel' 02 a7 'nextSeq' cf 00 20 00 00 00 00 00 00`,
      /ACK\.nextSeq\b/,
    ) // 2^53
    badControl(
      SERVER,
      T.ACK,
      `M2 a7 'channel' 02 a7 'nextSeq' cb 3f f8 00 00 00 00 00 00`,
      /ACK\.nextSeq\b/,
    ) // 1.5
    badControl(
      SERVER,
      T.ACK,
      `M2 a7 'channel' 02 a7 'nextSeq' cb 7f f8 00 00 00 00 00 00`,
      /ACK\.nextSeq\b/,
    ) // NaN
    badControl(
      EDGE,
      T.HELLO,
      `M5 a6 'edgeId' a0 aa 'instanceId' a1 'i' a8 'software' a0
      a8 'channels' 91 M3 a4 'name' a1 'c' a2 'fd' c2 a7 'nextSeq' 00 ac 'capabilities' 90`,
      /HELLO\.edgeId\b/,
    )
    badControl(
      EDGE,
      T.HELLO,
      `M5 a6 'edgeId' a1 'e' aa 'instanceId' a1 'i' a8 'software' a0
      a8 'channels' 90 ac 'capabilities' 90`,
      /HELLO\.channels\b/,
    )
    for (const ms of ['63', 'cd ea 61']) {
      // 99 and 60001: heartbeatMs is 100..60000
      badControl(
        SERVER,
        T.WELCOME,
        `M4 a8 'serverId' a0 ab 'heartbeatMs' ${ms} a8 'channels' 90
        ac 'capabilities' 90`,
        /WELCOME\.heartbeatMs\b/,
      )
    }
    badControl(EDGE, T.BUS_STATE, `M2 a7 'channel' 00 a5 'state' a6 'asleep'`, /BUS_STATE\.state\b/)
    badControl(
      EDGE,
      T.TRANSMIT_RESULT,
      `M3 a9 'requestId' 01 a2 'ok' c2 a5 'error' a4 'oops'`,
      /TRANSMIT_RESULT\.error\b/,
    )
    badControl(
      SERVER,
      T.PERIODIC_START,
      `M4 a6 'taskId' 01 a7 'channel' 00 a6 'frames' 91
      M3 a2 'id' 01 a5 'flags' 00 a4 'data' c4 00 a8 'periodMs' 00`,
      /PERIODIC_START\.periodMs\b/,
    )
    badControl(
      SERVER,
      T.PERIODIC_MODIFY,
      `M2 a6 'taskId' 01 a6 'frames' 90`,
      /PERIODIC_MODIFY\.frames\b/,
    )
    badControl(
      SERVER,
      T.PERIODIC_STOP,
      `M1 a6 'taskId' cb bf f0 00 00 00 00 00 00`,
      /PERIODIC_STOP\.taskId\b/,
    ) // -1.0
  })

  describe('TX frames invalid as in §6.2', () => {
    const transmit = (frame: string) => `M3 a9 'requestId' 01 a7 'channel' 00 a5 'frame' ${frame}`
    const cases: [string, string][] = [
      ['FD length 9', `M3 a2 'id' 01 a5 'flags' 08 a4 'data' c4 09 000000000000000000`],
      [
        'FD len 13 given',
        `M4 a2 'id' 01 a5 'flags' 08 a3 'len' 0d a4 'data' c4 0d 00000000000000000000000000`,
      ],
      ['classic length 9', `M3 a2 'id' 01 a5 'flags' 00 a4 'data' c4 09 000000000000000000`],
      [
        'remote frame with data bytes',
        `M4 a2 'id' 01 a5 'flags' 02 a3 'len' 02 a4 'data' c4 02 0000`,
      ],
      ['len and data disagree', `M4 a2 'id' 01 a5 'flags' 00 a3 'len' 08 a4 'data' c4 02 0000`],
      ['standard id 0x800', `M3 a2 'id' cd 08 00 a5 'flags' 00 a4 'data' c4 00`],
      ['flags above 0xff', `M3 a2 'id' 01 a5 'flags' cd 01 00 a4 'data' c4 00`],
      ['reserved flag', `M3 a2 'id' 01 a5 'flags' cc 80 a4 'data' c4 00`],
      ['data not binary', `M3 a2 'id' 01 a5 'flags' 00 a4 'data' 92 01 02`],
      ['frame not a map', `a5 'frame'`],
    ]
    for (const [name, frame] of cases) {
      it(name, () => {
        badControl(SERVER, T.TRANSMIT, transmit(frame), /TRANSMIT\.frame\b/)
      })
    }
  })

  it('decodeControlBody alone: offset as given', () => {
    const error = thrownBy(() => decodeControlBody('ACK', mp('M0'), 40)) as ProtocolError
    expect(error).toBeInstanceOf(ProtocolError)
    expect([error.code, error.typeCode, error.offset]).toEqual(['BAD_CONTROL', T.ACK, 40])
    expect(decodeControlBody('ACK', ACK_BODY)).toEqual({ channel: 2, nextSeq: 100 })
  })
})

describe('every error code is provoked here', () => {
  it('the list of codes is the one tested above', () => {
    expect(Object.keys(PROTOCOL_ERROR_CODE).sort()).toEqual(
      [
        'BAD_MAGIC',
        'VERSION_MISMATCH',
        'BAD_ROLE',
        'BAD_PREAMBLE',
        'BAD_HEADER',
        'UNKNOWN_TYPE',
        'UNEXPECTED_TYPE',
        'MESSAGE_TOO_LARGE',
        'BATCH_TOO_LARGE',
        'BAD_LENGTH',
        'BAD_SEQUENCE',
        'BAD_FRAME',
        'TRUNCATED_RECORD',
        'TRUNCATED_STREAM',
        'BAD_CONTROL',
      ].sort(),
    )
  })
})

describe('failure behaviour', () => {
  it('messages before the bad one in the same chunk are delivered before write() throws', () => {
    const stream = from(SERVER, ACK, HEARTBEAT, hex('11 00 00 07 00 00 00 00'))
    for (const { name, chunks } of chunkings(stream)) {
      const decoder = new Decoder({ peerRole: SERVER })
      const seen: DecodedMessage['type'][] = []
      let thrown: unknown
      for (const chunk of chunks) {
        thrown = thrownBy(() => decoder.write(chunk, (message) => seen.push(message.type)))
        if (thrown) break
      }
      expect(seen, name).toEqual(['ACK', 'HEARTBEAT'])
      expect((thrown as ProtocolError).code, name).toBe('BAD_HEADER')
      expect((thrown as ProtocolError).offset, name).toBe(8 + ACK.length + HEARTBEAT.length + 1)
    }
  })

  it('a batch delivered before a bad one stays readable', () => {
    const good = dataMessageBytes(3, 40, [recordBytes(CLASSIC8)])
    const bad = dataMessageBytes(3, 41, [recordBytes({ timestampNs: 0n, id: 0x800, data: [] })])
    const decoder = new Decoder({ peerRole: EDGE })
    const delivered: DecodedMessage[] = []
    const error = thrownBy(() => decoder.write(from(EDGE, good, bad), (m) => delivered.push(m)))
    expect((error as ProtocolError).code).toBe('BAD_FRAME')
    expect((error as ProtocolError).offset).toBe(8 + good.length + 8 + 12)
    expect(delivered.length).toBe(1)
    const [message] = delivered
    if (message?.type !== 'DATA') throw new Error('expected DATA')
    expect(message.batch.firstSeq).toBe(40)
    expect(Array.from(message.batch.frames()[0]!.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
  })

  it('stays failed: later input, even valid, rethrows the first error', () => {
    const decoder = new Decoder({ peerRole: SERVER })
    const first = thrownBy(() => decoder.push(from(SERVER, hex('77 00 00 00 00 00 00 00'))))
    expect((first as ProtocolError).code).toBe('UNKNOWN_TYPE')
    expect(thrownBy(() => decoder.push(ACK))).toBe(first)
    expect(thrownBy(() => decoder.write(HEARTBEAT, () => {}))).toBe(first)
    expect(thrownBy(() => decoder.end())).toBe(first)
    expect(decoder.offset).toBe(8)
  })
})

describe('reading batches', () => {
  const specs: RecordSpec[] = [
    { timestampNs: 1_700_000_000_123_456_000n, id: 0x123, data: [0xde, 0xad] },
    { timestampNs: 0n, id: 0x1abcdef0, flags: 0x03, len: 6 },
    { timestampNs: 1_500_000_000n, id: 0x7ff, flags: 0x38, data: new Array(48).fill(0x5a) },
    { timestampNs: 2n ** 64n - 1n, id: 0x44, flags: 0x44, data: [0, 1, 2, 3, 4, 5, 6, 7] },
    { timestampNs: 1n, id: 0, flags: 0x08, data: [] },
  ]
  const stream = from(EDGE, dataMessageBytes(6, 1000, specs.map(recordBytes)))

  function decodeBatch() {
    const [message] = new Decoder({ peerRole: EDGE }).push(stream)
    if (message?.type !== 'DATA') throw new Error('expected DATA')
    return message.batch
  }

  it('frames() gives the records as built', () => {
    const batch = decodeBatch()
    expect([batch.channel, batch.count, batch.firstSeq]).toEqual([6, 5, 1000])
    expect(batch.frames().map((f) => ({ ...f, data: Array.from(f.data) }))).toEqual(
      specs.map((s) => ({
        timestampNs: s.timestampNs,
        id: s.id,
        flags: s.flags ?? 0,
        len: s.len ?? s.data?.length ?? 0,
        data: s.flags !== undefined && s.flags & 0x02 ? [] : (s.data ?? []),
      })),
    )
  })

  it('a zero-copy FrameReader walk gives the same values as frames()', () => {
    const batch = decodeBatch()
    const frames = batch.frames()
    const reader = batch.reader()
    let i = 0
    while (reader.next()) {
      const frame = frames[i]!
      expect(reader.seq).toBe(1000 + i)
      expect(reader.id).toBe(frame.id)
      expect(reader.flags).toBe(frame.flags)
      expect(reader.len).toBe(frame.len)
      expect(reader.timestampNs()).toBe(frame.timestampNs)
      expect(Array.from(reader.data())).toEqual(Array.from(frame.data))
      expect(reader.dataLength).toBe(frame.data.length)
      // zero copy: the payload is the batch's own bytes
      expect(reader.bytes).toBe(batch.body)
      expect(
        Array.from(reader.bytes.subarray(reader.dataOffset, reader.dataOffset + reader.dataLength)),
      ).toEqual(Array.from(frame.data))
      i++
    }
    expect(i).toBe(5)
    expect(reader.next()).toBe(false)
  })

  it('timestampSeconds() is the timestamp in seconds, to a microsecond', () => {
    const reader = decodeBatch().reader()
    // 2^64 - 1 ns is 18446744073.709551615 s: 18446744073.709553 is the nearest double
    const expected = [1_700_000_000.123456, 0, 1.5, 18_446_744_073.709553, 1e-9]
    for (const seconds of expected) {
      expect(reader.next()).toBe(true)
      const got = reader.timestampSeconds()
      // a microsecond, or a few units in the last place for the far future (2^64 ns)
      const tolerance = Math.max(1e-6, seconds * 2 ** -51)
      expect(Math.abs(got - seconds)).toBeLessThanOrEqual(tolerance)
      // and it agrees with the BigInt path
      expect(Math.abs(got - timestampSecondsFromNs(reader.timestampNs()))).toBeLessThanOrEqual(
        tolerance,
      )
    }
    const small = decodeBatch().reader()
    small.next()
    small.next()
    expect(small.timestampSeconds()).toBe(0)
    small.next()
    expect(small.timestampSeconds()).toBe(1.5)
  })

  it('batches and frames view the decoder input in every chunking', () => {
    for (const { name, chunks } of chunkings(stream)) {
      const { messages, error } = feed(new Decoder({ peerRole: EDGE }), chunks)
      expect(error, name).toBeUndefined()
      expect(messages.length).toBe(1)
      const message = messages[0]!
      expect(message.type === 'DATA' && message.frames.map((f) => f.seq)).toEqual([
        1000, 1001, 1002, 1003, 1004,
      ])
    }
  })
})

it('offsets and buffering while a message is incomplete', () => {
  const decoder = new Decoder({ peerRole: SERVER })
  expect(decoder.push(preambleBytes(SERVER).subarray(0, 3))).toEqual([])
  expect([decoder.offset, decoder.bufferedBytes]).toEqual([0, 3])
  expect(decoder.push(concat(preambleBytes(SERVER).subarray(3), ACK.subarray(0, 10)))).toEqual([])
  expect([decoder.offset, decoder.bufferedBytes]).toEqual([8, 10])
  expect(decoder.peer).toEqual({ version: 1, role: SERVER })
  const messages = decoder.push(concat(ACK.subarray(10), HEARTBEAT))
  expect(messages.map((m) => m.type)).toEqual(['ACK', 'HEARTBEAT'])
  expect([decoder.offset, decoder.bufferedBytes]).toEqual([8 + ACK.length + HEARTBEAT.length, 0])
  expect(PROTOCOL_ERROR_CODE.BAD_MAGIC).toBe('BAD_MAGIC')
})

describe('reusedInput: chunks the caller overwrites once write() returns', () => {
  const records = (n: number) =>
    Array.from({ length: n }, (_, i) => recordBytes({ timestampNs: 1n, id: i, data: [i & 0xff] }))
  const transmit = encodeControl('TRANSMIT', {
    requestId: 7,
    channel: 0,
    frame: { id: 0x123, flags: 0, len: 3, data: Uint8Array.of(1, 2, 3) },
  })

  /** Writes `bytes` as `size`-byte chunks of one buffer that is scribbled over after each. */
  function writeReused(decoder: Decoder, bytes: Uint8Array, size: number, seen: DecodedMessage[]) {
    const buffer = new Uint8Array(size)
    for (let at = 0; at < bytes.length; at += size) {
      const chunk = bytes.subarray(at, at + size)
      buffer.set(chunk)
      decoder.write(buffer.subarray(0, chunk.length), (message) => seen.push(message))
      buffer.fill(0xee)
    }
  }

  it('a control message keeps its binary fields after the chunk is overwritten', () => {
    for (const reusedInput of [true, false]) {
      const seen: DecodedMessage[] = []
      const stream = concat(preambleBytes(SERVER), transmit)
      writeReused(new Decoder({ peerRole: SERVER, reusedInput }), stream, stream.length, seen)
      const message = seen[0]
      if (message?.type !== 'TRANSMIT') throw new Error('expected TRANSMIT')
      // without the option the field views the caller's buffer, which it has overwritten
      expect(Array.from(message.body.frame.data)).toEqual(
        reusedInput ? [1, 2, 3] : [0xee, 0xee, 0xee],
      )
    }
  })

  it('batches that span chunks are put together in one reused buffer', () => {
    const decoder = new Decoder({ peerRole: EDGE, reusedInput: true })
    const buffers: ArrayBufferLike[] = []
    const firstSeqs: number[] = []
    const stream = concat(
      preambleBytes(EDGE),
      dataMessageBytes(0, 0, records(100)),
      dataMessageBytes(0, 100, records(60)),
      dataMessageBytes(0, 160, records(100)),
    )
    const buffer = new Uint8Array(333)
    for (let at = 0; at < stream.length; at += buffer.length) {
      const chunk = stream.subarray(at, at + buffer.length)
      buffer.set(chunk)
      decoder.write(buffer.subarray(0, chunk.length), (message) => {
        if (message.type !== 'DATA') return
        // read while the callback runs, as a receiver must
        const frames = message.batch.frames()
        expect(frames.map((frame) => frame.id)).toEqual(frames.map((_, i) => i))
        if (message.batch.body.buffer !== buffer.buffer) buffers.push(message.batch.body.buffer)
        firstSeqs.push(message.batch.firstSeq)
      })
      buffer.fill(0xee)
    }
    expect(firstSeqs).toEqual([0, 100, 160])
    // all three spanned chunks: one buffer, grown once nothing smaller fit
    expect(buffers.length).toBe(3)
    expect(new Set(buffers).size).toBe(1)
    expect(decoder.bufferedBytes).toBe(0)
  })

  it('without it, each spanning batch gets its own buffer and stays valid', () => {
    const decoder = new Decoder({ peerRole: EDGE })
    const stream = concat(
      preambleBytes(EDGE),
      dataMessageBytes(0, 0, records(100)),
      dataMessageBytes(0, 100, records(100)),
    )
    const kept = feedKept(decoder, stream, 333)
    expect(kept.map((batch) => batch.firstSeq)).toEqual([0, 100])
    expect(kept[0]!.body.buffer).not.toBe(kept[1]!.body.buffer)
    expect(kept[1]!.frames().map((frame) => frame.id)).toEqual(kept[1]!.frames().map((_, i) => i))
  })

  it('control messages that span chunks keep their binary fields', () => {
    const decoder = new Decoder({ peerRole: SERVER, reusedInput: true })
    const seen: DecodedMessage[] = []
    const stream = concat(preambleBytes(SERVER), transmit, transmit)
    writeReused(decoder, stream, 5, seen)
    expect(seen.map((message) => message.type)).toEqual(['TRANSMIT', 'TRANSMIT'])
    for (const message of seen) {
      if (message.type !== 'TRANSMIT') throw new Error('expected TRANSMIT')
      expect(Array.from(message.body.frame.data)).toEqual([1, 2, 3])
    }
  })

  it('refuses a reusedInput that is not a boolean', () => {
    expect(() => new Decoder({ peerRole: EDGE, reusedInput: 'yes' as unknown as boolean })).toThrow(
      new TypeError('reusedInput must be a boolean, got yes'),
    )
  })

  /** Feeds fresh chunks of `size` bytes and keeps every batch. */
  function feedKept(decoder: Decoder, bytes: Uint8Array, size: number) {
    const kept: DataBatch[] = []
    for (let at = 0; at < bytes.length; at += size) {
      decoder.write(bytes.slice(at, at + size), (message) => {
        if (message.type === 'DATA') kept.push(message.batch)
      })
    }
    return kept
  }
})
