// The errors a spool raises. Torn or corrupt data never throws (recovery cuts it and
// reports it); these are for a full spool, a directory that is not ours, and I/O failures.

import { EdgeError } from '../errors.ts'

/** System error codes that say the file system takes no more data (a full disk or quota). */
const NO_SPACE_CODES: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT'])
/** ... that it takes no writes at all here (remounted read-only, a directory without write permission). */
const READ_ONLY_CODES: ReadonlySet<string> = new Set(['EROFS', 'EACCES', 'EPERM'])

/** Why an append was refused: the spool's own limit, or a file system with no room left. */
export type SpoolFullKind = 'limit' | 'disk'

export interface SpoolFullErrorOptions {
  /** bytes the refused append needed free (its entry, header included) */
  bytesNeeded: number
  maxBytes: number
  /** bytes on disk when the append was refused */
  bytes: number
  /** 'limit' (maxBytes, the default) or 'disk' (ENOSPC, EDQUOT: the file system is full) */
  kind?: SpoolFullKind
  cause?: unknown
}

/** An append would push the spool past `maxBytes`; nothing was written. */
export class SpoolFullError extends EdgeError {
  override readonly name = 'SpoolFullError'
  /** pass this to `dropOldest` to make room for the refused append */
  readonly bytesNeeded: number
  readonly maxBytes: number
  readonly bytes: number
  readonly kind: SpoolFullKind

  constructor(message: string, options: SpoolFullErrorOptions) {
    super(message, { cause: options.cause })
    this.bytesNeeded = options.bytesNeeded
    this.maxBytes = options.maxBytes
    this.bytes = options.bytes
    this.kind = options.kind ?? 'limit'
  }
}

/** A state recovery must not repair: the directory is not a spool, or a newer format. */
export class SpoolCorruptError extends EdgeError {
  override readonly name = 'SpoolCorruptError'
  readonly path: string

  constructor(message: string, options: { path: string; cause?: unknown }) {
    super(message, { cause: options.cause })
    this.path = options.path
  }
}

/**
 * A file system call failed (permissions, disk full, I/O error). The message names the
 * path and the action; `code` is the system error code (`EACCES`, `ENOSPC`, …) so callers
 * can branch on it without unwrapping `cause`.
 */
export class SpoolIoError extends EdgeError {
  override readonly name = 'SpoolIoError'
  readonly path: string
  readonly code: string | undefined

  constructor(message: string, options: { path: string; cause: unknown }) {
    super(`${message}: ${describe(options.cause)}`, { cause: options.cause })
    this.path = options.path
    this.code = codeOf(options.cause)
  }

  /** the file system is full (ENOSPC, EDQUOT): freeing space helps, retrying later may */
  get noSpace(): boolean {
    return this.code !== undefined && NO_SPACE_CODES.has(this.code)
  }

  /** the file system takes no writes here (EROFS, EACCES, EPERM); reads may still work */
  get readOnly(): boolean {
    return this.code !== undefined && READ_ONLY_CODES.has(this.code)
  }

  /** a full or read-only file system: the spool cannot be written now, and may be later */
  get unwritable(): boolean {
    return this.noSpace || this.readOnly
  }
}

/** The system error code of a Node fs error, if it has one. */
export function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined
  return typeof error.code === 'string' ? error.code : undefined
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
