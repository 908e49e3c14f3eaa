// stdout and stderr for the canbridge subcommands: writes that wait when a pipe is full,
// status lines on stderr, and Ctrl-C handling that lets a command finish cleanly.
import type { Writable } from 'node:stream'
import { drained } from '@canbridge/server-bus/internal'

export interface Output {
  stdout: Writable
  stderr: Writable
}

/** A status line on stderr: `canbridge dump: listening on ...`. */
export function say(out: Output, prefix: string, line: string): void {
  out.stderr.write(`${prefix}: ${line}\n`)
}

/** Writes `text`; resolves once the stream has room again (or failed, e.g. a closed pipe). */
export function writeOut(stream: Writable, text: string): Promise<void> {
  if (stream.destroyed || stream.write(text)) return Promise.resolve()
  return drained(stream)
}

/**
 * Calls `stop` on the first SIGINT or SIGTERM, so the command can flush and summarize; a
 * second one exits at once (status 130). Returns a function that removes the handlers.
 */
export function onStopSignal(stop: () => void): () => void {
  let stopping = false
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(signal === 'SIGINT' ? 130 : 143)
    stopping = true
    stop()
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return () => {
    process.off('SIGINT', handler)
    process.off('SIGTERM', handler)
  }
}
