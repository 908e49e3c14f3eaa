// The logger shape the package accepts (pino's `(obj, msg)` methods) and its quiet default.

export type LogFn = (fields: Record<string, unknown>, message: string) => void

/** Anything with pino's method shape: `logger.warn({ peer }, 'closing connection')`. */
export interface Logger {
  error: LogFn
  warn: LogFn
  info: LogFn
  debug: LogFn
}

function toStderr(level: string): LogFn {
  return (fields, message) => {
    const details = Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : ''
    process.stderr.write(`[canbridge server-bus] ${level}: ${message}${details}\n`)
  }
}

const ignore: LogFn = () => {}

/** Says nothing at all: for tools that report through their own output. */
export const silentLogger: Logger = { error: ignore, warn: ignore, info: ignore, debug: ignore }

/** Default: warnings and errors to stderr, nothing else (a library keeps quiet). */
export const stderrLogger: Logger = {
  error: toStderr('error'),
  warn: toStderr('warn'),
  info: ignore,
  debug: ignore,
}
