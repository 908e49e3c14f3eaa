// The errors a spool raises. Torn or corrupt data never throws (recovery cuts it and
// reports it); these are for a full spool, a directory that is not ours, and I/O failures.

export interface SpoolFullErrorOptions {
  /** bytes the refused append needed free (its entry, header included) */
  bytesNeeded: number
  maxBytes: number
  /** bytes on disk when the append was refused */
  bytes: number
  cause?: unknown
}

/** An append would push the spool past `maxBytes`; nothing was written. */
export class SpoolFullError extends Error {
  override readonly name = 'SpoolFullError'
  /** pass this to `dropOldest` to make room for the refused append */
  readonly bytesNeeded: number
  readonly maxBytes: number
  readonly bytes: number

  constructor(message: string, options: SpoolFullErrorOptions) {
    super(message, { cause: options.cause })
    this.bytesNeeded = options.bytesNeeded
    this.maxBytes = options.maxBytes
    this.bytes = options.bytes
  }
}

/** A state recovery must not repair: the directory is not a spool, or a newer format. */
export class SpoolCorruptError extends Error {
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
export class SpoolIoError extends Error {
  override readonly name = 'SpoolIoError'
  readonly path: string
  readonly code: string | undefined

  constructor(message: string, options: { path: string; cause: unknown }) {
    super(`${message}: ${describe(options.cause)}`, { cause: options.cause })
    this.path = options.path
    this.code = codeOf(options.cause)
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
