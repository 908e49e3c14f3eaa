// When a reference reader (candump) is really listening: the kernel lists every CAN_RAW
// socket's receive filter in /proc/net/can/rcvlist_all. A fixed sleep after spawning candump
// is not enough on a loaded machine: it then misses the first frames and the truth is short.
import { readFileSync } from 'node:fs'

/**
 * Receive-list entries on `iface` now, one per filter of each socket bound to it, each
 * named by its filter and its socket (`userdata`: the kernel prints a hashed pointer, one
 * per socket). Named, not counted: a socket closing meanwhile must not hide a new one.
 */
export function canReceivers(iface: string): Set<string> {
  const text = readFileSync('/proc/net/can/rcvlist_all', 'utf8')
  const entries = new Set<string>()
  for (const line of text.split('\n')) {
    // device  can_id  can_mask  function  userdata  matches  ident
    const [device, canId, canMask, fn, userdata] = line.trim().split(/\s+/)
    if (device === iface) entries.add(`${canId} ${canMask} ${fn} ${userdata}`)
  }
  return entries
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

/** Resolves once `iface` has a receive-list entry that `before` did not have. */
export async function waitForNewReceiver(
  iface: string,
  before: ReadonlySet<string>,
  timeoutMs = 15_000,
) {
  const deadline = performance.now() + timeoutMs
  const isNew = (entry: string) => !before.has(entry)
  while (![...canReceivers(iface)].some(isNew)) {
    if (performance.now() > deadline) {
      throw new Error(
        `no new CAN receiver on ${iface} within ${timeoutMs} ms (candump not started?)`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
