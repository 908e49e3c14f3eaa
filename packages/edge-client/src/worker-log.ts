// Workers log through the supervisor's logger: one JSON line per event, one writer.
import { parentPort } from 'node:worker_threads'
import type { LogLevel } from './messages.ts'

export function workerLog(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
  parentPort?.postMessage({ type: 'log', level, msg, fields })
}
