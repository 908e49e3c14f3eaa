// Reads one socketcand message text (`< keyword argument* >`, from the tokenizer) into a
// value: parseSocketcandClientMessage for what a server receives, parseSocketcandServerMessage for a client.
import { FD_LENGTHS, FRAME_FLAG, MAX_CLASSIC_LENGTH, MAX_FD_LENGTH } from '../constants.ts'
import { type CanFrame, frameProblem } from '../frame.ts'
import {
  SOCKETCAND_EXTENSION_KEYWORD,
  SOCKETCAND_FD_FLAG,
  SOCKETCAND_MAX_BUS_NAME,
} from './constants.ts'
import { SOCKETCAND_ERROR_CODE, SocketcandError, shown } from './errors.ts'
import {
  hexValue,
  isTimestamp,
  readByteTokens,
  readDecimal,
  readErrorClass,
  readHexRun,
  readId,
  readInterval,
  readTimestampNs,
  readU32,
} from './fields.ts'
import type { SocketcandClientMessage, SocketcandServerMessage } from './messages.ts'

const OPEN = 0x3c // '<'
const CLOSE = 0x3e // '>'
const ALL_FD_FLAGS = SOCKETCAND_FD_FLAG.BRS | SOCKETCAND_FD_FLAG.ESI | SOCKETCAND_FD_FLAG.FDF
const VALID_FD_LENGTH = new Set(FD_LENGTHS)
/** muxfilter: one mask tuple plus 1..256 content tuples (socketcand's limit). */
const MAX_MUX_TUPLES = 257
const MUX_TUPLE_BYTES = 8
const MAX_EXTENSION_VERSION = 999
/** no upper bound on words: the length field, checked next, says how many (the tokenizer bounds the text) */
const ANY = Number.POSITIVE_INFINITY
const FEATURE_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/

/** What a server receives: a command of a client. */
export function parseSocketcandClientMessage(text: string): SocketcandClientMessage {
  const tokens = tokensOf(text)
  const keyword = tokens[0]!
  switch (keyword) {
    case 'open':
      arity(tokens, 2, 2, 'open BUS', text)
      return { type: 'open', bus: readBusName(tokens[1]!, text) }
    case 'rawmode':
    case 'bcmmode':
    case 'controlmode':
    case 'isotpmode':
      arity(tokens, 1, 1, keyword, text)
      return { type: 'mode', mode: MODE_OF_KEYWORD[keyword] }
    case 'echo':
      arity(tokens, 1, 1, 'echo', text)
      return { type: 'echo' }
    case 'send':
      arity(tokens, 3, ANY, 'send ID DLC BYTE*', text)
      return { type: 'send', frame: readClassicFrame(tokens, 1, text) }
    case 'sendrtr': {
      arity(tokens, 3, 3, 'sendrtr ID DLC', text)
      const { id, extended } = readId(tokens[1]!, 'id', text)
      const dlc = readDecimal(tokens[2]!, MAX_CLASSIC_LENGTH, 'DLC', text)
      const flags = FRAME_FLAG.RTR | (extended ? FRAME_FLAG.EXT : 0)
      return {
        type: 'send',
        frame: checked({ timestampNs: 0n, id, flags, len: dlc, data: EMPTY }, text),
      }
    }
    case 'fdsend':
      arity(tokens, 4, ANY, 'fdsend ID FLAGS LEN BYTE*', text)
      return { type: 'send', frame: readFdCommandFrame(tokens, text) }
    case 'add':
      arity(tokens, 5, ANY, 'add SEC USEC ID DLC BYTE*', text)
      return {
        type: 'add',
        interval: readInterval(tokens, 1, text),
        frame: readClassicFrame(tokens, 3, text),
      }
    case 'update':
      arity(tokens, 3, ANY, 'update ID DLC BYTE*', text)
      return { type: 'update', frame: readClassicFrame(tokens, 1, text) }
    case 'delete':
      arity(tokens, 2, 2, 'delete ID', text)
      return { type: 'delete', ...readId(tokens[1]!, 'id', text) }
    case 'subscribe':
      arity(tokens, 4, 4, 'subscribe SEC USEC ID', text)
      return {
        type: 'subscribe',
        interval: readInterval(tokens, 1, text),
        ...readId(tokens[3]!, 'id', text),
      }
    case 'unsubscribe':
      arity(tokens, 2, 2, 'unsubscribe ID', text)
      return { type: 'unsubscribe', ...readId(tokens[1]!, 'id', text) }
    case 'filter': {
      arity(tokens, 5, ANY, 'filter SEC USEC ID DLC MASK*', text)
      const interval = readInterval(tokens, 1, text)
      const id = readId(tokens[3]!, 'id', text)
      const dlc = readDecimal(tokens[4]!, MAX_CLASSIC_LENGTH, 'DLC', text)
      byteCount(tokens, 5, dlc, text)
      return { type: 'filter', interval, ...id, mask: readByteTokens(tokens, 5, dlc, text) }
    }
    case 'muxfilter': {
      arity(tokens, 5, ANY, 'muxfilter SEC USEC ID N BYTE*', text)
      const interval = readInterval(tokens, 1, text)
      const id = readId(tokens[3]!, 'id', text)
      const count = readDecimal(tokens[4]!, MAX_MUX_TUPLES, 'tuple count', text)
      if (count < 2) {
        throw new SocketcandError(
          SOCKETCAND_ERROR_CODE.BAD_NUMBER,
          `tuple count ${count}: a muxfilter needs the mask tuple and at least one more`,
          { text },
        )
      }
      byteCount(tokens, 5, count * MUX_TUPLE_BYTES, text)
      const bytes = readByteTokens(tokens, 5, count * MUX_TUPLE_BYTES, text)
      const tuples: Uint8Array[] = []
      for (let i = 0; i < count; i++) {
        tuples.push(bytes.subarray(i * MUX_TUPLE_BYTES, (i + 1) * MUX_TUPLE_BYTES))
      }
      return { type: 'muxfilter', interval, ...id, tuples }
    }
    case 'statistics':
      arity(tokens, 2, 2, 'statistics MS', text)
      return { type: 'statistics', intervalMs: readU32(tokens[1]!, 'interval', text) }
    case SOCKETCAND_EXTENSION_KEYWORD:
      return { type: 'extension', ...readExtension(tokens, text) }
    default:
      throw unknown(keyword, 'a server', text)
  }
}

/** What a client receives: a reply, a frame or a report of a server. */
export function parseSocketcandServerMessage(text: string): SocketcandServerMessage {
  const tokens = tokensOf(text)
  const keyword = tokens[0]!
  switch (keyword) {
    case 'frame': {
      arity(tokens, 3, ANY, 'frame ID SEC.USEC DATA', text)
      const { id, extended } = readId(tokens[1]!, 'id', text)
      const timestampNs = readTimestampNs(tokens[2]!, text)
      const data = readHexRun(tokens, 3, MAX_CLASSIC_LENGTH, text)
      const flags = extended ? FRAME_FLAG.EXT : 0
      return {
        type: 'frame',
        frame: checked({ timestampNs, id, flags, len: data.length, data }, text),
      }
    }
    case 'hi':
    case 'ok':
    case 'echo':
      arity(tokens, 1, 1, keyword, text)
      return { type: keyword }
    case 'error':
      return readError(tokens, text)
    case 'rtr': {
      arity(tokens, 4, 4, 'rtr ID SEC.USEC DLC', text)
      const { id, extended } = readId(tokens[1]!, 'id', text)
      const timestampNs = readTimestampNs(tokens[2]!, text)
      const dlc = readDecimal(tokens[3]!, MAX_CLASSIC_LENGTH, 'DLC', text)
      const flags = FRAME_FLAG.RTR | (extended ? FRAME_FLAG.EXT : 0)
      return {
        type: 'frame',
        frame: checked({ timestampNs, id, flags, len: dlc, data: EMPTY }, text),
      }
    }
    case 'fdframe': {
      arity(tokens, 4, ANY, 'fdframe ID FLAGS SEC.USEC DATA', text)
      const { id, extended } = readId(tokens[1]!, 'id', text)
      const fdFlags = readFdFlags(tokens[2]!, text)
      const timestampNs = readTimestampNs(tokens[3]!, text)
      const data = readHexRun(tokens, 4, MAX_FD_LENGTH, text)
      fdLength(data.length, text)
      const flags = FRAME_FLAG.FD | fdFlags | (extended ? FRAME_FLAG.EXT : 0)
      return {
        type: 'frame',
        frame: checked({ timestampNs, id, flags, len: data.length, data }, text),
      }
    }
    case 'stat':
      arity(tokens, 5, 5, 'stat RBYTES RPACKETS TBYTES TPACKETS', text)
      return {
        type: 'stat',
        rxBytes: readU32(tokens[1]!, 'rbytes', text),
        rxPackets: readU32(tokens[2]!, 'rpackets', text),
        txBytes: readU32(tokens[3]!, 'tbytes', text),
        txPackets: readU32(tokens[4]!, 'tpackets', text),
      }
    case SOCKETCAND_EXTENSION_KEYWORD:
      return { type: 'extension', ...readExtension(tokens, text) }
    default:
      throw unknown(keyword, 'a client', text)
  }
}

const EMPTY = new Uint8Array(0)

const MODE_OF_KEYWORD = {
  rawmode: 'raw',
  bcmmode: 'bcm',
  controlmode: 'control',
  isotpmode: 'isotp',
} as const

/**
 * Splits `< a b c >` into its words, checking the brackets and the characters: printable
 * ASCII words separated by blanks (space, tab, CR, LF), no `<` or `>` inside.
 */
function tokensOf(text: string): string[] {
  const last = text.length - 1
  if (last < 1 || text.charCodeAt(0) !== OPEN || text.charCodeAt(last) !== CLOSE) {
    throw new SocketcandError(
      SOCKETCAND_ERROR_CODE.BAD_SYNTAX,
      `a message must start with '<' and end with '>'`,
      { text },
    )
  }
  const tokens: string[] = []
  let start = -1
  for (let i = 1; i < last; i++) {
    const code = text.charCodeAt(i)
    const blank = code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d
    if (!blank && (code < 0x21 || code > 0x7e || code === OPEN || code === CLOSE)) {
      throw new SocketcandError(
        SOCKETCAND_ERROR_CODE.BAD_CHARACTER,
        `character code 0x${code.toString(16)} at index ${i} (only printable ASCII, no '<' or '>' inside)`,
        { text },
      )
    }
    if (blank) {
      if (start >= 0) tokens.push(text.slice(start, i))
      start = -1
    } else if (start < 0) start = i
  }
  if (start >= 0) tokens.push(text.slice(start, last))
  if (tokens.length === 0) {
    throw new SocketcandError(SOCKETCAND_ERROR_CODE.BAD_SYNTAX, 'empty message', { text })
  }
  return tokens
}

function arity(tokens: string[], min: number, max: number, usage: string, text: string): void {
  const count = tokens.length
  if (count >= min && count <= max) return
  throw new SocketcandError(
    SOCKETCAND_ERROR_CODE.BAD_ARGUMENTS,
    `${count - 1} arguments; expected '< ${usage} >'`,
    { text },
  )
}

function byteCount(tokens: string[], from: number, expected: number, text: string): void {
  const given = tokens.length - from
  if (given === expected) return
  throw new SocketcandError(
    SOCKETCAND_ERROR_CODE.BAD_ARGUMENTS,
    `the length field says ${expected} data bytes but ${given} follow`,
    { text },
  )
}

function unknown(keyword: string, receiver: string, text: string): SocketcandError {
  return new SocketcandError(
    SOCKETCAND_ERROR_CODE.UNKNOWN_COMMAND,
    `'${shown(keyword)}' is not a message ${receiver} receives`,
    { text },
  )
}

/** `ID DLC BYTE*` from tokens[at]: a classic data frame of a command. */
function readClassicFrame(tokens: string[], at: number, text: string): CanFrame {
  const { id, extended } = readId(tokens[at]!, 'id', text)
  const dlc = readDecimal(tokens[at + 1]!, MAX_CLASSIC_LENGTH, 'DLC', text)
  byteCount(tokens, at + 2, dlc, text)
  const data = readByteTokens(tokens, at + 2, dlc, text)
  return checked(
    { timestampNs: 0n, id, flags: extended ? FRAME_FLAG.EXT : 0, len: dlc, data },
    text,
  )
}

/** `fdsend ID FLAGS LEN BYTE*` (LEN decimal, as socketcand's `%hhu`). */
function readFdCommandFrame(tokens: string[], text: string): CanFrame {
  const { id, extended } = readId(tokens[1]!, 'id', text)
  const fdFlags = readFdFlags(tokens[2]!, text)
  const length = readDecimal(tokens[3]!, MAX_FD_LENGTH, 'LEN', text)
  fdLength(length, text)
  byteCount(tokens, 4, length, text)
  const data = readByteTokens(tokens, 4, length, text)
  const flags = FRAME_FLAG.FD | fdFlags | (extended ? FRAME_FLAG.EXT : 0)
  return checked({ timestampNs: 0n, id, flags, len: length, data }, text)
}

/** The `%02X` FLAGS of fdframe / fdsend, as FRAME_FLAG bits (BRS, ESI; FDF dropped). */
function readFdFlags(token: string, text: string): number {
  const value = hexValue(token, 2)
  if (value < 0 || (value & ~ALL_FD_FLAGS) !== 0) {
    throw new SocketcandError(
      SOCKETCAND_ERROR_CODE.BAD_FLAGS,
      `FD flags '${shown(token)}' must be hex with only BRS (01), ESI (02), FDF (04)`,
      { text },
    )
  }
  return (
    (value & SOCKETCAND_FD_FLAG.BRS ? FRAME_FLAG.BRS : 0) |
    (value & SOCKETCAND_FD_FLAG.ESI ? FRAME_FLAG.ESI : 0)
  )
}

function fdLength(length: number, text: string): void {
  if (VALID_FD_LENGTH.has(length)) return
  throw new SocketcandError(
    SOCKETCAND_ERROR_CODE.BAD_DATA,
    `${length} bytes is not a CAN FD length (0..8, 12, 16, 20, 24, 32, 48, 64)`,
    { text },
  )
}

/**
 * `< error ... >` is either an error frame, `error CLASS SEC.USEC [DATA]` (socketcand's raw
 * mode prints no data; its BCM mode and canbridge's `errdata` print 8 bytes), or a refusal
 * whose words are free text, e.g. `< error unknown command >`.
 */
function readError(tokens: string[], text: string): SocketcandServerMessage {
  if (tokens.length >= 3 && hexValue(tokens[1]!, 8) >= 0 && isTimestamp(tokens[2]!)) {
    const id = readErrorClass(tokens[1]!, text)
    const timestampNs = readTimestampNs(tokens[2]!, text)
    const data = readHexRun(tokens, 3, MAX_CLASSIC_LENGTH, text)
    const frame = checked({ timestampNs, id, flags: FRAME_FLAG.ERR, len: data.length, data }, text)
    return { type: 'frame', frame }
  }
  return { type: 'error', text: tokens.slice(1).join(' ') }
}

function readBusName(token: string, text: string): string {
  if (token.length > SOCKETCAND_MAX_BUS_NAME || token.includes('/')) {
    throw new SocketcandError(
      SOCKETCAND_ERROR_CODE.BAD_BUS_NAME,
      `bus name '${shown(token)}' must be 1..${SOCKETCAND_MAX_BUS_NAME} characters without '/'`,
      { text },
    )
  }
  return token
}

function readExtension(tokens: string[], text: string): { version: number; features: string[] } {
  arity(tokens, 2, 2 + 32, `${SOCKETCAND_EXTENSION_KEYWORD} VERSION FEATURE*`, text)
  const version = readDecimal(tokens[1]!, MAX_EXTENSION_VERSION, 'extension version', text)
  if (version < 1) {
    throw new SocketcandError(
      SOCKETCAND_ERROR_CODE.BAD_NUMBER,
      'extension version must be 1 or more',
      { text },
    )
  }
  const features = tokens.slice(2)
  for (const feature of features) {
    if (!FEATURE_PATTERN.test(feature)) {
      throw new SocketcandError(
        SOCKETCAND_ERROR_CODE.BAD_ARGUMENTS,
        `extension feature '${shown(feature)}' must be 1..32 of a-z, 0-9, '-'`,
        { text },
      )
    }
  }
  return { version, features }
}

/** Last line of defence: the frame must be one the protocol's frame rules accept. */
function checked(frame: CanFrame, text: string): CanFrame {
  const problem = frameProblem(frame.id, frame.flags, frame.len)
  if (problem !== undefined) {
    throw new SocketcandError(SOCKETCAND_ERROR_CODE.BAD_FRAME, problem, { text })
  }
  return frame
}
