// Frames the interface itself lost (the controller's FIFO overran, the driver dropped them):
// the interface's counters in /sys/class/net/<if>/statistics, sampled now and then. These
// frames never reached any socket, so they have no place in the sequence: reported as
// `interface-loss` without a range. The kernel's socket-queue drops are not in them.
import { readFileSync } from 'node:fs'

/** The counters that count received frames lost before any socket (Linux netdev stats). */
export const INTERFACE_LOSS_COUNTERS = ['rx_dropped', 'rx_over_errors', 'rx_fifo_errors'] as const

export type ReadCounter = (path: string) => string | undefined

function readSysfs(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENODEV') return undefined // the interface is gone
    throw error
  }
}

export class InterfaceLossCounter {
  readonly #paths: string[]
  readonly #read: ReadCounter
  #last: number | undefined

  /** Takes the counters' values now as the start: losses before the edge are not its own. */
  constructor(name: string, read: ReadCounter = readSysfs) {
    this.#paths = INTERFACE_LOSS_COUNTERS.map((c) => `/sys/class/net/${name}/statistics/${c}`)
    this.#read = read
    this.#last = this.#total()
  }

  /** Frames lost since the last sample (0 while the interface is gone). */
  sample(): number {
    const total = this.#total()
    if (total === undefined) return 0
    const last = this.#last
    this.#last = total
    if (last === undefined) return total // the interface came (back): its counters are new
    // lower than before: the interface was deleted and made again, its counters restarted
    return total >= last ? total - last : total
  }

  #total(): number | undefined {
    let total = 0
    for (const path of this.#paths) {
      const text = this.#read(path)
      if (text === undefined) return undefined
      const value = Number(text.trim())
      if (!Number.isSafeInteger(value) || value < 0) return undefined
      total += value
    }
    return total
  }
}
