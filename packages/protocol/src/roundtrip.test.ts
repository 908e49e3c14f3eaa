// Property tests: whatever valid input the encoder is given, the Decoder gives it back,
// however the bytes are chunked. Expected values are the generated inputs themselves.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  BatchEncoder,
  type CanFrame,
  type ControlBodies,
  type ControlTypeName,
  Decoder,
  encodeControl,
  encodePreamble,
  ROLE,
  type Role,
  type TxFrame,
} from './index.ts'
import { concat, feed, type PlainMessage, plainValue } from './testing/index.ts'

// From PROTOCOL.md, by hand.
const EXT = 0x01
const RTR = 0x02
const ERR = 0x04
const FD = 0x08
const BRS = 0x10
const ESI = 0x20
const TX = 0x40
const FD_LENGTHS_SPEC = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64]
const MAX_SEQ = 2 ** 53 - 1
const U64_MAX = 2n ** 64n - 1n

const RUNS = 150

// ---------------------------------------------------------------------------------------
// Arbitraries

const bit = (mask: number) => fc.boolean().map((on) => (on ? mask : 0))
const timestampArb = fc.oneof(
  fc.bigInt({ min: 0n, max: U64_MAX }),
  fc.bigInt({ min: 1_600_000_000_000_000_000n, max: 2_000_000_000_000_000_000n }),
  fc.constantFrom(0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n, U64_MAX),
)
const bigNat = (max: number) => fc.bigInt({ min: 0n, max: BigInt(max) }).map(Number)

type FrameParts = Omit<CanFrame, 'timestampNs'>

function partsArb(
  flagsArb: fc.Arbitrary<number>,
  lenArb: fc.Arbitrary<number>,
  idFor: (flags: number) => fc.Arbitrary<number>,
): fc.Arbitrary<FrameParts> {
  return fc.tuple(flagsArb, lenArb).chain(([flags, len]) =>
    fc.record({
      id: idFor(flags),
      flags: fc.constant(flags),
      len: fc.constant(len),
      data: fc.uint8Array({
        minLength: flags & RTR ? 0 : len,
        maxLength: flags & RTR ? 0 : len,
      }),
    }),
  )
}

const idByExt = (flags: number) =>
  fc.oneof(
    fc.integer({ min: 0, max: flags & EXT ? 0x1fffffff : 0x7ff }),
    fc.constant(flags & EXT ? 0x1fffffff : 0x7ff),
  )
const anyErrorClass = () => fc.integer({ min: 0, max: 0x1fffffff })
const flagsOf = (base: number, ...optional: number[]) =>
  fc.tuple(...optional.map(bit)).map((bits) => bits.reduce((a, b) => a | b, base))
const classicLen = fc.integer({ min: 0, max: 8 })

/** Every kind of valid frame of §6.2, without its timestamp. */
const framePartsArb: fc.Arbitrary<FrameParts> = fc.oneof(
  partsArb(flagsOf(0, EXT, TX), classicLen, idByExt), // classic
  partsArb(flagsOf(RTR, EXT, TX), classicLen, idByExt), // remote: len is the DLC
  partsArb(flagsOf(ERR, EXT, TX), classicLen, anyErrorClass), // error frame
  partsArb(flagsOf(FD, BRS, ESI, EXT, TX), fc.constantFrom(...FD_LENGTHS_SPEC), idByExt), // FD
)
const frameArb: fc.Arbitrary<CanFrame> = fc
  .tuple(timestampArb, framePartsArb)
  .map(([timestampNs, parts]) => ({ timestampNs, ...parts }))

interface BatchSpec {
  channel: number
  firstSeq: number
  frames: CanFrame[]
}

function batchArb(maxFrames: number): fc.Arbitrary<BatchSpec> {
  return fc.array(frameArb, { minLength: 1, maxLength: maxFrames }).chain((frames) =>
    fc.record({
      channel: fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.constantFrom(0, 0xffff)),
      // the last sequence number stays ≤ 2^53 - 1
      firstSeq: fc.oneof(
        bigNat(MAX_SEQ - frames.length + 1),
        fc.constant(MAX_SEQ - frames.length + 1),
      ),
      frames: fc.constant(frames),
    }),
  )
}

// ---------------------------------------------------------------------------------------
// Helpers

function encodeBatch(encoder: BatchEncoder, batch: BatchSpec): Uint8Array {
  encoder.begin(batch.channel, batch.firstSeq)
  for (const frame of batch.frames) expect(encoder.add(frame)).toBe(true)
  return encoder.finish().slice()
}

function expectedBatch(batch: BatchSpec): PlainMessage {
  return {
    type: 'DATA',
    channel: batch.channel,
    firstSeq: batch.firstSeq,
    count: batch.frames.length,
    frames: batch.frames.map((frame, i) => ({
      seq: batch.firstSeq + i,
      timestampNs: frame.timestampNs,
      id: frame.id,
      flags: frame.flags,
      len: frame.len,
      data: Array.from(frame.data),
    })),
  }
}

/** Cuts `bytes` at the given positions (taken modulo length + 1; empty chunks kept). */
function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Uint8Array[] = []
  let previous = 0
  for (const point of points) {
    chunks.push(bytes.slice(previous, point))
    previous = point
  }
  chunks.push(bytes.slice(previous))
  return chunks
}

function byteByByte(bytes: Uint8Array): Uint8Array[] {
  return Array.from(bytes, (b) => Uint8Array.of(b))
}

/** Decodes the chunks from a peer of `role` and checks the result is `expected`. */
function expectRoundTrip(
  role: Role,
  chunks: Uint8Array[],
  expected: PlainMessage[],
  label: string,
): void {
  const decoder = new Decoder({ peerRole: role })
  const { messages, error } = feed(decoder, chunks)
  expect(error, label).toBeUndefined()
  expect(messages, label).toEqual(expected)
}

const cutsArb = fc.array(fc.nat(), { maxLength: 24 })

// ---------------------------------------------------------------------------------------

describe('DATA round trip', () => {
  it('frames of every kind: whole, byte by byte, and at random cuts', () => {
    fc.assert(
      fc.property(
        fc.array(batchArb(12), { minLength: 1, maxLength: 4 }),
        cutsArb,
        (batches, cuts) => {
          const encoder = new BatchEncoder()
          const stream = concat(
            encodePreamble(ROLE.EDGE),
            ...batches.map((b) => encodeBatch(encoder, b)),
          )
          const expected = batches.map(expectedBatch)
          expectRoundTrip(ROLE.EDGE, [stream.slice()], expected, 'whole')
          expectRoundTrip(ROLE.EDGE, byteByByte(stream), expected, 'byte by byte')
          expectRoundTrip(ROLE.EDGE, splitAt(stream, cuts), expected, `cuts ${cuts}`)
        },
      ),
      { numRuns: RUNS },
    )
  })

  it('split in two at every offset', () => {
    fc.assert(
      fc.property(fc.array(batchArb(3), { minLength: 1, maxLength: 2 }), (batches) => {
        const encoder = new BatchEncoder()
        const stream = concat(
          encodePreamble(ROLE.EDGE),
          ...batches.map((b) => encodeBatch(encoder, b)),
        )
        const expected = batches.map(expectedBatch)
        for (let cut = 0; cut <= stream.length; cut++) {
          expectRoundTrip(
            ROLE.EDGE,
            [stream.slice(0, cut), stream.slice(cut)],
            expected,
            `split at ${cut}`,
          )
        }
      }),
      { numRuns: 25 },
    )
  })

  it('a FrameReader walk gives every frame and sequence number', () => {
    fc.assert(
      fc.property(batchArb(40), (batch) => {
        const encoder = new BatchEncoder()
        const [message] = new Decoder({ peerRole: ROLE.EDGE }).push(
          concat(encodePreamble(ROLE.EDGE), encodeBatch(encoder, batch)),
        )
        if (message?.type !== 'DATA') throw new Error('expected DATA')
        const reader = message.batch.reader()
        for (const [i, frame] of batch.frames.entries()) {
          expect(reader.next()).toBe(true)
          expect(reader.seq).toBe(batch.firstSeq + i)
          expect(reader.timestampNs()).toBe(frame.timestampNs)
          expect([reader.id, reader.flags, reader.len]).toEqual([frame.id, frame.flags, frame.len])
          expect(Array.from(reader.data())).toEqual(Array.from(frame.data))
        }
        expect(reader.next()).toBe(false)
      }),
      { numRuns: RUNS },
    )
  })

  it('a full batch: add() returns false at maxFrames and at maxBytes, adding nothing', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(frameArb, { minLength: 1, maxLength: 40 }),
        (maxFrames, frames) => {
          const encoder = new BatchEncoder({ maxFrames })
          encoder.begin(1, 0)
          const added: CanFrame[] = []
          for (const frame of frames) {
            if (!encoder.add(frame)) break
            added.push(frame)
          }
          expect(added.length).toBe(Math.min(maxFrames, frames.length))
          const bytes = concat(encodePreamble(ROLE.EDGE), encoder.finish())
          expectRoundTrip(
            ROLE.EDGE,
            [bytes],
            [expectedBatch({ channel: 1, firstSeq: 0, frames: added })],
            'whole',
          )
        },
      ),
      { numRuns: 50 },
    )
    // by bytes: room for exactly one 64-byte FD record (8 + 12 + 78)
    const encoder = new BatchEncoder({ maxBytes: 98 })
    encoder.begin(0, 0)
    const fd64: CanFrame = { timestampNs: 0n, id: 1, flags: FD, len: 64, data: new Uint8Array(64) }
    expect(encoder.add(fd64)).toBe(true)
    expect(encoder.add({ ...fd64, len: 0, flags: 0, data: new Uint8Array(0) })).toBe(false)
    expect(encoder.count).toBe(1)
    expect(encoder.byteLength).toBe(98)
  })

  it('add() refuses an invalid frame with a RangeError and adds nothing', () => {
    const invalid = fc.oneof(
      frameArb.map((f) => ({ ...f, flags: f.flags | 0x80 })),
      frameArb.map((f) => ({ ...f, flags: f.flags + 0x100 })),
      frameArb.map((f) => ({ ...f, id: (f.flags & (EXT | ERR) ? 0x20000000 : 0x800) + f.id })),
      frameArb
        .filter((f) => !(f.flags & RTR))
        .map((f) => ({ ...f, data: new Uint8Array(f.len + 1) })),
      frameArb.filter((f) => !(f.flags & FD)).map((f) => ({ ...f, flags: f.flags | BRS })),
      frameArb.map((f) => ({ ...f, timestampNs: f.timestampNs + U64_MAX + 1n })),
    )
    fc.assert(
      fc.property(invalid, (frame) => {
        const encoder = new BatchEncoder()
        encoder.begin(0, 0)
        expect(() => encoder.add(frame)).toThrow(RangeError)
        expect(encoder.count).toBe(0)
      }),
      { numRuns: RUNS },
    )
  })
})

describe('addParts: kernel timestamps (seconds, nanoseconds), exact', () => {
  const secondsArb = fc.oneof(
    bigNat(2 ** 34),
    fc.integer({ min: 1_500_000_000, max: 2_200_000_000 }),
    fc.constantFrom(0, 1, 0xffff, 0x10000, 2 ** 32 - 1, 2 ** 32, 2 ** 34 - 1, 2 ** 34),
  )
  const nanosecondsArb = fc.oneof(
    fc.integer({ min: 0, max: 999_999_999 }),
    fc.integer({ min: 0, max: 999_999 }).map((us) => us * 1000), // SocketCAN microseconds
    fc.constantFrom(0, 1, 999_999_000, 999_999_999),
  )

  it('sec x 10^9 + ns, bit for bit, in the record and through the Decoder', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(secondsArb, nanosecondsArb, framePartsArb, fc.nat({ max: 7 })), {
          minLength: 1,
          maxLength: 8,
        }),
        (records) => {
          const encoder = new BatchEncoder()
          encoder.begin(0, 0)
          for (const [seconds, nanoseconds, parts, pad] of records) {
            // the payload read from inside a larger buffer, at dataOffset
            const buffer = concat(new Uint8Array(pad), parts.data, new Uint8Array(3))
            expect(
              encoder.addParts(seconds, nanoseconds, parts.id, parts.flags, parts.len, buffer, pad),
            ).toBe(true)
          }
          const message = encoder.finish().slice()
          // the raw u64 of each record, read with DataView
          const view = new DataView(message.buffer)
          let offset = 8 + 12
          for (const [seconds, nanoseconds, parts] of records) {
            const exact = BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds)
            expect(view.getBigUint64(offset, true)).toBe(exact)
            offset += 14 + (parts.flags & RTR ? 0 : parts.len)
          }
          expect(offset).toBe(message.length)
          const frames = records.map(([seconds, nanoseconds, parts]) => ({
            timestampNs: BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds),
            ...parts,
          }))
          expectRoundTrip(
            ROLE.EDGE,
            [concat(encodePreamble(ROLE.EDGE), message)],
            [expectedBatch({ channel: 0, firstSeq: 0, frames })],
            'whole',
          )
        },
      ),
      { numRuns: 300 },
    )
  })

  it('every microsecond of a second boundary region, and the extremes', () => {
    const encoder = new BatchEncoder()
    const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset)
    for (const seconds of [0, 65_535, 65_536, 1_700_000_000, 2 ** 32, 2 ** 34]) {
      for (const usec of [0, 1, 499_999, 500_000, 999_998, 999_999]) {
        encoder.begin(0, 0)
        encoder.addParts(seconds, usec * 1000, 1, 0, 0, new Uint8Array(0))
        const bytes = encoder.finish()
        expect(view(bytes).getBigUint64(20, true), `${seconds}.${usec}`).toBe(
          BigInt(seconds) * 1_000_000_000n + BigInt(usec) * 1000n,
        )
      }
    }
  })
})

// ---------------------------------------------------------------------------------------
// Control messages

const MAX_SAFE = fc.oneof(
  bigNat(MAX_SEQ),
  fc.nat({ max: 300 }),
  fc.constantFrom(0, 2 ** 32 - 1, 2 ** 32, MAX_SEQ),
)
const u16 = fc.integer({ min: 0, max: 0xffff })
/** Strings of whole graphemes (any script) within `max` UTF-16 units, as the checks count. */
const character = fc.oneof(
  fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
)
const str = (min: number, max: number) =>
  fc
    .string({ unit: character, minLength: min, maxLength: max })
    .filter((s) => s.length >= min && s.length <= max)
const finite = fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Object.is(x, -0))
const positive = fc.double({ min: Number.MIN_VALUE, noNaN: true, noDefaultInfinity: true })
const txFrameArb: fc.Arbitrary<TxFrame> = framePartsArb.filter((f) => !(f.flags & ERR))

const CONTROL_ARBS: { [K in ControlTypeName]: fc.Arbitrary<ControlBodies[K]> } = {
  HELLO: fc.record(
    {
      edgeId: str(1, 64),
      instanceId: str(1, 64),
      software: str(0, 128),
      channels: fc.array(fc.record({ name: str(1, 64), fd: fc.boolean(), nextSeq: MAX_SAFE }), {
        minLength: 1,
        maxLength: 4,
      }),
      capabilities: fc.array(str(0, 64), { maxLength: 6 }),
      authNonce: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    },
    { requiredKeys: ['edgeId', 'instanceId', 'software', 'channels', 'capabilities'] },
  ),
  AUTH_CHALLENGE: fc.record({
    nonce: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    proof: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  }),
  AUTH_RESPONSE: fc.record({ proof: fc.uint8Array({ minLength: 32, maxLength: 32 }) }),
  WELCOME: fc.record({
    serverId: str(0, 64),
    heartbeatMs: fc.integer({ min: 100, max: 60_000 }),
    channels: fc.array(
      fc.record({ name: str(1, 64), nextSeq: fc.option(MAX_SAFE, { nil: null }) }),
      {
        maxLength: 4,
      },
    ),
    capabilities: fc.array(str(0, 64), { maxLength: 6 }),
  }),
  ACK: fc.record({ channel: u16, nextSeq: MAX_SAFE }),
  DROPS: fc.record({
    channel: u16,
    fromSeq: fc.option(MAX_SAFE, { nil: null }),
    count: MAX_SAFE,
    reason: fc.oneof(
      fc.constantFrom('ring-full', 'spool-full', 'ttl', 'kernel-overflow'),
      str(1, 64),
    ),
  }),
  TRANSMIT: fc.record(
    { requestId: MAX_SAFE, channel: u16, frame: txFrameArb, ttlMs: MAX_SAFE },
    { requiredKeys: ['requestId', 'channel', 'frame'] },
  ),
  TRANSMIT_RESULT: fc.oneof(
    fc.record(
      {
        requestId: MAX_SAFE,
        ok: fc.constant(true),
        error: fc.constantFrom('not-connected', 'internal' as const),
        message: str(0, 200),
      },
      { requiredKeys: ['requestId', 'ok'] },
    ),
    fc.record(
      {
        requestId: MAX_SAFE,
        ok: fc.constant(false),
        error: fc.constantFrom(
          'not-connected',
          'listen-only',
          'tx-queue-full',
          'interface-down',
          'timeout',
          'ttl-expired',
          'not-allowed',
          'invalid-frame',
          'internal',
        ),
        message: str(0, 200),
      },
      { requiredKeys: ['requestId', 'ok', 'error'] },
    ),
  ),
  SET_FILTERS: fc.record({
    channel: fc.option(u16, { nil: null }),
    filters: fc.array(
      fc.record(
        {
          canId: fc.integer({ min: 0, max: 0x1fffffff }),
          canMask: fc.integer({ min: 0, max: 0x1fffffff }),
          extended: fc.boolean(),
        },
        { requiredKeys: ['canId', 'canMask'] },
      ),
      { maxLength: 5 },
    ),
  }),
  PERIODIC_START: fc.record(
    {
      taskId: MAX_SAFE,
      channel: u16,
      frames: fc.array(txFrameArb, { minLength: 1, maxLength: 3 }),
      periodMs: positive,
      durationMs: positive,
    },
    { requiredKeys: ['taskId', 'channel', 'frames', 'periodMs'] },
  ),
  PERIODIC_MODIFY: fc.record({
    taskId: MAX_SAFE,
    frames: fc.array(txFrameArb, { minLength: 1, maxLength: 3 }),
  }),
  PERIODIC_STOP: fc.record({ taskId: MAX_SAFE }),
  HEARTBEAT: fc.record({
    timeMs: fc.oneof(finite, fc.integer({ min: 1_600_000_000_000, max: 2_000_000_000_000 })),
  }),
  STATS: fc.record({
    uptimeMs: finite,
    reconnects: MAX_SAFE,
    channels: fc.array(
      fc.record({
        channel: u16,
        // msgpackr renames a "__proto__" key on decoding: no counter should be called that
        counters: fc.dictionary(
          str(1, 40).filter((k) => k !== '__proto__'),
          finite,
          { maxKeys: 8 },
        ),
      }),
      { maxLength: 3 },
    ),
  }),
  BUS_STATE: fc.record(
    {
      channel: u16,
      state: fc.constantFrom('active', 'warning', 'passive', 'bus-off', 'stopped'),
      timeMs: MAX_SAFE,
    },
    { requiredKeys: ['channel', 'state'] },
  ),
  ERROR: fc.record({ code: str(1, 64), message: str(0, 300), fatal: fc.boolean() }),
}

const FROM_EDGE: ControlTypeName[] = [
  'HELLO',
  'DROPS',
  'TRANSMIT_RESULT',
  'STATS',
  'BUS_STATE',
  'HEARTBEAT',
  'ERROR',
]
const FROM_SERVER: ControlTypeName[] = [
  'WELCOME',
  'ACK',
  'TRANSMIT',
  'SET_FILTERS',
  'PERIODIC_START',
  'PERIODIC_MODIFY',
  'PERIODIC_STOP',
  'HEARTBEAT',
  'ERROR',
]

type Item =
  | { kind: 'control'; type: ControlTypeName; body: unknown }
  | { kind: 'batch'; batch: BatchSpec }

function controlItem(type: ControlTypeName): fc.Arbitrary<Item> {
  return (CONTROL_ARBS[type] as fc.Arbitrary<unknown>).map((body) => ({
    kind: 'control',
    type,
    body,
  }))
}

function sessionArb(role: Role): fc.Arbitrary<Item[]> {
  const types = role === ROLE.EDGE ? FROM_EDGE : FROM_SERVER
  const items = [...types.map(controlItem)]
  if (role === ROLE.EDGE) items.push(batchArb(6).map((batch): Item => ({ kind: 'batch', batch })))
  return fc.array(fc.oneof(...items), { minLength: 1, maxLength: 10 })
}

function encodeItem(encoder: BatchEncoder, item: Item): Uint8Array {
  if (item.kind === 'batch') return encodeBatch(encoder, item.batch)
  return encodeControl(item.type, item.body as never)
}

function expectedItem(item: Item): PlainMessage {
  if (item.kind === 'batch') return expectedBatch(item.batch)
  return { type: item.type, body: plainValue(item.body) } as PlainMessage
}

describe('control round trip', () => {
  for (const role of [ROLE.EDGE, ROLE.SERVER]) {
    const who = role === ROLE.EDGE ? 'an edge' : 'a server'
    it(`streams from ${who} mixing control messages${role === ROLE.EDGE ? ' and batches' : ''}`, () => {
      fc.assert(
        fc.property(sessionArb(role), cutsArb, (items, cuts) => {
          const encoder = new BatchEncoder()
          const stream = concat(
            encodePreamble(role),
            ...items.map((item) => encodeItem(encoder, item)),
          )
          const expected = items.map(expectedItem)
          expectRoundTrip(role, [stream.slice()], expected, 'whole')
          expectRoundTrip(role, splitAt(stream, cuts), expected, `cuts ${cuts}`)
          expectRoundTrip(role, byteByByte(stream), expected, 'byte by byte')
        }),
        { numRuns: RUNS },
      )
    })
  }

  it('every control type, split in two at every offset', () => {
    const one = fc.constantFrom(...FROM_EDGE, ...FROM_SERVER).chain((type) => controlItem(type))
    fc.assert(
      fc.property(one, (item) => {
        if (item.kind !== 'control') return
        const role = FROM_EDGE.includes(item.type) ? ROLE.EDGE : ROLE.SERVER
        const stream = concat(encodePreamble(role), encodeItem(new BatchEncoder(), item))
        const expected = [expectedItem(item)]
        for (let cut = 0; cut <= stream.length; cut++) {
          expectRoundTrip(
            role,
            [stream.slice(0, cut), stream.slice(cut)],
            expected,
            `split at ${cut}`,
          )
        }
      }),
      { numRuns: 30 },
    )
  })
})

describe('encodeControl refuses invalid bodies, naming the field', () => {
  const frame = { id: 0x123, flags: 0, len: 1, data: Uint8Array.of(1) }
  const cases: [ControlTypeName, Record<string, unknown>, RegExp][] = [
    ['ACK', { channel: -1, nextSeq: 0 }, /^ACK\.channel /],
    ['ACK', { channel: 65_536, nextSeq: 0 }, /^ACK\.channel /],
    ['ACK', { channel: 1, nextSeq: 2 ** 53 }, /^ACK\.nextSeq /],
    ['ACK', { channel: 1, nextSeq: 1.5 }, /^ACK\.nextSeq /],
    ['ACK', { channel: 1 }, /^ACK\.nextSeq /],
    [
      'HELLO',
      {
        edgeId: '',
        instanceId: 'i',
        software: '',
        channels: [{ name: 'c', fd: true, nextSeq: 0 }],
        capabilities: [],
      },
      /^HELLO\.edgeId /,
    ],
    [
      'HELLO',
      { edgeId: 'e', instanceId: 'i', software: '', channels: [], capabilities: [] },
      /^HELLO\.channels /,
    ],
    [
      'HELLO',
      {
        edgeId: 'e',
        instanceId: 'i',
        software: '',
        channels: [{ name: 'c', fd: 1, nextSeq: 0 }],
        capabilities: [],
      },
      /^HELLO\.channels\[0\]\.fd /,
    ],
    [
      'HELLO',
      {
        edgeId: 'e'.repeat(65),
        instanceId: 'i',
        software: '',
        channels: [{ name: 'c', fd: true, nextSeq: 0 }],
        capabilities: [],
      },
      /^HELLO\.edgeId /,
    ],
    [
      'WELCOME',
      { serverId: 's', heartbeatMs: 99, channels: [], capabilities: [] },
      /^WELCOME\.heartbeatMs /,
    ],
    [
      'WELCOME',
      { serverId: 's', heartbeatMs: 1000, channels: [{ name: 'c' }], capabilities: [] },
      /^WELCOME\.channels\[0\]\.nextSeq /,
    ],
    ['DROPS', { channel: 0, count: 1, reason: 'ttl' }, /^DROPS\.fromSeq /],
    ['DROPS', { channel: 0, fromSeq: null, count: -1, reason: 'ttl' }, /^DROPS\.count /],
    [
      'TRANSMIT',
      { requestId: 1, channel: 0, frame: { ...frame, flags: FD, len: 9, data: new Uint8Array(9) } },
      /^TRANSMIT\.frame: CAN FD length 9/,
    ],
    [
      'TRANSMIT',
      { requestId: 1, channel: 0, frame: { ...frame, data: [1] } },
      /^TRANSMIT\.frame\.data /,
    ],
    [
      'TRANSMIT',
      { requestId: 1, channel: 0, frame: { ...frame, flags: 0x100 } },
      /^TRANSMIT\.frame\.flags /,
    ],
    ['TRANSMIT', { requestId: 1, channel: 0, frame, ttlMs: -5 }, /^TRANSMIT\.ttlMs /],
    ['TRANSMIT_RESULT', { requestId: 1, ok: false }, /^TRANSMIT_RESULT\.error /],
    ['TRANSMIT_RESULT', { requestId: 1, ok: true, error: 'nope' }, /^TRANSMIT_RESULT\.error /],
    ['SET_FILTERS', { filters: [] }, /^SET_FILTERS\.channel /],
    [
      'SET_FILTERS',
      { channel: null, filters: [{ canId: 0x20000000, canMask: 0 }] },
      /^SET_FILTERS\.filters\[0\]\.canId /,
    ],
    [
      'PERIODIC_START',
      { taskId: 1, channel: 0, frames: [frame], periodMs: 0 },
      /^PERIODIC_START\.periodMs /,
    ],
    [
      'PERIODIC_START',
      { taskId: 1, channel: 0, frames: [frame], periodMs: 10, durationMs: -1 },
      /^PERIODIC_START\.durationMs /,
    ],
    [
      'PERIODIC_START',
      { taskId: 1, channel: 0, frames: [{ ...frame, id: 0x800 }], periodMs: 10 },
      /^PERIODIC_START\.frames\[0\]: standard id/,
    ],
    ['PERIODIC_MODIFY', { taskId: 1, frames: [] }, /^PERIODIC_MODIFY\.frames /],
    ['PERIODIC_STOP', { taskId: '1' }, /^PERIODIC_STOP\.taskId /],
    ['HEARTBEAT', { timeMs: Number.POSITIVE_INFINITY }, /^HEARTBEAT\.timeMs /],
    [
      'STATS',
      { uptimeMs: 1, reconnects: 0, channels: [{ channel: 0, counters: { x: 'y' } }] },
      /^STATS\.channels\[0\]\.counters\.x /,
    ],
    ['BUS_STATE', { channel: 0, state: 'sleeping' }, /^BUS_STATE\.state /],
    ['ERROR', { code: 'x', message: 'm' }, /^ERROR\.fatal /],
  ]
  for (const [i, [type, body, field]] of cases.entries()) {
    it(`${i}: ${type}: ${field.source.replace(/[\\^]/g, '')}`, () => {
      expect(() => encodeControl(type, body as never)).toThrow(RangeError)
      expect(() => encodeControl(type, body as never)).toThrow(field)
    })
  }

  it('any out-of-range channel in ACK', () => {
    const bad = fc.oneof(
      fc.integer({ max: -1 }),
      fc.integer({ min: 0x10000 }),
      fc.double({ min: 0, max: 0xffff }).filter((x) => !Number.isInteger(x)),
      fc.constantFrom<unknown>(Number.NaN, Number.POSITIVE_INFINITY, '1', null, true, [], {}),
    )
    fc.assert(
      fc.property(bad, (channel) => {
        expect(() => encodeControl('ACK', { channel, nextSeq: 0 } as never)).toThrow(
          /^ACK\.channel /,
        )
      }),
    )
  })
})
