// Exit statuses of the canbridge command and the error that means "bad command line".
import { CliError } from './errors.ts'

export const EXIT = {
  /** done, nothing failed */
  OK: 0,
  /** ran, but something failed (e.g. a frame `play` could not send) */
  FAILED: 1,
  /** bad command line: the message says what to change */
  USAGE: 2,
  /** could not run (cannot listen, no edge came, unreadable or malformed log file) */
  ERROR: 3,
} as const

/** A bad argument or option; the message names it and says what is expected. */
export class UsageError extends CliError {
  override readonly name = 'UsageError'
}

/** An integer option in `min..max`, or a UsageError naming the option. */
export function integerOption(value: string, option: string, min: number, max: number): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(
      `${option} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
    )
  }
  return n
}

/**
 * A number option > 0 (or >= 0 with `allowZero`), at most `max` when given, or a UsageError
 * naming the option and its range.
 */
export function numberOption(
  value: string,
  option: string,
  allowZero = false,
  max?: number,
): number {
  const n = value.trim() === '' ? Number.NaN : Number(value)
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0) || (max !== undefined && n > max)) {
    throw new UsageError(
      `${option} must be a number ${allowZero ? '>= 0' : '> 0'}${max === undefined ? '' : ` and at most ${max}`}, got ${JSON.stringify(value)}`,
    )
  }
  return n
}
