// The one error the package raises: a malformed DBC file, or a bad call to encode.

export const DBC_ERROR_CODE = {
  /** the text does not follow the DBC grammar (line, column and what was expected) */
  SYNTAX: 'DBC_SYNTAX',
  /** well-formed text with a value that cannot be right (a signal outside its message, …) */
  INVALID_DEFINITION: 'DBC_INVALID_DEFINITION',
  /** two messages with one id or name, two signals with one name in a message */
  DUPLICATE: 'DBC_DUPLICATE',
  /** encode: no message of that name or id */
  UNKNOWN_MESSAGE: 'DBC_UNKNOWN_MESSAGE',
  /** encode: a value for a signal the message does not have */
  UNKNOWN_SIGNAL: 'DBC_UNKNOWN_SIGNAL',
  /** encode: a signal the frame needs was given no value */
  MISSING_SIGNAL: 'DBC_MISSING_SIGNAL',
  /** encode: a value outside the signal's minimum..maximum or what its bits can hold */
  OUT_OF_RANGE: 'DBC_OUT_OF_RANGE',
  /** encode: not a finite number, an integer where one is needed, or an unknown choice name */
  BAD_VALUE: 'DBC_BAD_VALUE',
} as const
export type DbcErrorCode = (typeof DBC_ERROR_CODE)[keyof typeof DBC_ERROR_CODE]

export interface DbcErrorOptions {
  /** 1-based line in the DBC text, for errors found while parsing */
  line?: number | undefined
  /** 1-based column in the DBC text */
  column?: number | undefined
  /** what the parser expected at that place */
  expected?: string | undefined
  /** what it found there instead */
  found?: string | undefined
  cause?: unknown
}

export class DbcError extends Error {
  override readonly name = 'DbcError'
  readonly code: DbcErrorCode
  readonly line: number | undefined
  readonly column: number | undefined
  readonly expected: string | undefined
  readonly found: string | undefined

  constructor(code: DbcErrorCode, message: string, options: DbcErrorOptions = {}) {
    const where =
      options.line === undefined ? '' : `line ${options.line}, column ${options.column ?? 1}: `
    super(`${where}${message}`, { cause: options.cause })
    this.code = code
    this.line = options.line
    this.column = options.column
    this.expected = options.expected
    this.found = options.found
  }
}
