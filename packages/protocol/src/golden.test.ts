// Golden vectors: every byte below is written by hand from PROTOCOL.md (and, for control
// bodies, from the msgpack spec), never produced by the code under test. Each vector is
// checked both ways: the encoder must produce exactly these bytes, and the Decoder must
// read them, fed whole, byte by byte and split in two at every offset.
import { describe, expect, it } from 'vitest'
import {
  BatchEncoder,
  type ControlBodies,
  type ControlTypeName,
  Decoder,
  encodeControl,
  encodePreamble,
  ROLE,
  type Role,
} from './index.ts'
import {
  chunkings,
  concat,
  feed,
  handMsgpack,
  hex,
  messageBytes,
  type PlainFrame,
  type PlainMessage,
  plainValue,
  toHex,
} from './testing/index.ts'

// §2: "CANB", u16 version 1 (little-endian), role, reserved 0.
const EDGE_PREAMBLE = '43 41 4e 42 | 01 00 | 01 | 00'
const SERVER_PREAMBLE = '43 41 4e 42 | 01 00 | 02 | 00'

function preambleOf(role: Role): string {
  return role === ROLE.EDGE ? EDGE_PREAMBLE : SERVER_PREAMBLE
}

/**
 * Decodes `stream` (which starts with the peer's preamble) in every chunking and checks
 * each chunking yields exactly `expected` and consumes the whole stream.
 */
function expectDecodes(peerRole: Role, stream: Uint8Array, expected: PlainMessage[]): void {
  // and with reusedInput: each chunk is overwritten once written, as a socket's read buffer is
  for (const reusedInput of [false, true]) {
    let feeds = 0
    for (const { name, chunks } of chunkings(stream)) {
      const decoder = new Decoder({ peerRole, reusedInput })
      const { messages, error } = feed(decoder, reusedInput ? overwritten(chunks) : chunks)
      const label = `${name}${reusedInput ? ', reusedInput' : ''}`
      expect(error, label).toBeUndefined()
      expect(messages, label).toEqual(expected)
      expect(decoder.peer, label).toEqual({ version: 1, role: peerRole })
      expect(decoder.offset, label).toBe(stream.length)
      expect(decoder.bufferedBytes, label).toBe(0)
      feeds++
    }
    // whole + byte by byte + (length - 1) splits
    expect(feeds).toBe(stream.length + 1)
  }
}

/** Each chunk in one reused buffer, filled with 0xee once the decoder is done with it. */
function* overwritten(chunks: Uint8Array[]): Generator<Uint8Array> {
  const buffer = new Uint8Array(Math.max(0, ...chunks.map((chunk) => chunk.length)))
  for (const chunk of chunks) {
    buffer.set(chunk)
    yield buffer.subarray(0, chunk.length)
    buffer.fill(0xee)
  }
}

describe('golden preamble (§2)', () => {
  it('edge preamble: 43 41 4e 42 01 00 01 00', () => {
    expect(toHex(encodePreamble(ROLE.EDGE))).toBe(toHex(hex(EDGE_PREAMBLE)))
    expectDecodes(ROLE.EDGE, hex(EDGE_PREAMBLE), [])
  })

  it('server preamble: 43 41 4e 42 01 00 02 00', () => {
    expect(toHex(encodePreamble(ROLE.SERVER))).toBe(toHex(hex(SERVER_PREAMBLE)))
    expectDecodes(ROLE.SERVER, hex(SERVER_PREAMBLE), [])
  })
})

// ---------------------------------------------------------------------------------------
// DATA (§6)

type ExpectedFrame = Omit<PlainFrame, 'seq'>

interface DataVector {
  name: string
  /** the DATA message, header included, by hand */
  message: string
  channel: number
  firstSeq: number
  frames: ExpectedFrame[]
}

const FD64_DATA = Array.from({ length: 64 }, (_, i) => i)

const DATA_VECTORS: DataVector[] = [
  {
    name: 'classic standard frame, highest standard id, 8 bytes',
    message: `
      10 00 0000 | 22 00 00 00  // DATA, body 12 + 14 + 8 = 34
      01 00 | 01 00 | 00 00 00 00 00 00 00 00  // channel 1, count 1, firstSeq 0
      00 00 00 00 00 00 00 00  // timestamp 0
      ff 07 00 00 | 00 | 08 | 01 02 03 04 05 06 07 08  // id 0x7ff, flags 0, len 8, data`,
    channel: 1,
    firstSeq: 0,
    frames: [{ timestampNs: 0n, id: 0x7ff, flags: 0, len: 8, data: [1, 2, 3, 4, 5, 6, 7, 8] }],
  },
  {
    name: 'extended frame, highest 29-bit id, last channel, largest timestamp',
    message: `
      10 00 0000 | 1d 00 00 00  // body 12 + 14 + 3 = 29
      ff ff | 01 00 | 05 04 03 02 01 00 00 00  // channel 65535, count 1, firstSeq 0x0102030405
      ff ff ff ff ff ff ff ff  // timestamp 2^64 - 1
      ff ff ff 1f | 01 | 03 | aa bb cc  // id 0x1fffffff, EXT, len 3`,
    channel: 0xffff,
    firstSeq: 0x01_0203_0405,
    frames: [
      {
        timestampNs: 0xffff_ffff_ffff_ffffn,
        id: 0x1fffffff,
        flags: 0x01,
        len: 3,
        data: [0xaa, 0xbb, 0xcc],
      },
    ],
  },
  {
    name: 'remote frame: the DLC in len, no data bytes',
    message: `
      10 00 0000 | 1a 00 00 00  // body 12 + 14 = 26: no data
      02 00 | 01 00 | 01 00 00 00 00 00 00 00  // channel 2, count 1, firstSeq 1
      01 00 00 00 00 00 00 00  // timestamp 1 ns
      56 04 00 00 | 02 | 05  // id 0x456, RTR, DLC 5`,
    channel: 2,
    firstSeq: 1,
    frames: [{ timestampNs: 1n, id: 0x456, flags: 0x02, len: 5, data: [] }],
  },
  {
    name: 'error frame: error class bits in id, 8 data bytes',
    message: `
      10 00 0000 | 22 00 00 00  // body 34
      00 00 | 01 00 | 07 00 00 00 00 00 00 00  // channel 0, count 1, firstSeq 7
      00 ca 85 3d fe 9c 97 17  // 1700000000123456000 ns
      44 00 00 00 | 04 | 08 | 00 04 00 00 00 00 00 00  // CAN_ERR_CRTL | CAN_ERR_BUSOFF, ERR`,
    channel: 0,
    firstSeq: 7,
    frames: [
      {
        timestampNs: 1_700_000_000_123_456_000n,
        id: 0x44,
        flags: 0x04,
        len: 8,
        data: [0, 4, 0, 0, 0, 0, 0, 0],
      },
    ],
  },
  {
    name: 'CAN FD, 64 bytes, BRS and ESI',
    message: `
      10 00 0000 | 5a 00 00 00  // body 12 + 14 + 64 = 90
      00 00 | 01 00 | 0a 00 00 00 00 00 00 00  // channel 0, count 1, firstSeq 10
      00 00 2a 36 fe 9c 97 17  // 1700000000000000000 ns
      23 01 00 00 | 38 | 40  // id 0x123, FD|BRS|ESI, len 64
      000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f
      202122232425262728292a2b2c2d2e2f 303132333435363738393a3b3c3d3e3f`,
    channel: 0,
    firstSeq: 10,
    frames: [
      {
        timestampNs: 1_700_000_000_000_000_000n,
        id: 0x123,
        flags: 0x38,
        len: 64,
        data: FD64_DATA,
      },
    ],
  },
  {
    name: "TX flag: the edge's own frame echoed back",
    message: `
      10 00 0000 | 1c 00 00 00  // body 12 + 14 + 2 = 28
      03 00 | 01 00 | 00 01 00 00 00 00 00 00  // channel 3, count 1, firstSeq 256
      e8 03 00 00 00 00 00 00  // 1000 ns
      00 01 00 00 | 40 | 02 | 12 34  // id 0x100, TX, len 2`,
    channel: 3,
    firstSeq: 256,
    frames: [{ timestampNs: 1000n, id: 0x100, flags: 0x40, len: 2, data: [0x12, 0x34] }],
  },
  {
    name: 'several records of mixed kinds, sequence numbers up to 2^53 - 1',
    message: `
      10 00 0000 | 60 00 00 00  // body 12 + 14 + 26 + 14 + 30 = 96
      02 01 | 04 00 | fc ff ff ff ff ff 1f 00  // channel 0x102, count 4, firstSeq 2^53 - 4
      00 00 2a 36 fe 9c 97 17  // record 0: 1700000000000000000 ns
      10 f1 da 18 | 03 | 08  // id 0x18daf110, EXT|RTR, DLC 8, no data
      e8 03 2a 36 fe 9c 97 17  // record 1: + 1 us
      f0 de bc 1a | 59 | 0c  // id 0x1abcdef0, EXT|FD|BRS|TX, len 12
      a0 a1 a2 a3 a4 a5 a6 a7 a8 a9 aa ab
      d0 07 2a 36 fe 9c 97 17  // record 2: + 2 us
      ff ff ff 1f | 04 | 00  // error frame: any 29-bit class, no EXT
      b8 0b 2a 36 fe 9c 97 17  // record 3: + 3 us
      ff 07 00 00 | 28 | 10  // id 0x7ff, FD|ESI, len 16
      00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f`,
    channel: 0x102,
    firstSeq: 2 ** 53 - 4,
    frames: [
      { timestampNs: 1_700_000_000_000_000_000n, id: 0x18daf110, flags: 0x03, len: 8, data: [] },
      {
        timestampNs: 1_700_000_000_000_001_000n,
        id: 0x1abcdef0,
        flags: 0x59,
        len: 12,
        data: [0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab],
      },
      { timestampNs: 1_700_000_000_000_002_000n, id: 0x1fffffff, flags: 0x04, len: 0, data: [] },
      {
        timestampNs: 1_700_000_000_000_003_000n,
        id: 0x7ff,
        flags: 0x28,
        len: 16,
        data: FD64_DATA.slice(0, 16),
      },
    ],
  },
]

/** A hex listing with `// comments` to the end of each line. */
function listing(text: string): Uint8Array {
  return hex(
    text
      .split('\n')
      .map((line) => line.replace(/\/\/.*$/, ''))
      .join(' '),
  )
}

function expectedData(vector: {
  channel: number
  firstSeq: number
  frames: ExpectedFrame[]
}): PlainMessage {
  return {
    type: 'DATA',
    channel: vector.channel,
    firstSeq: vector.firstSeq,
    count: vector.frames.length,
    // §6.1: record i has sequence number firstSeq + i
    frames: vector.frames.map((frame, i) => ({ seq: vector.firstSeq + i, ...frame })),
  }
}

describe('golden DATA batches (§6)', () => {
  it('the §8 example, byte for byte', () => {
    // Copied from PROTOCOL.md §8, comments dropped.
    const stream = hex(`
      43 41 4E 42 01 00 01 00
      10 00 00 00 1E 00 00 00
      00 00 01 00 05 00 00 00 00 00 00 00
      00 CA 85 3D FE 9C 97 17
      23 01 00 00 00 04 DE AD BE EF`)
    const frame = {
      // 1,700,000,000.123456 s
      timestampNs: 1_700_000_000n * 1_000_000_000n + 123_456_000n,
      id: 0x123,
      flags: 0,
      len: 4,
      data: [0xde, 0xad, 0xbe, 0xef],
    }
    expect(frame.timestampNs).toBe(0x1797_9cfe_3d85_ca00n)
    expectDecodes(ROLE.EDGE, stream, [expectedData({ channel: 0, firstSeq: 5, frames: [frame] })])

    const encoder = new BatchEncoder()
    encoder.begin(0, 5)
    expect(encoder.add({ ...frame, data: Uint8Array.from(frame.data) })).toBe(true)
    const message = concat(encodePreamble(ROLE.EDGE), encoder.finish())
    expect(toHex(message)).toBe(toHex(stream))

    // the edge's hot path: the kernel's (seconds, microseconds) as (seconds, nanoseconds)
    encoder.begin(0, 5)
    expect(
      encoder.addParts(1_700_000_000, 123_456 * 1000, 0x123, 0, 4, Uint8Array.from(frame.data)),
    ).toBe(true)
    expect(toHex(encoder.finish())).toBe(toHex(stream.subarray(8)))
  })

  it('the §8 example in seconds, through FrameReader', () => {
    const decoder = new Decoder({ peerRole: ROLE.EDGE })
    const [message] = decoder.push(
      hex(
        '43414e4201000100 100000001e000000 000001000500000000000000 00ca853dfe9c9717 230100000004deadbeef',
      ),
    )
    if (message?.type !== 'DATA') throw new Error('expected a DATA message')
    const reader = message.batch.reader()
    expect(reader.next()).toBe(true)
    expect(reader.seq).toBe(5)
    expect(Math.abs(reader.timestampSeconds() - 1_700_000_000.123456)).toBeLessThan(1e-6)
    expect(reader.next()).toBe(false)
  })

  for (const vector of DATA_VECTORS) {
    it(vector.name, () => {
      const message = listing(vector.message)
      // the encoder writes exactly these bytes
      const encoder = new BatchEncoder()
      encoder.begin(vector.channel, vector.firstSeq)
      for (const frame of vector.frames) {
        expect(encoder.add({ ...frame, data: Uint8Array.from(frame.data) })).toBe(true)
      }
      expect(toHex(encoder.finish())).toBe(toHex(message))
      // and the decoder reads them in every chunking
      expectDecodes(ROLE.EDGE, concat(hex(EDGE_PREAMBLE), message), [expectedData(vector)])
    })
  }

  it('all the DATA vectors in one stream', () => {
    const stream = concat(hex(EDGE_PREAMBLE), ...DATA_VECTORS.map((v) => listing(v.message)))
    expectDecodes(ROLE.EDGE, stream, DATA_VECTORS.map(expectedData))
  })
})

// ---------------------------------------------------------------------------------------
// Control messages (§5)

interface ControlVector<K extends ControlTypeName = ControlTypeName> {
  name: string
  type: K
  /** the type code, from §4 */
  code: number
  /** who sends it (§4): the decoder that must accept it expects this peer */
  senders: Role[]
  /** hand-written msgpack body (see handMsgpack): `M<n>` is a map header */
  body: string
  /** the body the decoder must return */
  value: ControlBodies[K]
  /**
   * The encoder direction: `exact` (encodeControl writes exactly `body`, maps as map16),
   * or a reason it cannot be compared byte for byte, checked by decoding instead.
   */
  encode: 'exact' | { notExact: string; encoderBody?: string }
}

const EDGE = ROLE.EDGE
const SERVER = ROLE.SERVER

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values)
}

function control<K extends ControlTypeName>(vector: ControlVector<K>): ControlVector {
  return vector as unknown as ControlVector
}

// Strings: fixstr 0xa0 + length, then the ASCII bytes. Integers: positive fixint 0x00..0x7f,
// uint8 cc, uint16 cd, uint32 ce (big-endian, as all msgpack numbers). float64 cb. nil c0,
// false c2, true c3, bin8 c4, fixarray 0x90 + n. Keys in the order the checks in control.ts
// build each body (msgpackr keeps insertion order).
const CONTROL_VECTORS: ControlVector[] = [
  control({
    name: 'HELLO',
    type: 'HELLO',
    code: 0x01,
    senders: [EDGE],
    body: `M5
      a6 'edgeId'       a9 'pi-garage'
      aa 'instanceId'   a2 'i1'
      a8 'software'     a6 'cb/0.1'
      a8 'channels'     92
        M3 a4 'name' a4 'can0'  a2 'fd' c3  a7 'nextSeq' 00
        M3 a4 'name' a4 'can1'  a2 'fd' c2  a7 'nextSeq' cd 01 2c
      ac 'capabilities' 92 a2 'fd' a8 'transmit'`,
    value: {
      edgeId: 'pi-garage',
      instanceId: 'i1',
      software: 'cb/0.1',
      channels: [
        { name: 'can0', fd: true, nextSeq: 0 },
        { name: 'can1', fd: false, nextSeq: 300 },
      ],
      capabilities: ['fd', 'transmit'],
    },
    encode: 'exact',
  }),
  control({
    name: 'HELLO with the loss-accounting capabilities',
    type: 'HELLO',
    code: 0x01,
    senders: [EDGE],
    body: `M5
      a6 'edgeId'       a2 'pi'
      aa 'instanceId'   a2 'i2'
      a8 'software'     a0
      a8 'channels'     91 M3 a4 'name' a4 'can0'  a2 'fd' c3  a7 'nextSeq' 00
      ac 'capabilities' 94 ac 'kernel-drops' af 'interface-drops' a8 'fd-flags' ab 'kernel-echo'`,
    value: {
      edgeId: 'pi',
      instanceId: 'i2',
      software: '',
      channels: [{ name: 'can0', fd: true, nextSeq: 0 }],
      capabilities: ['kernel-drops', 'interface-drops', 'fd-flags', 'kernel-echo'],
    },
    encode: 'exact',
  }),
  control({
    name: 'HELLO with authNonce (token authentication)',
    type: 'HELLO',
    code: 0x01,
    senders: [EDGE],
    body: `M6
      a6 'edgeId'       a2 'pi'
      aa 'instanceId'   a2 'i1'
      a8 'software'     a0
      a8 'channels'     91 M3 a4 'name' a4 'can0'  a2 'fd' c2  a7 'nextSeq' 00
      ac 'capabilities' 90
      a9 'authNonce'    c4 20 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11`,
    value: {
      edgeId: 'pi',
      instanceId: 'i1',
      software: '',
      channels: [{ name: 'can0', fd: false, nextSeq: 0 }],
      capabilities: [],
      authNonce: new Uint8Array(32).fill(0x11),
    },
    encode: 'exact',
  }),
  control({
    name: 'AUTH_CHALLENGE',
    type: 'AUTH_CHALLENGE',
    code: 0x03,
    senders: [SERVER],
    body: `M2
      a5 'nonce' c4 20 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22
      a5 'proof' c4 20 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33`,
    value: { nonce: new Uint8Array(32).fill(0x22), proof: new Uint8Array(32).fill(0x33) },
    encode: 'exact',
  }),
  control({
    name: 'AUTH_RESPONSE',
    type: 'AUTH_RESPONSE',
    code: 0x04,
    senders: [EDGE],
    body: `M1 a5 'proof' c4 20 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11`,
    value: { proof: new Uint8Array(32).fill(0x11) },
    encode: 'exact',
  }),
  control({
    name: 'WELCOME (nextSeq nil and uint32)',
    type: 'WELCOME',
    code: 0x02,
    senders: [SERVER],
    body: `M4
      a8 'serverId'     a2 'ws'
      ab 'heartbeatMs'  cd 13 88
      a8 'channels'     92
        M2 a4 'name' a4 'can0'  a7 'nextSeq' c0
        M2 a4 'name' a4 'can1'  a7 'nextSeq' ce 00 01 11 70
      ac 'capabilities' 90`,
    value: {
      serverId: 'ws',
      heartbeatMs: 5000,
      channels: [
        { name: 'can0', nextSeq: null },
        { name: 'can1', nextSeq: 70_000 },
      ],
      capabilities: [],
    },
    encode: 'exact',
  }),
  control({
    // 100 = 0x64 is a positive fixint in 0x40..0x7f, which msgpackr reads as a record
    // reference when records are on: with records off it must be the number 100.
    name: 'ACK (fixint above 0x3f)',
    type: 'ACK',
    code: 0x11,
    senders: [SERVER],
    body: `M2 a7 'channel' 02 a7 'nextSeq' 64`,
    value: { channel: 2, nextSeq: 100 },
    encode: 'exact',
  }),
  control({
    name: 'ACK (uint8 and uint16)',
    type: 'ACK',
    code: 0x11,
    senders: [SERVER],
    body: `M2 a7 'channel' cc ff a7 'nextSeq' cd ff ff`,
    value: { channel: 255, nextSeq: 65_535 },
    encode: 'exact',
  }),
  control({
    name: 'DROPS (interface loss: fromSeq nil)',
    type: 'DROPS',
    code: 0x12,
    senders: [EDGE],
    body: `M4 a7 'channel' 00 a7 'fromSeq' c0 a5 'count' 03 a6 'reason' ae 'interface-loss'`,
    value: { channel: 0, fromSeq: null, count: 3, reason: 'interface-loss' },
    encode: 'exact',
  }),
  control({
    name: 'DROPS (kernel overflow: the numbers reserved where the kernel lost them)',
    type: 'DROPS',
    code: 0x12,
    senders: [EDGE],
    body: `M4 a7 'channel' 00 a7 'fromSeq' cd 01 f4 a5 'count' 07 a6 'reason' af 'kernel-overflow'`,
    value: { channel: 0, fromSeq: 500, count: 7, reason: 'kernel-overflow' },
    encode: 'exact',
  }),
  control({
    // an edge before issue 13 sent no fromSeq for kernel drops: still valid
    name: 'DROPS (kernel overflow without a range)',
    type: 'DROPS',
    code: 0x12,
    senders: [EDGE],
    body: `M4 a7 'channel' 00 a7 'fromSeq' c0 a5 'count' 03 a6 'reason' af 'kernel-overflow'`,
    value: { channel: 0, fromSeq: null, count: 3, reason: 'kernel-overflow' },
    encode: 'exact',
  }),
  control({
    name: 'DROPS (ring full: fromSeq given)',
    type: 'DROPS',
    code: 0x12,
    senders: [EDGE],
    body: `M4 a7 'channel' 01 a7 'fromSeq' cc c8 a5 'count' cd 03 e8 a6 'reason' a9 'ring-full'`,
    value: { channel: 1, fromSeq: 200, count: 1000, reason: 'ring-full' },
    encode: 'exact',
  }),
  control({
    name: 'TRANSMIT (data frame, ttlMs)',
    type: 'TRANSMIT',
    code: 0x20,
    senders: [SERVER],
    body: `M4
      a9 'requestId' 07
      a7 'channel'   01
      a5 'frame'     M4 a2 'id' cd 01 23  a5 'flags' 00  a3 'len' 02  a4 'data' c4 02 11 22
      a5 'ttlMs'     cc fa`,
    value: {
      requestId: 7,
      channel: 1,
      frame: { id: 0x123, flags: 0, len: 2, data: bytes(0x11, 0x22) },
      ttlMs: 250,
    },
    encode: 'exact',
  }),
  control({
    name: 'TRANSMIT (extended remote frame: len is the DLC, empty data)',
    type: 'TRANSMIT',
    code: 0x20,
    senders: [SERVER],
    body: `M3
      a9 'requestId' ce 00 01 00 00
      a7 'channel'   00
      a5 'frame'     M4 a2 'id' ce 1a bc de f0  a5 'flags' 03  a3 'len' 08  a4 'data' c4 00`,
    value: {
      requestId: 65_536,
      channel: 0,
      frame: { id: 0x1abcdef0, flags: 0x03, len: 8, data: bytes() },
    },
    encode: 'exact',
  }),
  control({
    name: 'TRANSMIT (frame without len: len is the data length)',
    type: 'TRANSMIT',
    code: 0x20,
    senders: [SERVER],
    body: `M3
      a9 'requestId' 08
      a7 'channel'   00
      a5 'frame'     M3 a2 'id' cd 07 df  a5 'flags' 00  a4 'data' c4 03 02 01 0d`,
    value: {
      requestId: 8,
      channel: 0,
      frame: { id: 0x7df, flags: 0, len: 3, data: bytes(2, 1, 0x0d) },
    },
    encode: {
      notExact: 'the encoder always writes len (the checked frame has it), so it writes M4',
      encoderBody: `M3
        a9 'requestId' 08
        a7 'channel'   00
        a5 'frame'     M4 a2 'id' cd 07 df  a5 'flags' 00  a3 'len' 03  a4 'data' c4 03 02 01 0d`,
    },
  }),
  control({
    name: 'TRANSMIT_RESULT (ok)',
    type: 'TRANSMIT_RESULT',
    code: 0x21,
    senders: [EDGE],
    body: `M2 a9 'requestId' 07 a2 'ok' c3`,
    value: { requestId: 7, ok: true },
    encode: 'exact',
  }),
  control({
    name: 'TRANSMIT_RESULT (failed, error and message)',
    type: 'TRANSMIT_RESULT',
    code: 0x21,
    senders: [EDGE],
    body: `M4 a9 'requestId' 08 a2 'ok' c2 a5 'error' ad 'tx-queue-full' a7 'message' a7 'ENOBUFS'`,
    value: { requestId: 8, ok: false, error: 'tx-queue-full', message: 'ENOBUFS' },
    encode: 'exact',
  }),
  control({
    name: 'SET_FILTERS (all channels, two filters)',
    type: 'SET_FILTERS',
    code: 0x22,
    senders: [SERVER],
    body: `M2
      a7 'channel' c0
      a7 'filters' 92
        M2 a5 'canId' cd 01 00  a7 'canMask' cd 07 00
        M3 a5 'canId' ce 18 fe ee 00  a7 'canMask' ce 1f ff ff 00  a8 'extended' c3`,
    value: {
      channel: null,
      filters: [
        { canId: 0x100, canMask: 0x700 },
        { canId: 0x18feee00, canMask: 0x1fffff00, extended: true },
      ],
    },
    encode: 'exact',
  }),
  control({
    name: 'SET_FILTERS (one channel, no filters: everything)',
    type: 'SET_FILTERS',
    code: 0x22,
    senders: [SERVER],
    body: `M2 a7 'channel' 03 a7 'filters' 90`,
    value: { channel: 3, filters: [] },
    encode: 'exact',
  }),
  control({
    name: 'PERIODIC_START (classic and FD frames, float duration)',
    type: 'PERIODIC_START',
    code: 0x23,
    senders: [SERVER],
    body: `M5
      a6 'taskId'  01
      a7 'channel' 00
      a6 'frames'  92
        M4 a2 'id' cd 07 df  a5 'flags' 00  a3 'len' 08  a4 'data' c4 08 02 01 0d 55 55 55 55 55
        M4 a2 'id' cd 01 23  a5 'flags' 18  a3 'len' 0c  a4 'data' c4 0c 000102030405060708090a0b
      a8 'periodMs'   64
      aa 'durationMs' cb 40 a3 89 00 00 00 00 00`,
    value: {
      taskId: 1,
      channel: 0,
      frames: [
        { id: 0x7df, flags: 0, len: 8, data: bytes(2, 1, 0x0d, 0x55, 0x55, 0x55, 0x55, 0x55) },
        { id: 0x123, flags: 0x18, len: 12, data: bytes(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11) },
      ],
      periodMs: 100,
      durationMs: 2500.5,
    },
    encode: 'exact',
  }),
  control({
    name: 'PERIODIC_MODIFY',
    type: 'PERIODIC_MODIFY',
    code: 0x24,
    senders: [SERVER],
    body: `M2
      a6 'taskId' 01
      a6 'frames' 91 M4 a2 'id' cd 07 df  a5 'flags' 00  a3 'len' 01  a4 'data' c4 01 aa`,
    value: { taskId: 1, frames: [{ id: 0x7df, flags: 0, len: 1, data: bytes(0xaa) }] },
    encode: 'exact',
  }),
  control({
    name: 'PERIODIC_STOP',
    type: 'PERIODIC_STOP',
    code: 0x25,
    senders: [SERVER],
    body: `M1 a6 'taskId' ce 00 01 00 00`,
    value: { taskId: 65_536 },
    encode: 'exact',
  }),
  control({
    name: 'HEARTBEAT (float64 milliseconds)',
    type: 'HEARTBEAT',
    code: 0x30,
    senders: [EDGE, SERVER],
    // 1700000000000.5 = 1.546... x 2^40: exponent 1023 + 40 = 0x427
    body: `M1 a6 'timeMs' cb 42 78 bc fe 56 80 08 00`,
    value: { timeMs: 1_700_000_000_000.5 },
    encode: 'exact',
  }),
  control({
    name: 'HEARTBEAT (integer above 2^32 as uint64)',
    type: 'HEARTBEAT',
    code: 0x30,
    senders: [EDGE, SERVER],
    body: `M1 a6 'timeMs' cf 00 00 02 00 00 00 00 00`,
    value: { timeMs: 2 ** 41 },
    encode: {
      // number width: msgpackr writes every integer beyond 32 bits as float64
      notExact: 'msgpackr writes integers above 2^32 - 1 as float64, not uint64',
      encoderBody: `M1 a6 'timeMs' cb 42 80 00 00 00 00 00 00`,
    },
  }),
  control({
    name: 'STATS',
    type: 'STATS',
    code: 0x31,
    senders: [EDGE],
    body: `M3
      a8 'uptimeMs'   cb 40 93 4a 00 00 00 00 00
      aa 'reconnects' 02
      a8 'channels'   91
        M2 a7 'channel' 00
           a8 'counters' M3 aa 'framesRead' cd 03 e8  af 'drops.ring-full' 00
                            a9 'ringBytes' ce 00 01 00 00`,
    value: {
      uptimeMs: 1234.5,
      reconnects: 2,
      channels: [
        { channel: 0, counters: { framesRead: 1000, 'drops.ring-full': 0, ringBytes: 65_536 } },
      ],
    },
    encode: 'exact',
  }),
  control({
    name: 'BUS_STATE',
    type: 'BUS_STATE',
    code: 0x32,
    senders: [EDGE],
    body: `M3 a7 'channel' 01 a5 'state' a7 'bus-off' a6 'timeMs' ce 07 5b cd 15`,
    value: { channel: 1, state: 'bus-off', timeMs: 123_456_789 },
    encode: 'exact',
  }),
  control({
    name: 'BUS_STATE (keys in another order, an unknown key ignored)',
    type: 'BUS_STATE',
    code: 0x32,
    senders: [EDGE],
    body: `M3 a5 'state' a6 'active' a5 'extra' 93 01 02 03 a7 'channel' 00`,
    value: { channel: 0, state: 'active' },
    encode: {
      notExact: 'key order and the extra key are the sender’s; the encoder writes its own order',
      encoderBody: `M2 a7 'channel' 00 a5 'state' a6 'active'`,
    },
  }),
  control({
    name: 'ERROR',
    type: 'ERROR',
    code: 0x3f,
    senders: [EDGE, SERVER],
    body: `M3 a4 'code' a9 'bad-frame' a7 'message' a8 'record 3' a5 'fatal' c3`,
    value: { code: 'bad-frame', message: 'record 3', fatal: true },
    encode: 'exact',
  }),
]

describe('golden control messages (§5)', () => {
  it('covers every control type of §4', () => {
    const types = new Set(CONTROL_VECTORS.map((v) => v.type))
    expect([...types].sort()).toEqual(
      [
        'HELLO',
        'WELCOME',
        'AUTH_CHALLENGE',
        'AUTH_RESPONSE',
        'ACK',
        'DROPS',
        'TRANSMIT',
        'TRANSMIT_RESULT',
        'SET_FILTERS',
        'PERIODIC_START',
        'PERIODIC_MODIFY',
        'PERIODIC_STOP',
        'HEARTBEAT',
        'STATS',
        'BUS_STATE',
        'ERROR',
      ].sort(),
    )
  })

  it('ACK as a whole message, header and body by hand', () => {
    // header: type 0x11, flags 0, reserved 0, length 19; body as msgpack's preferred form
    const preferred = hex(`
      11 00 00 00 13 00 00 00
      82 a7 63 68 61 6e 6e 65 6c 02 a7 6e 65 78 74 53 65 71 64`)
    // msgpackr's form: map16 (de 00 02) for the map, so 2 bytes longer: length 21
    const msgpackr = hex(`
      11 00 00 00 15 00 00 00
      de 00 02 a7 63 68 61 6e 6e 65 6c 02 a7 6e 65 78 74 53 65 71 64`)
    expect(toHex(encodeControl('ACK', { channel: 2, nextSeq: 100 }))).toBe(toHex(msgpackr))
    const expected = { type: 'ACK', body: { channel: 2, nextSeq: 100 } }
    expectDecodes(SERVER, concat(hex(SERVER_PREAMBLE), preferred), [expected as PlainMessage])
    expectDecodes(SERVER, concat(hex(SERVER_PREAMBLE), msgpackr), [expected as PlainMessage])
  })

  for (const vector of CONTROL_VECTORS) {
    describe(vector.name, () => {
      const expected = { type: vector.type, body: plainValue(vector.value) } as PlainMessage

      it('encodeControl writes the vector', () => {
        // msgpackr writes every map as map16 (de 00 0n), so compare with that form
        const encoded = encodeControl(vector.type, vector.value)
        if (vector.encode === 'exact') {
          const body = handMsgpack(vector.body, { maps: 'map16' })
          expect(toHex(encoded)).toBe(toHex(messageBytes(vector.code, body)))
        } else {
          // not byte-exact with the decoder's vector (reason in the vector); the encoder's
          // own form is written by hand too, and what it encodes must decode to the value
          if (vector.encode.encoderBody !== undefined) {
            const body = handMsgpack(vector.encode.encoderBody, { maps: 'map16' })
            expect(toHex(encoded)).toBe(toHex(messageBytes(vector.code, body)))
          }
          const stream = concat(hex(preambleOf(vector.senders[0]!)), encoded)
          expect(feed(new Decoder({ peerRole: vector.senders[0]! }), [stream]).messages).toEqual([
            expected,
          ])
        }
      })

      for (const sender of vector.senders) {
        const who = sender === EDGE ? 'an edge' : 'a server'
        it(`the Decoder reads it from ${who}, in every chunking (fixmap and map16)`, () => {
          for (const maps of ['fixmap', 'map16'] as const) {
            const message = messageBytes(vector.code, handMsgpack(vector.body, { maps }))
            expectDecodes(sender, concat(hex(preambleOf(sender)), message), [expected])
          }
        })
      }
    })
  }

  it('a handshake and a session in one stream from each side', () => {
    const fromEdge = CONTROL_VECTORS.filter((v) => v.senders.includes(EDGE))
    const fromServer = CONTROL_VECTORS.filter((v) => v.senders.includes(SERVER))
    for (const [role, vectors] of [
      [EDGE, fromEdge],
      [SERVER, fromServer],
    ] as const) {
      const stream = concat(
        hex(preambleOf(role)),
        ...vectors.map((v) => messageBytes(v.code, handMsgpack(v.body, { maps: 'fixmap' }))),
        ...(role === EDGE ? DATA_VECTORS.map((v) => listing(v.message)) : []),
      )
      const expected: PlainMessage[] = [
        ...vectors.map((v) => ({ type: v.type, body: plainValue(v.value) }) as PlainMessage),
        ...(role === EDGE ? DATA_VECTORS.map(expectedData) : []),
      ]
      expectDecodes(role, stream, expected)
    }
  })
})
