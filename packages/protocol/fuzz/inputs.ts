// Inputs for the decoder fuzzer: valid streams of every message type (the seeds), random
// msgpack bodies, and the mutations applied to them.
import {
  BatchEncoder,
  type CanFrame,
  type ControlBodies,
  type ControlTypeName,
  encodeControl,
  encodePreamble,
  FD_LENGTHS,
  MESSAGE_TYPE,
  ROLE,
  type Role,
  TRANSMIT_ERROR,
  type TxFrame,
} from '../src/index.ts'
import { concat, hex } from '../src/testing/index.ts'
import type { Random } from './random.ts'

/** A place in a stream holding a length or a count, for tampering. */
export interface Field {
  offset: number
  size: 1 | 2 | 4 | 8
}

export interface Sample {
  role: Role
  bytes: Uint8Array
  fields: Field[]
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

// ---------------------------------------------------------------------------------------
// Valid values

const UNICODE = ['é', 'ß', '漢', 'Ж', '😀', 'ü']

function text(r: Random, min: number, max: number): string {
  const length = r.range(min, max)
  let s = ''
  while (s.length < length) {
    const c = r.chance(0.9) ? String.fromCharCode(r.range(0x20, 0x7e)) : r.pick(UNICODE)
    if (s.length + c.length <= max) s += c
    else s += 'x'
  }
  return s
}

function seq(r: Random): number {
  switch (r.below(4)) {
    case 0:
      return r.below(256)
    case 1:
      return r.u32()
    case 2:
      return Number.MAX_SAFE_INTEGER - r.below(4)
    default:
      return r.u32() * 0x200000 + r.below(0x200000) // up to 2^53 - 1
  }
}

function frameParts(r: Random): Omit<CanFrame, 'timestampNs'> {
  const ext = r.chance(0.4) ? 0x01 : 0
  const tx = r.chance(0.2) ? 0x40 : 0
  const maxId = ext ? 0x1fffffff : 0x7ff
  let flags: number
  let len: number
  let id = r.chance(0.1) ? maxId : r.below(maxId + 1)
  switch (r.below(4)) {
    case 0: // classic
      flags = ext | tx
      len = r.range(0, 8)
      break
    case 1: // remote
      flags = 0x02 | ext | tx
      len = r.range(0, 8)
      break
    case 2: // error frame
      flags = 0x04 | ext | tx
      len = r.range(0, 8)
      id = r.below(0x20000000)
      break
    default: // FD
      flags = 0x08 | ext | tx | (r.chance(0.5) ? 0x10 : 0) | (r.chance(0.3) ? 0x20 : 0)
      len = r.pick(FD_LENGTHS)
  }
  const data = flags & 0x02 ? new Uint8Array(0) : r.bytes(len)
  return { id, flags, len, data }
}

function frame(r: Random): CanFrame {
  const timestampNs = r.chance(0.1)
    ? BigInt(r.u32()) * 0x1_0000_0000n + BigInt(r.u32())
    : 1_700_000_000_000_000_000n + BigInt(r.u32()) * 1000n
  return { timestampNs, ...frameParts(r) }
}

function txFrame(r: Random): TxFrame {
  for (;;) {
    const parts = frameParts(r)
    if (!(parts.flags & 0x04)) return parts
  }
}

function txFrames(r: Random): TxFrame[] {
  return Array.from({ length: r.range(1, 3) }, () => txFrame(r))
}

/** A valid body of each control type. */
function controlBody(r: Random, type: ControlTypeName): ControlBodies[ControlTypeName] {
  const channel = r.chance(0.8) ? r.below(4) : r.below(0x10000)
  switch (type) {
    case 'HELLO':
      return {
        edgeId: text(r, 1, 16),
        instanceId: text(r, 1, 16),
        software: text(r, 0, 24),
        channels: Array.from({ length: r.range(1, 3) }, () => ({
          name: text(r, 1, 8),
          fd: r.chance(0.5),
          nextSeq: seq(r),
        })),
        capabilities: Array.from({ length: r.below(4) }, () =>
          r.pick(['fd', 'transmit', 'periodic', 'filters', 'listen-only', 'own-messages']),
        ),
      }
    case 'AUTH_CHALLENGE':
      return { nonce: r.bytes(32), proof: r.bytes(32) }
    case 'AUTH_RESPONSE':
      return { proof: r.bytes(32) }
    case 'WELCOME':
      return {
        serverId: text(r, 0, 12),
        heartbeatMs: r.range(100, 60_000),
        channels: Array.from({ length: r.below(3) }, () => ({
          name: text(r, 1, 8),
          nextSeq: r.chance(0.3) ? null : seq(r),
        })),
        capabilities: [],
      }
    case 'ACK':
      return { channel, nextSeq: seq(r) }
    case 'DROPS':
      return {
        channel,
        fromSeq: r.chance(0.3) ? null : seq(r),
        count: r.below(100_000),
        reason: r.pick(['ring-full', 'spool-full', 'ttl', 'kernel-overflow']),
      }
    case 'TRANSMIT':
      return r.chance(0.5)
        ? { requestId: seq(r), channel, frame: txFrame(r), ttlMs: r.below(10_000) }
        : { requestId: seq(r), channel, frame: txFrame(r) }
    case 'TRANSMIT_RESULT':
      return r.chance(0.5)
        ? { requestId: seq(r), ok: true }
        : { requestId: seq(r), ok: false, error: r.pick(TRANSMIT_ERROR), message: text(r, 0, 20) }
    case 'SET_FILTERS':
      return {
        channel: r.chance(0.3) ? null : channel,
        filters: Array.from({ length: r.below(4) }, () =>
          r.chance(0.5)
            ? { canId: r.below(0x800), canMask: 0x7ff }
            : { canId: r.below(0x20000000), canMask: 0x1fffffff, extended: true },
        ),
      }
    case 'PERIODIC_START':
      return r.chance(0.5)
        ? { taskId: seq(r), channel, frames: txFrames(r), periodMs: r.range(1, 1000) }
        : { taskId: seq(r), channel, frames: txFrames(r), periodMs: 0.5, durationMs: 2500.5 }
    case 'PERIODIC_MODIFY':
      return { taskId: seq(r), frames: txFrames(r) }
    case 'PERIODIC_STOP':
      return { taskId: seq(r) }
    case 'HEARTBEAT':
      return { timeMs: r.chance(0.5) ? 1_700_000_000_000 + r.u32() : r.u32() / 7 }
    case 'STATS':
      return {
        uptimeMs: r.u32() / 3,
        reconnects: r.below(10),
        channels: Array.from({ length: r.below(3) }, (_, i) => ({
          channel: i,
          counters: { framesRead: r.u32(), 'drops.ring-full': r.below(10), ringBytes: r.u32() },
        })),
      }
    case 'BUS_STATE':
      return r.chance(0.5)
        ? { channel, state: r.pick(['active', 'warning', 'passive', 'bus-off', 'stopped']) }
        : { channel, state: 'bus-off', timeMs: seq(r) }
    case 'ERROR':
      return { code: text(r, 1, 12), message: text(r, 0, 40), fatal: r.chance(0.5) }
  }
}

/** A valid stream from a peer of `role`: preamble, then 1..6 messages. */
export function validSample(r: Random, role: Role): Sample {
  const parts: Uint8Array[] = [encodePreamble(role)]
  const fields: Field[] = []
  let offset = 8
  const encoder = new BatchEncoder()
  const count = r.range(1, 6)
  for (let m = 0; m < count; m++) {
    let message: Uint8Array
    if (role === ROLE.EDGE && r.chance(0.45)) {
      const frames = Array.from({ length: r.small(1, 10) }, () => frame(r))
      encoder.begin(r.chance(0.8) ? r.below(4) : r.below(0x10000), seq(r) % 2 ** 52)
      for (const f of frames) encoder.add(f)
      message = encoder.finish().slice()
      fields.push({ offset: offset + 10, size: 2 }, { offset: offset + 12, size: 8 })
      let record = offset + 8 + 12
      for (const f of frames) {
        fields.push({ offset: record + 13, size: 1 }, { offset: record + 12, size: 1 })
        record += 14 + (f.flags & 0x02 ? 0 : f.len)
      }
    } else {
      const types = role === ROLE.EDGE ? FROM_EDGE : FROM_SERVER
      const type = m === 0 && r.chance(0.7) ? types[0]! : r.pick(types)
      message = encodeControl(type, controlBody(r, type) as never)
    }
    fields.push({ offset: offset + 4, size: 4 })
    parts.push(message)
    offset += message.length
  }
  return { role, bytes: concat(...parts), fields }
}

// ---------------------------------------------------------------------------------------
// Random msgpack, shaped like control bodies

const KEYS = [
  'edgeId',
  'instanceId',
  'software',
  'channels',
  'capabilities',
  'name',
  'fd',
  'nextSeq',
  'serverId',
  'heartbeatMs',
  'channel',
  'fromSeq',
  'count',
  'reason',
  'requestId',
  'frame',
  'frames',
  'ttlMs',
  'ok',
  'error',
  'message',
  'filters',
  'canId',
  'canMask',
  'extended',
  'taskId',
  'periodMs',
  'durationMs',
  'timeMs',
  'uptimeMs',
  'reconnects',
  'counters',
  'state',
  'timeNs',
  'code',
  'fatal',
  'id',
  'flags',
  'len',
  'data',
  'toString',
  'valueOf',
  '__proto__',
  'constructor',
  'hasOwnProperty',
]
const STRINGS = ['', 'bus-off', 'active', 'ttl-expired', 'internal', 'ring-full', 'x'.repeat(70)]

function pushString(out: number[], s: string): void {
  const bytes = new TextEncoder().encode(s)
  if (bytes.length < 32) out.push(0xa0 | bytes.length)
  else out.push(0xd9, bytes.length)
  for (const b of bytes) out.push(b)
}

function pushValue(r: Random, out: number[], depth: number): void {
  const kind = r.below(depth > 3 ? 9 : 12)
  switch (kind) {
    case 0:
      out.push(r.below(0x80)) // positive fixint
      break
    case 1:
      out.push(r.pick([0xcc, 0xcd, 0xce, 0xcf]))
      for (let i = 0; i < 8; i++) if (r.chance(0.5)) out.push(r.u32() & 0xff)
      break
    case 2: {
      const width = r.pick([1, 2, 4, 8])
      out.push({ 1: 0xcc, 2: 0xcd, 4: 0xce, 8: 0xcf }[width]!)
      for (let i = 0; i < width; i++) out.push(i === 0 && r.chance(0.5) ? 0 : r.u32() & 0xff)
      break
    }
    case 3:
      out.push(r.pick([0xe0, 0xff, 0xd0, 0xd1, 0xd2, 0xd3]))
      if (out[out.length - 1]! >= 0xd0 && out[out.length - 1]! <= 0xd3) out.push(0x80)
      break
    case 4:
      out.push(
        0xcb,
        ...r.pick([
          [0x7f, 0xf8, 0, 0, 0, 0, 0, 0],
          [0x7f, 0xf0, 0, 0, 0, 0, 0, 0],
          [0x80, 0, 0, 0, 0, 0, 0, 0],
          [0x3f, 0xf8, 0, 0, 0, 0, 0, 0],
          [0x43, 0x40, 0, 0, 0, 0, 0, 0],
        ]),
      )
      break
    case 5:
      out.push(r.pick([0xc0, 0xc2, 0xc3]))
      break
    case 6:
      pushString(out, r.chance(0.5) ? r.pick(STRINGS) : r.pick(KEYS))
      break
    case 7: {
      const length = r.pick([0, 1, 8, 9, 12, 13, 64, 65])
      out.push(0xc4, length)
      for (let i = 0; i < length; i++) out.push(r.u32() & 0xff)
      break
    }
    case 8:
      out.push(r.pick([0xd4, 0xd5, 0xd6, 0xc7]), r.below(256) - 0, ...r.bytes(r.below(6)))
      break
    case 9:
    case 10: {
      const n = r.below(5)
      out.push(0x90 | n)
      for (let i = 0; i < n; i++) pushValue(r, out, depth + 1)
      break
    }
    default:
      pushMap(r, out, depth + 1)
  }
}

function pushMap(r: Random, out: number[], depth: number): void {
  const n = r.below(7)
  out.push(r.chance(0.8) ? 0x80 | n : 0xde)
  if (out[out.length - 1] === 0xde) out.push(0, n)
  for (let i = 0; i < n; i++) {
    pushString(out, r.chance(0.85) ? r.pick(KEYS) : String.fromCharCode(r.range(0x61, 0x7a)))
    pushValue(r, out, depth)
  }
}

/** A control message from `role` with a random msgpack map as body. */
export function randomControlSample(r: Random, role: Role): Sample {
  const types = role === ROLE.EDGE ? FROM_EDGE : FROM_SERVER
  const code = MESSAGE_TYPE[r.pick(types)]
  const body: number[] = []
  if (r.chance(0.9)) pushMap(r, body, 0)
  else pushValue(r, body, 0)
  const header = new Uint8Array(8)
  header[0] = code
  new DataView(header.buffer).setUint32(4, body.length, true)
  return {
    role,
    bytes: concat(encodePreamble(role), header, Uint8Array.from(body)),
    fields: [{ offset: 12, size: 4 }],
  }
}

// ---------------------------------------------------------------------------------------
// Mutations

/** Fragments that mean something to the protocol or to msgpack. */
const DICTIONARY: Uint8Array[] = [
  hex('43 41 4e 42 01 00 01 00'),
  hex('43 41 4e 42 01 00 02 00'),
  hex('10 00 00 00'),
  hex('00 00 10 00'), // 1 MiB
  hex('01 00 10 00'), // 1 MiB + 1
  hex('ff ff ff ff'),
  hex('00 00 00 00'),
  hex('ff ff 1f 00'),
  hex('00 00 20 00'), // 2^53 in the high word of a u64
  hex('00 10'), // 4096
  hex('01 10'), // 4097
  hex('80'),
  hex('0a'),
  hex('06'),
  hex('3f'),
  hex('c1'),
  hex('d4 00 00'), // msgpack "undefined"
  hex('d6 ff 00 00 00 00'), // timestamp 32
  hex('d7 ff 00 00 00 00 00 00 00 00'), // timestamp 64
  hex('c7 0c ff 00 00 00 00 00 00 00 00 00 00 00 00'), // timestamp 96
  hex('d4 72 00'),
  hex('d4 70 00'),
  hex('d5 42 00 01'),
  hex('c7 09 74 01 00 00 00 00 00 00 00 00'),
  hex('dc ff ff'),
  hex('dd ff ff ff ff'),
  hex('de ff ff'),
  hex('df ff ff ff ff'),
  hex('db ff ff ff ff'),
  hex('c6 ff ff ff ff'),
  hex('cf ff ff ff ff ff ff ff ff'),
  hex('cf 00 20 00 00 00 00 00 00'),
  hex('d3 80 00 00 00 00 00 00 00'),
  hex('cb 7f f8 00 00 00 00 00 00'),
  hex('cb 80 00 00 00 00 00 00 00'),
  new Uint8Array(200).fill(0x91), // deep nesting
  new TextEncoder().encode('\xa8toString'),
  new TextEncoder().encode('\xa7valueOf'),
  Uint8Array.of(0x81, 0xa8, ...new TextEncoder().encode('toString'), 0x01),
  Uint8Array.of(0x81, 0xa9, ...new TextEncoder().encode('__proto__'), 0x80),
  Uint8Array.of(0x81, 0xab, ...new TextEncoder().encode('constructor'), 0x01),
]

function tamper(r: Random, bytes: Uint8Array, field: Field): void {
  if (field.offset + field.size > bytes.length) return
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const read =
    field.size === 1
      ? view.getUint8(field.offset)
      : field.size === 2
        ? view.getUint16(field.offset, true)
        : field.size === 4
          ? view.getUint32(field.offset, true)
          : Number(view.getBigUint64(field.offset, true))
  const max = field.size === 8 ? 2 ** 64 - 1 : 2 ** (8 * field.size) - 1
  let value: number
  switch (r.below(6)) {
    case 0:
      value = read + r.range(-4, 4)
      break
    case 1:
      value = r.pick([0, 1, max, max - 1, 2 ** 53, 2 ** 53 - 1, 1_048_576, 1_048_577, 4096, 4097])
      break
    case 2:
      value = read * 2
      break
    case 3:
      value = Math.floor(read / 2)
      break
    case 4:
      value = r.u32()
      break
    default:
      value = read ^ (1 << r.below(8 * Math.min(field.size, 4)))
  }
  value = Math.max(0, Math.min(max, value))
  if (field.size === 1) view.setUint8(field.offset, value)
  else if (field.size === 2) view.setUint16(field.offset, value, true)
  else if (field.size === 4) view.setUint32(field.offset, value >>> 0, true)
  else view.setBigUint64(field.offset, BigInt(Math.min(value, 2 ** 63)), true)
}

/** One to several mutations of `sample`, and sometimes a splice with `other`. */
export function mutate(r: Random, sample: Sample, other: Sample): Uint8Array {
  let bytes: Uint8Array = sample.bytes.slice()
  const rounds = r.small(1, 8)
  for (let i = 0; i < rounds; i++) {
    const at = r.below(bytes.length + 1)
    switch (r.below(10)) {
      case 0: // bit flip
        if (bytes.length > 0) bytes[r.below(bytes.length)]! ^= 1 << r.below(8)
        break
      case 1: // byte replacement
        if (bytes.length > 0)
          bytes[r.below(bytes.length)] = r.chance(0.5)
            ? r.pick([0, 0xff, 0x7f, 0x80, 0x40, 1, 0x0a, 0x10])
            : r.below(256)
        break
      case 2: // insertion
        bytes = concat(bytes.subarray(0, at), r.bytes(r.small(1, 16)), bytes.subarray(at))
        break
      case 3: // deletion
        bytes = concat(bytes.subarray(0, at), bytes.subarray(at + r.small(1, 16)))
        break
      case 4: // truncation
        bytes = bytes.slice(0, at)
        break
      case 5:
      case 6: // length / count field tampering
        if (sample.fields.length > 0) tamper(r, bytes, r.pick(sample.fields))
        break
      case 7: // splice: this stream's head, the other's tail
        bytes = concat(bytes.subarray(0, at), other.bytes.subarray(r.below(other.bytes.length + 1)))
        break
      case 8: // a dictionary fragment, inserted or written over
        {
          const word = r.pick(DICTIONARY)
          if (r.chance(0.5)) bytes = concat(bytes.subarray(0, at), word, bytes.subarray(at))
          else {
            const copy = bytes.slice()
            copy.set(word.subarray(0, Math.max(0, copy.length - at)), at)
            bytes = copy
          }
        }
        break
      default: {
        // duplication of a range
        const length = r.small(1, 32)
        bytes = concat(
          bytes.subarray(0, at + length),
          bytes.subarray(at, at + length),
          bytes.subarray(at + length),
        )
      }
    }
  }
  return bytes
}
