// Message times as can-utils prints them: whole microseconds, truncated as the kernel's
// struct timeval is (candump reads SO_TIMESTAMP), from the exact nanoseconds.
import type { CanMessage } from '../message.ts'

const NS_PER_US = 1000n

/**
 * Microseconds since the Unix epoch, exact (a double holds whole µs exactly until the year
 * 2255; the float `timestamp` does not: its last µs digit can be off by one).
 */
export function microsecondsOf(message: CanMessage): number {
  return Number(message.timestampNs / NS_PER_US)
}

/**
 * `sec.usec`, the seconds padded to `secondsWidth` with `padding` (candump: `%010lu`, or
 * `%03lu` relative; log2asc: `%4llu`, spaces).
 */
export function formatMicroseconds(micros: number, secondsWidth: number, padding = '0'): string {
  const sec = Math.floor(micros / 1_000_000)
  const usec = micros - sec * 1_000_000
  return `${String(sec).padStart(secondsWidth, padding)}.${String(usec).padStart(6, '0')}`
}
