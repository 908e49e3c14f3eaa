// When a reference reader (candump) is really listening: the kernel lists every CAN_RAW
// socket's receive filter in /proc/net/can/rcvlist_all. A fixed sleep after spawning candump
// is not enough on a loaded machine: it then misses the first frames and the truth is short.
import { readFileSync } from 'node:fs'

/** Receive-list entries on `iface` now (one per filter of each socket bound to it). */
export function canReceivers(iface: string): number {
  const text = readFileSync('/proc/net/can/rcvlist_all', 'utf8')
  return text.split('\n').filter((line) => line.trim().split(/\s+/)[0] === iface).length
}

/**
 * Resolves once `count()` has not grown for `quietMs` (at most `timeoutMs`): candump has
 * written out what its socket held. A loaded machine may take seconds; SIGINT before that
 * cuts the reference short.
 */
export async function settled(count: () => number, quietMs = 300, timeoutMs = 15_000) {
  const deadline = performance.now() + timeoutMs
  let seen = count()
  let quietSince = performance.now()
  while (performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25))
    const now = count()
    if (now !== seen) {
      seen = now
      quietSince = performance.now()
    } else if (performance.now() - quietSince >= quietMs) {
      return
    }
  }
}

/** Resolves once `iface` has more receive-list entries than `before`. */
export async function waitForNewReceiver(iface: string, before: number, timeoutMs = 15_000) {
  const deadline = performance.now() + timeoutMs
  while (canReceivers(iface) <= before) {
    if (performance.now() > deadline) {
      throw new Error(
        `no new CAN receiver on ${iface} within ${timeoutMs} ms (candump not started?)`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
