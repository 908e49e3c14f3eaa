// Writes socketcand messages exactly as socketcand (and python-can) do, byte for byte; the
// caller writes the string to the socket. Anything the protocol cannot carry throws BAD_FRAME.
import { FRAME_FLAG, MAX_CLASSIC_LENGTH } from '../constants.ts'
import { type CanFrame, frameProblem, payloadLength } from '../frame.ts'
import {
  SOCKETCAND_EXTENSION_KEYWORD,
  SOCKETCAND_FD_FLAG,
  SOCKETCAND_MAX_BUS_NAME,
} from './constants.ts'
import { SOCKETCAND_ERROR_CODE, SocketcandError } from './errors.ts'
import {
  formatByteTokens,
  formatHexRun,
  formatId,
  formatSpacedHex,
  formatTimestamp,
  HEX_BYTE,
} from './fields.ts'
import type {
  SocketcandClientMessage,
  SocketcandInterval,
  SocketcandServerMessage,
} from './messages.ts'

export interface SocketcandFrameFormatOptions {
  /**
   * Data as `11 22 33 ` (socketcand's BCM mode) instead of `112233` (its raw mode, the
   * default, and what python-can reads)
   */
  spacedData?: boolean | undefined
  /** Error frames with their data bytes (the `errdata` extension); default: class only */
  errorData?: boolean | undefined
}

const MODE_KEYWORD = {
  raw: 'rawmode',
  bcm: 'bcmmode',
  control: 'controlmode',
  isotp: 'isotpmode',
} as const

const MAX_U32 = 0xffffffff
const MAX_MICROSECONDS = 999_999
const BUS_NAME_PATTERN = /^[\x21-\x3b\x3d\x3f-\x7e]+$/ // printable, no '<' or '>'
const TEXT_PATTERN = /^[\x20-\x3b\x3d\x3f-\x7e]*$/

/**
 * A received frame as a server sends it: `< frame ID SEC.USEC DATA >`, an error frame
 * `< error CLASS SEC.USEC >`, and, for a client that enabled the extension features,
 * `< rtr ID SEC.USEC DLC >` and `< fdframe ID FLAGS SEC.USEC DATA >`. Like socketcand, a
 * frame without data ends in two spaces (`< frame 123 1.000000  >`): python-can 4.1.0
 * fails on the single-space form.
 */
export function formatSocketcandFrame(
  frame: CanFrame,
  options: SocketcandFrameFormatOptions = {},
): string {
  checkFrame(frame)
  const flags = frame.flags
  const time = formatTimestamp(frame.timestampNs)
  if (flags & FRAME_FLAG.ERR) {
    const errorClass = frame.id.toString(16).toUpperCase().padStart(3, '0')
    if (options.errorData && frame.data.length > 0) {
      return `< error ${errorClass} ${time} ${formatHexRun(frame.data)} >`
    }
    return `< error ${errorClass} ${time} >`
  }
  const id = formatId(frame.id, (flags & FRAME_FLAG.EXT) !== 0)
  if (flags & FRAME_FLAG.RTR) return `< rtr ${id} ${time} ${frame.len} >`
  const data = options.spacedData ? formatSpacedHex(frame.data) : formatHexRun(frame.data)
  if (flags & FRAME_FLAG.FD)
    return `< fdframe ${id} ${HEX_BYTE[fdFlagsOf(flags)]} ${time} ${data} >`
  return `< frame ${id} ${time} ${data} >`
}

/**
 * A frame to transmit as a client sends it: `< send ID DLC B* >`, or (extension)
 * `< sendrtr ID DLC >` and `< fdsend ID FLAGS LEN B* >`.
 */
export function formatSocketcandSend(frame: CanFrame): string {
  checkFrame(frame)
  const flags = frame.flags
  if (flags & FRAME_FLAG.ERR) throw badFrame('an error frame cannot be sent')
  const id = formatId(frame.id, (flags & FRAME_FLAG.EXT) !== 0)
  if (flags & FRAME_FLAG.RTR) return `< sendrtr ${id} ${frame.len} >`
  if (flags & FRAME_FLAG.FD) {
    return `< fdsend ${id} ${HEX_BYTE[fdFlagsOf(flags)]} ${frame.len}${bytesAfter(frame.data)} >`
  }
  return `< send ${id} ${frame.len}${bytesAfter(frame.data)} >`
}

/** Any client → server message. */
export function formatSocketcandClientMessage(message: SocketcandClientMessage): string {
  switch (message.type) {
    case 'open':
      if (
        typeof message.bus !== 'string' ||
        message.bus.length > SOCKETCAND_MAX_BUS_NAME ||
        !BUS_NAME_PATTERN.test(message.bus) ||
        message.bus.includes('/')
      ) {
        throw new SocketcandError(
          SOCKETCAND_ERROR_CODE.BAD_BUS_NAME,
          `bus name '${String(message.bus)}' must be 1..${SOCKETCAND_MAX_BUS_NAME} printable characters without blanks, '<', '>', '/'`,
        )
      }
      return `< open ${message.bus} >`
    case 'mode':
      if (!Object.hasOwn(MODE_KEYWORD, message.mode)) {
        throw badFrame(`mode '${String(message.mode)}' is not raw, bcm, control or isotp`)
      }
      return `< ${MODE_KEYWORD[message.mode]} >`
    case 'echo':
      return '< echo >'
    case 'send':
      return formatSocketcandSend(message.frame)
    case 'add':
      return `< add ${interval(message.interval)} ${classicCommand(message.frame, 'add')} >`
    case 'update':
      return `< update ${classicCommand(message.frame, 'update')} >`
    case 'delete':
      return `< delete ${commandId(message.id, message.extended)} >`
    case 'subscribe':
      return `< subscribe ${interval(message.interval)} ${commandId(message.id, message.extended)} >`
    case 'unsubscribe':
      return `< unsubscribe ${commandId(message.id, message.extended)} >`
    case 'filter': {
      if (!(message.mask instanceof Uint8Array) || message.mask.length > MAX_CLASSIC_LENGTH) {
        throw badFrame('a filter mask must be a Uint8Array of 0..8 bytes')
      }
      const id = commandId(message.id, message.extended)
      return `< filter ${interval(message.interval)} ${id} ${message.mask.length}${bytesAfter(message.mask)} >`
    }
    case 'muxfilter': {
      const tuples = message.tuples
      if (
        !Array.isArray(tuples) ||
        tuples.length < 2 ||
        tuples.length > 257 ||
        !tuples.every((tuple) => tuple instanceof Uint8Array && tuple.length === 8)
      ) {
        throw badFrame('muxfilter needs 2..257 tuples of 8 bytes (the mask tuple first)')
      }
      const id = commandId(message.id, message.extended)
      const bytes = tuples.map((tuple) => formatByteTokens(tuple)).join(' ')
      return `< muxfilter ${interval(message.interval)} ${id} ${tuples.length} ${bytes} >`
    }
    case 'statistics':
      return `< statistics ${count(message.intervalMs, 'statistics interval')} >`
    case 'extension':
      return formatExtension(message.version, message.features)
    default:
      throw badFrame(`unknown client message type '${String((message as { type: unknown }).type)}'`)
  }
}

/** Any server → client message; `options` apply to frames. */
export function formatSocketcandServerMessage(
  message: SocketcandServerMessage,
  options: SocketcandFrameFormatOptions = {},
): string {
  switch (message.type) {
    case 'hi':
      return '< hi >'
    case 'ok':
      return '< ok >'
    case 'echo':
      return '< echo >'
    case 'error':
      if (typeof message.text !== 'string' || !TEXT_PATTERN.test(message.text)) {
        throw badFrame(
          `error text '${String(message.text)}' must be printable ASCII without '<' or '>'`,
        )
      }
      return message.text.trim() === '' ? '< error >' : `< error ${message.text.trim()} >`
    case 'frame':
      return formatSocketcandFrame(message.frame, options)
    case 'stat':
      return `< stat ${count(message.rxBytes, 'rxBytes')} ${count(message.rxPackets, 'rxPackets')} ${count(message.txBytes, 'txBytes')} ${count(message.txPackets, 'txPackets')} >`
    case 'extension':
      return formatExtension(message.version, message.features)
    default:
      throw badFrame(`unknown server message type '${String((message as { type: unknown }).type)}'`)
  }
}

function formatExtension(version: number, features: readonly string[]): string {
  if (!Number.isInteger(version) || version < 1 || version > 999) {
    throw badFrame(`extension version must be an integer in 1..999, got ${String(version)}`)
  }
  if (!Array.isArray(features) || !features.every((f) => /^[a-z0-9][a-z0-9-]{0,31}$/.test(f))) {
    throw badFrame('extension features must be words of a-z, 0-9, - (1..32 characters)')
  }
  const list = features.length > 0 ? ` ${features.join(' ')}` : ''
  return `< ${SOCKETCAND_EXTENSION_KEYWORD} ${version}${list} >`
}

function fdFlagsOf(flags: number): number {
  return (
    (flags & FRAME_FLAG.BRS ? SOCKETCAND_FD_FLAG.BRS : 0) |
    (flags & FRAME_FLAG.ESI ? SOCKETCAND_FD_FLAG.ESI : 0)
  )
}

/** ` 01 F1` (a space before each byte), or nothing. */
function bytesAfter(data: Uint8Array): string {
  return data.length === 0 ? '' : ` ${formatByteTokens(data)}`
}

function classicCommand(frame: CanFrame, keyword: string): string {
  checkFrame(frame)
  if (frame.flags & (FRAME_FLAG.ERR | FRAME_FLAG.RTR | FRAME_FLAG.FD)) {
    throw badFrame(`'${keyword}' carries classic data frames only (no RTR, FD or error frames)`)
  }
  const id = formatId(frame.id, (frame.flags & FRAME_FLAG.EXT) !== 0)
  return `${id} ${frame.len}${bytesAfter(frame.data)}`
}

function commandId(id: number, extended: boolean): string {
  const max = extended ? 0x1fffffff : 0x7ff
  if (!Number.isInteger(id) || id < 0 || id > max) {
    throw badFrame(
      `${extended ? 'extended' : 'standard'} id ${String(id)} is not in 0..0x${max.toString(16)}`,
    )
  }
  return formatId(id, extended)
}

function interval(value: SocketcandInterval): string {
  if (typeof value !== 'object' || value === null)
    throw badFrame('interval must be { seconds, microseconds }')
  const seconds = count(value.seconds, 'interval seconds')
  const microseconds = value.microseconds
  if (!Number.isInteger(microseconds) || microseconds < 0 || microseconds > MAX_MICROSECONDS) {
    throw badFrame(
      `interval microseconds must be an integer in 0..999999, got ${String(microseconds)}`,
    )
  }
  return `${seconds} ${microseconds}`
}

function count(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_U32) {
    throw badFrame(`${field} must be an integer in 0..4294967295, got ${String(value)}`)
  }
  return value
}

function checkFrame(frame: CanFrame): void {
  if (typeof frame !== 'object' || frame === null || !(frame.data instanceof Uint8Array)) {
    throw badFrame('frame must be an object with a Uint8Array data')
  }
  if (
    !Number.isInteger(frame.id) ||
    frame.id < 0 ||
    !Number.isInteger(frame.len) ||
    frame.len < 0
  ) {
    throw badFrame(
      `frame id and len must be non-negative integers, got ${String(frame.id)}, ${String(frame.len)}`,
    )
  }
  if (typeof frame.timestampNs !== 'bigint' || frame.timestampNs < 0n) {
    throw badFrame(`frame timestampNs must be a bigint >= 0, got ${String(frame.timestampNs)}`)
  }
  const problem = frameProblem(frame.id, frame.flags, frame.len)
  if (problem !== undefined) throw badFrame(problem)
  if (frame.data.length !== payloadLength(frame.flags, frame.len)) {
    throw badFrame(`frame data has ${frame.data.length} bytes, len says ${frame.len}`)
  }
}

function badFrame(message: string): SocketcandError {
  return new SocketcandError(SOCKETCAND_ERROR_CODE.BAD_FRAME, message)
}
