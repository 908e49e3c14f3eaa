// Test helpers: a logger that records its calls, a bus on a free loopback port (in the mode
// of the running `describe.each(BUS_MODES)` block), polling.
import { beforeAll } from 'vitest'
import type { Logger, TCPBusOptions } from '../../src/index.ts'
import { TCPBus } from '../../src/index.ts'

/** The two ways TCPBus runs its link: the Bus API and security tests run against both. */
export const BUS_MODES = [
  { mode: 'inline', worker: false },
  { mode: 'worker', worker: true },
] as const
export type BusMode = (typeof BUS_MODES)[number]

/**
 * The mode `listen()` (and `withMode()`) give a bus: set by `useBusMode` in each
 * `describe.each(BUS_MODES)` block (a file's blocks run one after another).
 */
const current = { worker: false }

/** Makes the buses of this describe block run in `mode`. */
export function useBusMode(mode: BusMode): void {
  beforeAll(() => {
    current.worker = mode.worker
  })
}

/** `options` with the mode of the running block, for tests that call TCPBus.listen directly. */
export function withMode<T extends Partial<TCPBusOptions>>(options: T): T & { worker: boolean } {
  return { worker: current.worker, ...options }
}

export interface LogEntry {
  level: 'error' | 'warn' | 'info' | 'debug'
  fields: Record<string, unknown>
  message: string
}

export interface CapturingLogger extends Logger {
  entries: LogEntry[]
  at(level: LogEntry['level']): LogEntry[]
}

export function capturingLogger(): CapturingLogger {
  const entries: LogEntry[] = []
  const log =
    (level: LogEntry['level']) =>
    (fields: Record<string, unknown>, message: string): void => {
      entries.push({ level, fields, message })
    }
  return {
    entries,
    at: (level) => entries.filter((e) => e.level === level),
    error: log('error'),
    warn: log('warn'),
    info: log('info'),
    debug: log('debug'),
  }
}

/** A TCPBus on 127.0.0.1 with a free port and a capturing logger. */
export async function listen(
  options: Partial<TCPBusOptions> = {},
): Promise<{ bus: TCPBus; logger: CapturingLogger }> {
  const logger = capturingLogger()
  const bus = await TCPBus.listen(withMode({ port: 0, host: '127.0.0.1', logger, ...options }))
  return { bus, logger }
}

/** Polls `condition` until it holds; throws after `timeoutMs`. */
export async function waitUntil(
  condition: () => boolean,
  timeoutMs = 3000,
  what = 'condition',
): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
