// The daemon's logger: pino, JSON lines on stdout (one writer: workers log through the
// supervisor).
import { type Logger, pino } from 'pino'
import type { ConfigLogLevel } from './config.ts'

export type { Logger }

export function createLogger(
  level: ConfigLogLevel,
  destination: NodeJS.WritableStream | number = 1,
): Logger {
  return pino(
    { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    typeof destination === 'number'
      ? pino.destination({ dest: destination, sync: true })
      : destination,
  )
}
