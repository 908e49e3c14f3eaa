// Replaces `node:zlib` for the bundled edge code: adds zlib.crc32 where the runtime lacks
// it (Node < 20.15 / 22.2: the armv7 build runs Node 20.11). Same result as Node's: CRC-32
// (IEEE 802.3, as zlib's crc32()), continuing from `value`.
import * as zlib from 'node:zlib'

export * from 'node:zlib'

let table: Uint32Array | undefined

function makeTable(): Uint32Array {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c >>> 0
  }
  return t
}

export function jsCrc32(data: string | NodeJS.ArrayBufferView, value = 0): number {
  table ??= makeTable()
  const bytes =
    typeof data === 'string'
      ? Buffer.from(data, 'utf8')
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  let crc = ~value >>> 0
  for (let i = 0; i < bytes.length; i++) crc = table[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8)
  return ~crc >>> 0
}

type Crc32 = (data: string | NodeJS.ArrayBufferView, value?: number) => number
export const crc32: Crc32 = (zlib as { crc32?: Crc32 }).crc32 ?? jsCrc32

export default { ...zlib, crc32 }
