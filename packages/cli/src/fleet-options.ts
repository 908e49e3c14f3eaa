// The options of the commands that reach a fleet in NATS JetStream (gateway, dump, monitor):
// NATS addresses, the stream's name and where a reader starts.
import { UsageError } from './exit.ts'

/** `nats://host:port` (or `host:port`), comma-separated; a UsageError naming `option`. */
export function natsUrls(text: string, option: string): string[] {
  const urls = text.split(',').map((url) => url.trim())
  for (const url of urls) {
    if (!/^(nats|tls):\/\/[^\s/]+:\d+$|^[^\s/:]+:\d+$/.test(url)) {
      throw new UsageError(
        `${option} ${JSON.stringify(url)}: expected nats://host:port (comma-separated for several)`,
      )
    }
  }
  return urls
}

/** A JetStream stream name as canbridge makes them. */
export function streamName(text: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(text))
    throw new UsageError(`--stream ${JSON.stringify(text)}: letters, digits, _ and - only`)
  return text
}

/** --from: `now`, `all`, a stream sequence or an ISO date (`2026-12-06T10:00:00Z`). */
export function fromOption(text: string): 'now' | 'all' | number | Date {
  if (text === 'now' || text === 'all') return text
  if (/^\d+$/.test(text)) {
    const seq = Number(text)
    if (Number.isSafeInteger(seq) && seq >= 1) return seq
  }
  if (/^\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?$/.test(text)) {
    const date = new Date(text)
    if (!Number.isNaN(date.getTime())) return date
  }
  throw new UsageError(
    `--from must be now, all, a stream sequence (1, 2, ...) or an ISO date like 2026-12-06T10:00:00Z, got ${JSON.stringify(text)}`,
  )
}
