// The one error of the key tool: something the user can fix (an input, a file, a directory),
// with a code for programs and a message that says what to do.
import { CliError } from '../errors.ts'

export const KEYS_ERROR_CODES = [
  'BAD_EDGE_ID',
  'BAD_DAYS',
  'BAD_SERVER_NAME',
  'BAD_SERVER_IP',
  'FILES_EXIST',
  'CA_MISSING',
  'CA_UNREADABLE',
  'CA_TOO_SHORT',
  'UNKNOWN_EDGE',
  'NOT_A_CERTIFICATE',
  'BAD_TOKEN_TABLE',
  'NO_PKI',
  'BAD_DIR',
  'FILE_UNREADABLE',
] as const

export type KeysErrorCode = (typeof KEYS_ERROR_CODES)[number]

export class KeysError extends CliError {
  /** which of KEYS_ERROR_CODES: what kind of thing the user has to fix */
  readonly code: KeysErrorCode
  override readonly name: string = 'KeysError'

  constructor(code: KeysErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}
