// can-utils' compact frame notation (lib.c parse_canframe / sprint_canframe), both ways:
//   123#DEADBEEF        classic, 3-digit standard id, upper-case data without separators
//   1ABCDE00#1122       8-digit id: extended
//   20000004#00..00     8-digit id with CAN_ERR_FLAG (0x20000000): an error frame, class bits
//   123#R  123#R4       remote frame, its length when not 0 (`R8_9`..`R8_F`: raw DLC, read only)
//   123##5112233        CAN FD: one hex digit of flags (BRS 1, ESI 2, FDF 4), then the data
//   1122334455667788_C  8 classic bytes with a raw DLC 9..F (len8_dlc, newer can-utils; read only)
import { FD_LENGTHS, FRAME_FLAG } from '@canbridge/protocol'
import type { CanMessage } from '../message.ts'
import { HEX_BYTE, HEX_DIGIT, hex3, hex8 } from './hex.ts'

/** linux/can.h: the error frame flag in a can_id */
export const CAN_ERR_FLAG = 0x20000000
const CAN_ERR_MASK = 0x1fffffff
const CAN_MAX_DLEN = 8

/** The FD flags digit's bits (linux/can.h canfd_frame.flags). */
export const CANFD_FLAG = {
  BRS: 0x1,
  ESI: 0x2,
  /** set by Linux ≥ 6.0 on every CAN FD frame it delivers, so candump prints `##4`/`##5` */
  FDF: 0x4,
} as const

/** One frame as the notation carries it (no time, no interface). */
export interface CandumpFrame {
  /** 11 or 29 bits; the error class bits for an error frame */
  id: number
  /** FRAME_FLAG bits: EXT, RTR, ERR, FD, BRS, ESI */
  flags: number
  /** data length in bytes; the requested length for a remote frame */
  len: number
  /** payload (empty for a remote frame) */
  data: Uint8Array
}

const FD_LENGTH = new Set<number>(FD_LENGTHS)
const EMPTY = new Uint8Array(0)

/**
 * Parses the notation. Accepts everything can-utils writes (and lower-case hex and `.`
 * separators, which it reads); returns a string saying what is wrong otherwise. Never throws.
 */
export function parseCandumpFrame(text: string): CandumpFrame | string {
  let idDigits: number
  if (text[3] === '#') idDigits = 3
  else if (text[8] === '#') idDigits = 8
  else return 'the id is neither 3 nor 8 hex digits followed by #'
  const idText = text.slice(0, idDigits)
  const raw = parseHex(idText)
  if (raw < 0) return `bad id ${JSON.stringify(idText)}`
  let id = raw
  let flags = 0
  if (idDigits === 3) {
    if (raw > 0x7ff) return `standard id ${idText} above 7FF`
  } else if (raw & CAN_ERR_FLAG) {
    id = raw & CAN_ERR_MASK
    flags = FRAME_FLAG.ERR
  } else if (raw > CAN_ERR_MASK) {
    return `extended id ${idText} above 1FFFFFFF`
  } else {
    flags = FRAME_FLAG.EXT
  }
  let at = idDigits + 1
  const first = text[at]
  if (first === 'R' || first === 'r') {
    if (flags & FRAME_FLAG.ERR) return 'an error frame cannot be a remote frame'
    return parseRemote(text.slice(at + 1), id, flags)
  }
  let fd = false
  if (first === '#') {
    if (flags & FRAME_FLAG.ERR) return 'an error frame cannot be CAN FD'
    const nibble = hexValue(text.charCodeAt(at + 1))
    if (nibble < 0) return 'CAN FD frame without its flags digit after ##'
    fd = true
    flags |= FRAME_FLAG.FD
    if (nibble & CANFD_FLAG.BRS) flags |= FRAME_FLAG.BRS
    if (nibble & CANFD_FLAG.ESI) flags |= FRAME_FLAG.ESI
    at += 2
  }
  const data = parseData(text, at, fd)
  if (typeof data === 'string') return data
  return { id, flags, len: data.length, data }
}

function parseRemote(rest: string, id: number, flags: number): CandumpFrame | string {
  let len = 0
  if (rest !== '') {
    len = rest.charCodeAt(0) - 0x30
    const rawDlc = rest.length === 3 && rest[1] === '_' ? hexValue(rest.charCodeAt(2)) : -1
    const valid =
      len >= 0 && len <= CAN_MAX_DLEN && (rest.length === 1 || (len === 8 && rawDlc > 8))
    if (!valid) return `bad remote frame ${JSON.stringify(`R${rest}`)} (R, R0..R8 or R8_9..R8_F)`
  }
  return { id, flags: flags | FRAME_FLAG.RTR, len, data: EMPTY }
}

/** Hex byte pairs from `at` (optional `.` between them), and a raw DLC suffix on 8 bytes. */
function parseData(text: string, at: number, fd: boolean): Uint8Array | string {
  let end = text.length
  // `_X` after 8 classic bytes: the raw DLC 9..F (len8_dlc); the length stays 8
  if (!fd && end >= 2 && text[end - 2] === '_') {
    const rawDlc = hexValue(text.charCodeAt(end - 1))
    if (rawDlc <= 8) return `bad raw DLC suffix ${JSON.stringify(text.slice(end - 2))} (_9.._F)`
    end -= 2
  }
  const bytes: number[] = []
  let i = at
  while (i < end) {
    if (text[i] === '.') {
      i++
      continue
    }
    const high = hexValue(text.charCodeAt(i))
    const low = i + 1 < end ? hexValue(text.charCodeAt(i + 1)) : -1
    if (high < 0 || low < 0) return `bad data ${JSON.stringify(text.slice(at))}`
    bytes.push((high << 4) | low)
    i += 2
  }
  const len = bytes.length
  if (fd ? !FD_LENGTH.has(len) : len > CAN_MAX_DLEN) {
    return `${len} data bytes is not a ${fd ? 'CAN FD (0..8, 12, 16, 20, 24, 32, 48, 64)' : 'classic CAN (0..8)'} length`
  }
  if (end < text.length && len !== CAN_MAX_DLEN) {
    return `a raw DLC suffix ${JSON.stringify(text.slice(end))} needs exactly 8 data bytes`
  }
  return len === 0 ? EMPTY : Uint8Array.from(bytes)
}

/** The hex value of an id (up to 8 digits), or -1 when a character is not a hex digit. */
function parseHex(text: string): number {
  let value = 0
  for (let i = 0; i < text.length; i++) {
    const digit = hexValue(text.charCodeAt(i))
    if (digit < 0) return -1
    value = value * 16 + digit
  }
  return value
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30
  if (code >= 0x41 && code <= 0x46) return code - 0x37
  if (code >= 0x61 && code <= 0x66) return code - 0x57
  return -1
}

/**
 * The notation of a message, exactly as sprint_canframe writes it. `fdFlagBase` is ORed into
 * the FD flags digit: CANFD_FLAG.FDF (the default) as candump prints frames from Linux ≥ 6.0,
 * 0 as older kernels and python-can write them (`##0`, `##1`).
 */
export function formatCandumpFrame(
  message: CanMessage,
  fdFlagBase: number = CANFD_FLAG.FDF,
): string {
  const id = message.arbitrationId
  let text: string
  if (message.isErrorFrame) text = `${hex8((CAN_ERR_FLAG | id) >>> 0)}#`
  else if (message.isExtendedId) text = `${hex8(id)}#`
  else text = `${hex3(id)}#`
  if (message.isRemoteFrame) {
    const len = message.dlc
    return len > 0 && len <= CAN_MAX_DLEN ? `${text}R${HEX_DIGIT[len]}` : `${text}R`
  }
  if (message.isFd) {
    text += `#${HEX_DIGIT[fdFlagBase | (message.bitrateSwitch ? CANFD_FLAG.BRS : 0) | (message.errorStateIndicator ? CANFD_FLAG.ESI : 0)]}`
  }
  const data = message.data
  for (let i = 0; i < data.length; i++) text += HEX_BYTE[data[i]!]!
  return text
}
