// What every certificate made here shares: a random positive serial number and a validity
// window that starts an hour back, so a clock a little behind still accepts a new certificate.
import { randomBytes } from 'node:crypto'

const BACKDATE_MS = 60 * 60 * 1000
const DAY_MS = 24 * 60 * 60 * 1000

/** 128 random bits as hex; the first byte is 0x01..0x7f so the DER INTEGER is positive and minimal. */
export function randomSerialNumber(): string {
  const bytes = randomBytes(16)
  bytes[0] = (bytes[0]! % 0x7f) + 1
  return bytes.toString('hex')
}

export interface Validity {
  notBefore: Date
  notAfter: Date
}

/** Whole seconds, as a certificate stores them, so comparisons with a parsed one are exact. */
export function validityFor(days: number, now: Date): Validity {
  const start = Math.floor(now.getTime() / 1000) * 1000
  return {
    notBefore: new Date(start - BACKDATE_MS),
    notAfter: new Date(start + days * DAY_MS),
  }
}

/** `2026-05-01` */
export function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10)
}
