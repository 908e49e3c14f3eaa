// How an object waits: setTimeout in the daemon, the test's own clock in unit tests.
export interface Timers {
  set(run: () => void, delayMs: number): unknown
  clear(handle: unknown): void
}

export const REAL_TIMERS: Timers = {
  set: (run, delayMs) => setTimeout(run, delayMs),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
}
