// When a reference reader (candump) is really listening: the kernel lists every CAN_RAW
// socket's receive filter in /proc/net/can/rcvlist_all. A fixed sleep after spawning candump
// is not enough on a loaded machine: it then misses the first frames and the truth is short.
import { readFileSync } from 'node:fs'

/** Receive-list entries on `iface` now (one per filter of each socket bound to it). */
export function canReceivers(iface: string): number {
  const text = readFileSync('/proc/net/can/rcvlist_all', 'utf8')
  return text.split('\n').filter((line) => line.trim().split(/\s+/)[0] === iface).length
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
