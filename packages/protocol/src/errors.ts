// The errors the codecs raise: every malformed canbridge input becomes a ProtocolError,
// every malformed socketcand message a SocketcandError; both are CodecErrors.

/** The root of the package's errors: `instanceof CodecError` catches both codecs'. */
export class CodecError extends Error {
  override readonly name: string = 'CodecError'
}

export const PROTOCOL_ERROR_CODE = {
  BAD_MAGIC: 'BAD_MAGIC',
  VERSION_MISMATCH: 'VERSION_MISMATCH',
  BAD_ROLE: 'BAD_ROLE',
  BAD_PREAMBLE: 'BAD_PREAMBLE',
  BAD_HEADER: 'BAD_HEADER',
  UNKNOWN_TYPE: 'UNKNOWN_TYPE',
  UNEXPECTED_TYPE: 'UNEXPECTED_TYPE',
  MESSAGE_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  BATCH_TOO_LARGE: 'BATCH_TOO_LARGE',
  BAD_LENGTH: 'BAD_LENGTH',
  BAD_SEQUENCE: 'BAD_SEQUENCE',
  BAD_FRAME: 'BAD_FRAME',
  TRUNCATED_RECORD: 'TRUNCATED_RECORD',
  TRUNCATED_STREAM: 'TRUNCATED_STREAM',
  BAD_CONTROL: 'BAD_CONTROL',
} as const
export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODE)[keyof typeof PROTOCOL_ERROR_CODE]

export interface ProtocolErrorOptions {
  /** message type code being read, when known */
  typeCode?: number | undefined
  /** byte offset in the stream (or in the buffer given) where the problem starts */
  offset?: number | undefined
  cause?: unknown
}

export class ProtocolError extends CodecError {
  override readonly name = 'ProtocolError'
  readonly code: ProtocolErrorCode
  readonly typeCode: number | undefined
  readonly offset: number | undefined

  constructor(code: ProtocolErrorCode, message: string, options: ProtocolErrorOptions = {}) {
    const where = [
      options.typeCode === undefined ? '' : `type 0x${hex2(options.typeCode)}`,
      options.offset === undefined ? '' : `offset ${options.offset}`,
    ]
      .filter(Boolean)
      .join(', ')
    super(`${code}: ${message}${where ? ` (${where})` : ''}`, { cause: options.cause })
    this.code = code
    this.typeCode = options.typeCode
    this.offset = options.offset
  }
}

function hex2(value: number): string {
  return value.toString(16).padStart(2, '0')
}
