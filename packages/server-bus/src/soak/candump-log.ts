// Parses `candump -L` output exactly as can-utils' lib.c `sprint_canframe` writes it:
//   (sec.usec) iface 123#11223344           classic, 3-digit standard id
//   (sec.usec) iface 1ABCDE00#1122          classic, 8-digit extended id
//   (sec.usec) iface 20000040#0000000000000000   error frame (CAN_ERR_FLAG 0x20000000 in the id)
//   (sec.usec) iface 123#R  123#R4  123#R8_9     remote frame, optional DLC (and len8_dlc)
//   (sec.usec) iface 123##1112233...        CAN FD: one hex nibble of flags (BRS 1, ESI 2, FDF 4)
//   1122334455667788_C                      8 bytes with a raw DLC 9..F (len8_dlc, newer can-utils)
// plus candump's `-d` line `DROPCOUNT: dropped N CAN frames on 'iface' socket (total drops T)`.
import { FD_LENGTHS, FRAME_FLAG } from '@canbridge/protocol'
import type { Frame } from './frames.ts'

export interface DumpFrame extends Frame {
  kind: 'frame'
  iface: string
}

export interface DumpDrops {
  kind: 'drops'
  iface: string
  /** frames dropped since the last report */
  count: number
  /** drops on that socket so far */
  total: number
}

export interface DumpInvalid {
  kind: 'invalid'
  line: string
  reason: string
}

export type DumpLine = DumpFrame | DumpDrops | DumpInvalid

const CAN_ERR_FLAG = 0x20000000
const CAN_ERR_MASK = 0x1fffffff
const FD_LENGTH = new Set<number>(FD_LENGTHS)
const LINE = /^\((\d+)\.(\d{6})\) (\S+) (\S+)$/
const DROPS = /^DROPCOUNT: dropped (\d+) CAN frames? on '([^']+)' socket \(total drops (\d+)\)$/
const HEX = /^[0-9A-Fa-f]*$/

/** Parses one line; `null` for an empty line. Never throws: a bad line is `kind: 'invalid'`. */
export function parseCandumpLine(text: string): DumpLine | null {
  const line = text.replace(/\r$/, '')
  if (line.trim() === '') return null
  const drops = DROPS.exec(line)
  if (drops) {
    return { kind: 'drops', iface: drops[2]!, count: Number(drops[1]), total: Number(drops[3]) }
  }
  const match = LINE.exec(line)
  if (!match) return invalid(line, 'not "(sec.usec) iface frame"')
  const [, sec, usec, iface, body] = match as unknown as [string, string, string, string, string]
  const tsUs = Number(sec) * 1_000_000 + Number(usec)
  const frame = parseFrameText(body)
  if (typeof frame === 'string') return invalid(line, frame)
  return { kind: 'frame', iface, tsUs, ...frame }
}

/** Parses candump's frame notation (the part after the interface); a string says what is wrong. */
export function parseFrameText(body: string): Omit<Frame, 'tsUs'> | string {
  let idDigits: number
  if (body[3] === '#') idDigits = 3
  else if (body[8] === '#') idDigits = 8
  else return 'the id is neither 3 nor 8 hex digits followed by #'
  const idText = body.slice(0, idDigits)
  if (!/^[0-9A-Fa-f]+$/.test(idText)) return `bad id ${JSON.stringify(idText)}`
  const raw = Number.parseInt(idText, 16)
  let id: number
  let flags = 0
  if (idDigits === 3) {
    if (raw > 0x7ff) return `standard id ${idText} above 7FF`
    id = raw
  } else if (raw & CAN_ERR_FLAG) {
    id = raw & CAN_ERR_MASK
    flags |= FRAME_FLAG.ERR
  } else {
    if (raw > 0x1fffffff) return `extended id ${idText} above 1FFFFFFF`
    id = raw
    flags |= FRAME_FLAG.EXT
  }
  let rest = body.slice(idDigits + 1)
  if (rest[0] === 'R' || rest[0] === 'r') {
    if (flags & FRAME_FLAG.ERR) return 'an error frame cannot be a remote frame'
    const rtr = /^[Rr]([0-8])?(?:_([0-9A-Fa-f]))?$/.exec(rest)
    if (!rtr) return `bad remote frame ${JSON.stringify(rest)}`
    return {
      id,
      flags: flags | FRAME_FLAG.RTR,
      len: rtr[1] === undefined ? 0 : Number(rtr[1]),
      data: new Uint8Array(0),
    }
  }
  let fd = false
  if (rest[0] === '#') {
    if (flags & FRAME_FLAG.ERR) return 'an error frame cannot be CAN FD'
    const nibble = rest[1] === undefined ? Number.NaN : Number.parseInt(rest[1], 16)
    if (Number.isNaN(nibble) || !HEX.test(rest[1]!)) return 'CAN FD frame without its flags nibble'
    fd = true
    flags |= FRAME_FLAG.FD
    if (nibble & 1) flags |= FRAME_FLAG.BRS
    if (nibble & 2) flags |= FRAME_FLAG.ESI
    rest = rest.slice(2)
  } else {
    const dlc = /^([0-9A-Fa-f.]{16})_([9A-Fa-f])$/.exec(rest)
    if (dlc) rest = dlc[1]!
  }
  const hex = rest.replaceAll('.', '')
  if (!HEX.test(hex) || hex.length % 2 !== 0) return `bad data ${JSON.stringify(rest)}`
  const len = hex.length / 2
  if (fd ? !FD_LENGTH.has(len) : len > 8) {
    return `${len} data bytes is not a ${fd ? 'CAN FD' : 'classic CAN'} length`
  }
  const data = new Uint8Array(len)
  for (let i = 0; i < len; i++) data[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return { id, flags, len, data }
}

function invalid(line: string, reason: string): DumpInvalid {
  return { kind: 'invalid', line, reason }
}

/** Splits a stream of text chunks into lines (keeps a partial last line for the next chunk). */
export class LineSplitter {
  #rest = ''

  push(chunk: string, onLine: (line: string) => void): void {
    const text = this.#rest + chunk
    let start = 0
    for (;;) {
      const end = text.indexOf('\n', start)
      if (end === -1) break
      onLine(text.slice(start, end))
      start = end + 1
    }
    this.#rest = text.slice(start)
  }

  end(onLine: (line: string) => void): void {
    if (this.#rest !== '') onLine(this.#rest)
    this.#rest = ''
  }
}
