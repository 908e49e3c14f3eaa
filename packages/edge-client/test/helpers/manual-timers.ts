// Timers the test fires by hand: each set() is recorded with its delay; run() it, or see it
// cleared. For the objects that take a Timers (Reconnector, ShutdownFlush, Uplink).
import type { Timers } from '../../src/timers.ts'

export interface ManualTimer {
  run: () => void
  delayMs: number
  cleared: boolean
}

export function manualTimers(): { timers: Timers; set: ManualTimer[] } {
  const set: ManualTimer[] = []
  const timers: Timers = {
    set: (run, delayMs) => {
      const timer = { run, delayMs, cleared: false }
      set.push(timer)
      return timer
    },
    clear: (handle) => {
      ;(handle as ManualTimer).cleared = true
    },
  }
  return { timers, set }
}
