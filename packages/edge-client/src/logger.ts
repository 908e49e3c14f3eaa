// The daemon's logger: pino, JSON lines on stdout (one writer: workers log through the
// supervisor); on a terminal, readable lines (pino-pretty, loaded only then).
import { type Logger, pino } from 'pino'
import type { ConfigLogLevel, LogFormat } from './config.ts'

export type { Logger }

const OPTIONS = { base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }

export function createLogger(
  level: ConfigLogLevel,
  destination: NodeJS.WritableStream | number = 1,
): Logger {
  return pino(
    { ...OPTIONS, level },
    typeof destination === 'number'
      ? pino.destination({ dest: destination, sync: true })
      : destination,
  )
}

/** Whether `format` asks for readable lines on `stdout` (auto: when it is a terminal). */
export function wantsPrettyLog(format: LogFormat, stdout: { isTTY?: boolean }): boolean {
  return format === 'pretty' || (format === 'auto' && stdout.isTTY === true)
}

/**
 * The daemon's logger on stdout in `format`. JSON stays the default for services; the
 * readable form is pino-pretty in this thread, synchronous as the JSON destination is, so a
 * fatal line is written before the process exits.
 */
export async function openLogger(level: ConfigLogLevel, format: LogFormat): Promise<Logger> {
  if (!wantsPrettyLog(format, process.stdout)) return createLogger(level)
  const { default: pretty } = await import('pino-pretty')
  const stream = pretty({
    destination: 1,
    sync: true,
    colorize: process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    singleLine: true,
  })
  return pino({ ...OPTIONS, level }, stream)
}
