// The one error the socketcand text codec raises: every malformed input is a SocketcandError.

import { CodecError } from '../errors.ts'

export const SOCKETCAND_ERROR_CODE = {
  /** a message grew past the tokenizer's maxMessageLength before its closing `>` */
  MESSAGE_TOO_LONG: 'MESSAGE_TOO_LONG',
  /** a byte outside `< ... >` that is not whitespace */
  UNEXPECTED_BYTE: 'UNEXPECTED_BYTE',
  /** a control or non-ASCII byte, or a second `<`, inside a message */
  BAD_CHARACTER: 'BAD_CHARACTER',
  /** the stream ended inside a message */
  TRUNCATED_MESSAGE: 'TRUNCATED_MESSAGE',
  /** not of the shape `< keyword [argument]* >` */
  BAD_SYNTAX: 'BAD_SYNTAX',
  /** a keyword this direction of the protocol does not have */
  UNKNOWN_COMMAND: 'UNKNOWN_COMMAND',
  /** too few or too many arguments for the keyword */
  BAD_ARGUMENTS: 'BAD_ARGUMENTS',
  /** a CAN id that is not 1..8 hex digits or is out of range */
  BAD_ID: 'BAD_ID',
  /** a decimal field (DLC, interval, counter) that is not a number in its range */
  BAD_NUMBER: 'BAD_NUMBER',
  /** a timestamp that is not `seconds.microseconds` */
  BAD_TIMESTAMP: 'BAD_TIMESTAMP',
  /** data bytes that are not hex, or not as many as the length says */
  BAD_DATA: 'BAD_DATA',
  /** a CAN FD flags field with bits other than BRS, ESI, FDF */
  BAD_FLAGS: 'BAD_FLAGS',
  /** a bus name that is empty, too long or holds characters socketcand cannot carry */
  BAD_BUS_NAME: 'BAD_BUS_NAME',
  /** a frame or message given to a formatter that the protocol cannot express */
  BAD_FRAME: 'BAD_FRAME',
} as const
export type SocketcandErrorCode = (typeof SOCKETCAND_ERROR_CODE)[keyof typeof SOCKETCAND_ERROR_CODE]

export interface SocketcandErrorOptions {
  /** the message text involved (cut to 120 characters in the error message) */
  text?: string | undefined
  /** byte offset in the stream where the problem starts (tokenizer errors) */
  offset?: number | undefined
  cause?: unknown
}

const MAX_QUOTED = 120

export class SocketcandError extends CodecError {
  override readonly name = 'SocketcandError'
  /** what is wrong, for code to branch on (UNKNOWN_COMMAND: answer `< error unknown command >`) */
  readonly code: SocketcandErrorCode
  /** the whole message text, when a parser or formatter raised the error */
  readonly text: string | undefined
  /** the stream offset, when the tokenizer raised it */
  readonly offset: number | undefined

  constructor(code: SocketcandErrorCode, message: string, options: SocketcandErrorOptions = {}) {
    super(`${code}: ${message}${context(options)}`, { cause: options.cause })
    this.code = code
    this.text = options.text
    this.offset = options.offset
  }
}

/** Where the problem is: the message text (parsers) or the stream offset (tokenizer). */
function context(options: SocketcandErrorOptions): string {
  if (options.text !== undefined) return ` (in '${quote(options.text)}')`
  if (options.offset !== undefined) return ` (at offset ${options.offset})`
  return ''
}

function quote(text: string): string {
  return text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text
}

const MAX_SHOWN = 40

/** A word of a message as an error shows it: cut to 40 characters. */
export function shown(token: string): string {
  return token.length > MAX_SHOWN ? `${token.slice(0, MAX_SHOWN)}…` : token
}
