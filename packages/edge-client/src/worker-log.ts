// Workers log through the supervisor's logger: one JSON line per event, one writer.
import type { LogLevel } from './messages.ts'
import { threadEnd } from './thread-end.ts'

export function workerLog(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
  threadEnd()?.port.postMessage({ type: 'log', level, msg, fields })
}
