// Fixture builders for tests on both ends: they write bytes straight from PROTOCOL.md with
// a DataView, sharing no code with the encoder, so tests compare two independent writers.

/** Bytes from hex text; spaces, newlines and `|` are ignored. */
export function hex(text: string): Uint8Array {
  const digits = text.replace(/[\s|]/g, '')
  if (digits.length % 2 !== 0 || /[^0-9a-fA-F]/.test(digits)) throw new Error(`not hex: ${text}`)
  const bytes = new Uint8Array(digits.length / 2)
  for (let i = 0; i < bytes.length; i++)
    bytes[i] = Number.parseInt(digits.slice(i * 2, i * 2 + 2), 16)
  return bytes
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ')
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** §2: "CANB", u16 version, u8 role, u8 reserved. */
export function preambleBytes(role: number, version = 1, reserved = 0): Uint8Array {
  const view = new DataView(new ArrayBuffer(8))
  for (const [i, c] of [...'CANB'].entries()) view.setUint8(i, c.charCodeAt(0))
  view.setUint16(4, version, true)
  view.setUint8(6, role)
  view.setUint8(7, reserved)
  return new Uint8Array(view.buffer)
}

/** §3: u8 type, u8 flags, u16 reserved, u32 body length, then the body. */
export function messageBytes(type: number, body: Uint8Array, flags = 0): Uint8Array {
  const view = new DataView(new ArrayBuffer(8 + body.length))
  view.setUint8(0, type)
  view.setUint8(1, flags)
  view.setUint32(4, body.length, true)
  new Uint8Array(view.buffer).set(body, 8)
  return new Uint8Array(view.buffer)
}

export interface RecordSpec {
  timestampNs: bigint
  id: number
  flags?: number
  /** defaults to data.length */
  len?: number
  data?: Uint8Array | number[]
}

/** §6.2: u64 timestamp, u32 id, u8 flags, u8 len, data (absent for RTR). */
export function recordBytes(spec: RecordSpec): Uint8Array {
  const data = Uint8Array.from(spec.data ?? [])
  const flags = spec.flags ?? 0
  const carried = flags & 0x02 ? 0 : data.length
  const view = new DataView(new ArrayBuffer(14 + carried))
  view.setBigUint64(0, spec.timestampNs, true)
  view.setUint32(8, spec.id, true)
  view.setUint8(12, flags)
  view.setUint8(13, spec.len ?? data.length)
  new Uint8Array(view.buffer).set(data.subarray(0, carried), 14)
  return new Uint8Array(view.buffer)
}

/** §6.1: u16 channel, u16 count, u64 firstSeq, then the records. */
export function batchBody(
  channel: number,
  firstSeq: bigint | number,
  records: Uint8Array[],
  count = records.length,
): Uint8Array {
  const view = new DataView(new ArrayBuffer(12))
  view.setUint16(0, channel, true)
  view.setUint16(2, count, true)
  view.setBigUint64(4, BigInt(firstSeq), true)
  return concat(new Uint8Array(view.buffer), ...records)
}

/** A DATA message (header and body). */
export function dataMessageBytes(
  channel: number,
  firstSeq: bigint | number,
  records: Uint8Array[],
): Uint8Array {
  return messageBytes(0x10, batchBody(channel, firstSeq, records))
}

/**
 * Every way tests feed a stream: whole, byte by byte, and split in two at every offset.
 * Each item is a list of chunks (copies, so decoders cannot share memory with the input).
 */
export function* chunkings(bytes: Uint8Array): Generator<{ name: string; chunks: Uint8Array[] }> {
  yield { name: 'whole', chunks: [bytes.slice()] }
  yield { name: 'byte by byte', chunks: Array.from(bytes, (b) => Uint8Array.of(b)) }
  for (let cut = 1; cut < bytes.length; cut++) {
    yield { name: `split at ${cut}`, chunks: [bytes.slice(0, cut), bytes.slice(cut)] }
  }
}
