// The fields of socketcand messages, read and written: hex ids, `seconds.microseconds`
// timestamps, hex data bytes, decimal counts. Readers throw SocketcandError naming the field.
import { MAX_EXTENDED_ID, MAX_STANDARD_ID } from '../constants.ts'
import { SOCKETCAND_ERROR_CODE, SocketcandError, shown } from './errors.ts'
import type { SocketcandId, SocketcandInterval } from './messages.ts'

const HEX_VALUE = new Int8Array(128).fill(-1)
for (let i = 0; i < 10; i++) HEX_VALUE[0x30 + i] = i
for (let i = 0; i < 6; i++) {
  HEX_VALUE[0x41 + i] = 10 + i
  HEX_VALUE[0x61 + i] = 10 + i
}

/** Upper-case two-digit hex of every byte value, as socketcand prints data (`%02X`). */
export const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, value) =>
  value.toString(16).toUpperCase().padStart(2, '0'),
)

/** CAN_ERR_FLAG: socketcand's BCM mode prints it as part of an error frame's class. */
const CAN_ERR_FLAG = 0x20000000
const MAX_U32 = 0xffffffff
const MICROSECONDS_PER_SECOND = 1_000_000

/** Value of a string of 1..`maxDigits` hex digits, or -1. */
export function hexValue(token: string, maxDigits: number): number {
  const length = token.length
  if (length === 0 || length > maxDigits) return -1
  let value = 0
  for (let i = 0; i < length; i++) {
    const code = token.charCodeAt(i)
    const digit = code < 128 ? HEX_VALUE[code]! : -1
    if (digit < 0) return -1
    value = value * 16 + digit
  }
  return value
}

/**
 * A CAN id (socketcand: `%03X` standard, `%08X` extended). Eight digits mean extended,
 * whatever the value. Fewer digits mean standard when the value fits 11 bits and extended
 * above that: python-can 4.1.0 sends ids with `%X`, unpadded, so its extended id 0x18DA00F1
 * arrives as 8 digits but 0x1ABCDE as 6. An extended id of at most 0x7FF sent unpadded
 * cannot be told from a standard one and is read as standard, as socketcand does.
 */
export function readId(token: string, field: string, text: string): SocketcandId {
  const id = hexValue(token, 8)
  if (id < 0) {
    throw new SocketcandError(
      SOCKETCAND_ERROR_CODE.BAD_ID,
      `${field} '${shown(token)}' is not 1..8 hex digits`,
      { text },
    )
  }
  if (id > MAX_EXTENDED_ID) {
    throw new SocketcandError(
      SOCKETCAND_ERROR_CODE.BAD_ID,
      `${field} 0x${shown(token)} is above the 29-bit maximum 0x1FFFFFFF`,
      { text },
    )
  }
  return { id, extended: token.length === 8 || id > MAX_STANDARD_ID }
}

/** An error frame's class bits (`%03X`; socketcand's BCM mode includes CAN_ERR_FLAG). */
export function readErrorClass(token: string, text: string): number {
  const value = hexValue(token, 8)
  if (value < 0) {
    throw new SocketcandError(
      SOCKETCAND_ERROR_CODE.BAD_ID,
      `error class '${shown(token)}' is not 1..8 hex digits`,
      { text },
    )
  }
  const bits = value & ~CAN_ERR_FLAG
  if (bits > MAX_EXTENDED_ID) {
    throw new SocketcandError(
      SOCKETCAND_ERROR_CODE.BAD_ID,
      `error class 0x${shown(token)} has bits above 0x1FFFFFFF`,
      { text },
    )
  }
  return bits
}

/**
 * `seconds.microseconds` as nanoseconds since the epoch. socketcand prints `%ld.%06ld`;
 * a fraction of 1..9 digits is read as a decimal fraction so that other servers work too.
 */
export function readTimestampNs(token: string, text: string): bigint {
  const dot = token.indexOf('.')
  const fraction = token.length - dot - 1
  if (dot < 1 || dot > 15 || fraction < 1 || fraction > 9 || !isDecimal(token, 0, dot)) {
    throw badTimestamp(token, text)
  }
  if (!isDecimal(token, dot + 1, token.length)) throw badTimestamp(token, text)
  const seconds = Number(token.slice(0, dot))
  const nanoseconds = Number(token.slice(dot + 1)) * 10 ** (9 - fraction)
  return BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds)
}

/** True when `token` looks like a timestamp (to tell an error frame from an error text). */
export function isTimestamp(token: string): boolean {
  const dot = token.indexOf('.')
  const fraction = token.length - dot - 1
  return (
    dot >= 1 &&
    dot <= 15 &&
    fraction >= 1 &&
    fraction <= 9 &&
    isDecimal(token, 0, dot) &&
    isDecimal(token, dot + 1, token.length)
  )
}

function badTimestamp(token: string, text: string): SocketcandError {
  return new SocketcandError(
    SOCKETCAND_ERROR_CODE.BAD_TIMESTAMP,
    `timestamp '${shown(token)}' is not seconds.microseconds (e.g. 23.424242)`,
    { text },
  )
}

function isDecimal(token: string, from: number, to: number): boolean {
  if (from >= to) return false
  for (let i = from; i < to; i++) {
    const code = token.charCodeAt(i)
    if (code < 0x30 || code > 0x39) return false
  }
  return true
}

/** A decimal integer in 0..max (socketcand's `%u`, `%lu`, `%hhu`). */
export function readDecimal(token: string, max: number, field: string, text: string): number {
  if (token.length > 10 || !isDecimal(token, 0, token.length) || Number(token) > max) {
    throw new SocketcandError(
      SOCKETCAND_ERROR_CODE.BAD_NUMBER,
      `${field} '${shown(token)}' is not a decimal number in 0..${max}`,
      { text },
    )
  }
  return Number(token)
}

/** A u32 counter (`%u`). */
export function readU32(token: string, field: string, text: string): number {
  return readDecimal(token, MAX_U32, field, text)
}

/** The `SEC USEC` pair of BCM commands, tokens[at] and tokens[at + 1]. */
export function readInterval(tokens: string[], at: number, text: string): SocketcandInterval {
  return {
    seconds: readDecimal(tokens[at]!, MAX_U32, 'interval seconds', text),
    microseconds: readDecimal(
      tokens[at + 1]!,
      MICROSECONDS_PER_SECOND - 1,
      'interval microseconds',
      text,
    ),
  }
}

/**
 * Data bytes written one per token, 1 or 2 hex digits each (socketcand reads commands
 * with `%hhx`; python-can writes `{:x}`): `count` tokens from `tokens[from]`.
 */
export function readByteTokens(
  tokens: string[],
  from: number,
  count: number,
  text: string,
): Uint8Array {
  const data = new Uint8Array(count)
  for (let i = 0; i < count; i++) {
    const token = tokens[from + i]!
    const value = hexValue(token, 2)
    if (value < 0) {
      throw new SocketcandError(
        SOCKETCAND_ERROR_CODE.BAD_DATA,
        `data byte ${i} '${shown(token)}' is not 1..2 hex digits`,
        { text },
      )
    }
    data[i] = value
  }
  return data
}

/**
 * Data of a received frame from `tokens[from]` on: socketcand's raw mode writes it as one
 * run of hex pairs (`11223344`), its BCM mode as one pair per token (`11 22 33 44`); both,
 * and mixtures, are read. At most `maxBytes`.
 */
export function readHexRun(
  tokens: string[],
  from: number,
  maxBytes: number,
  text: string,
): Uint8Array {
  let digits = 0
  for (let t = from; t < tokens.length; t++) {
    const length = tokens[t]!.length
    if (length % 2 !== 0) {
      throw new SocketcandError(
        SOCKETCAND_ERROR_CODE.BAD_DATA,
        `data '${shown(tokens[t]!)}' has an odd number of hex digits`,
        { text },
      )
    }
    digits += length
  }
  if (digits / 2 > maxBytes) {
    throw new SocketcandError(
      SOCKETCAND_ERROR_CODE.BAD_DATA,
      `${digits / 2} data bytes, at most ${maxBytes} allowed here`,
      { text },
    )
  }
  const data = new Uint8Array(digits / 2)
  let at = 0
  for (let t = from; t < tokens.length; t++) {
    const token = tokens[t]!
    for (let i = 0; i < token.length; i += 2) {
      const high = hexDigit(token, i)
      const low = hexDigit(token, i + 1)
      if (high < 0 || low < 0) {
        throw new SocketcandError(
          SOCKETCAND_ERROR_CODE.BAD_DATA,
          `data '${shown(token)}' is not hex`,
          {
            text,
          },
        )
      }
      data[at++] = high * 16 + low
    }
  }
  return data
}

function hexDigit(token: string, index: number): number {
  const code = token.charCodeAt(index)
  return code < 128 ? HEX_VALUE[code]! : -1
}

/** `%03X` for a standard id, `%08X` for an extended one. */
export function formatId(id: number, extended: boolean): string {
  return id
    .toString(16)
    .toUpperCase()
    .padStart(extended ? 8 : 3, '0')
}

/** `%ld.%06ld` of a nanosecond timestamp (the microseconds truncated, as the kernel's). */
export function formatTimestamp(timestampNs: bigint): string {
  const seconds = timestampNs / 1_000_000_000n
  const microseconds = Number((timestampNs - seconds * 1_000_000_000n) / 1000n)
  return `${seconds}.${String(microseconds).padStart(6, '0')}`
}

/** Data as one run of hex pairs (`%02X` each, no spaces), socketcand's raw mode. */
export function formatHexRun(data: Uint8Array): string {
  let out = ''
  for (let i = 0; i < data.length; i++) out += HEX_BYTE[data[i]!]
  return out
}

/** Data as hex pairs each followed by a space (`%02X `), socketcand's BCM mode. */
export function formatSpacedHex(data: Uint8Array): string {
  let out = ''
  for (let i = 0; i < data.length; i++) out += `${HEX_BYTE[data[i]!]} `
  return out
}

/** Data as space-separated hex pairs for commands (`01 F1`); empty for no data. */
export function formatByteTokens(data: Uint8Array): string {
  let out = ''
  for (let i = 0; i < data.length; i++)
    out += i === 0 ? HEX_BYTE[data[i]!] : ` ${HEX_BYTE[data[i]!]}`
  return out
}
