// Control mode's `< stat RBYTES RPACKETS TBYTES TPACKETS >`: the interface's own counters,
// as socketcand reads them from /proc/net/dev (here from sysfs, the same numbers).
import { readFileSync } from 'node:fs'
import type { SocketcandStat } from '@canbridge/protocol'

const COUNTERS = ['rx_bytes', 'rx_packets', 'tx_bytes', 'tx_packets'] as const
const TWO_POW_32 = 4_294_967_296

/**
 * The interface's counters (u32 on the wire: the kernel's u64 wraps, as socketcand's `%u`
 * does), or undefined when the interface has none (gone, or not a network interface).
 */
export function interfaceStatistics(
  name: string,
  root = '/sys/class/net',
): SocketcandStat | undefined {
  const values: number[] = []
  for (const counter of COUNTERS) {
    let text: string
    try {
      text = readFileSync(`${root}/${name}/statistics/${counter}`, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw error
    }
    values.push(Number(BigInt(text.trim()) % BigInt(TWO_POW_32)))
  }
  const [rxBytes, rxPackets, txBytes, txPackets] = values as [number, number, number, number]
  return { rxBytes, rxPackets, txBytes, txPackets }
}

/** Counters kept by a session for a bus that has no interface (a virtual channel). */
export class SessionCounters implements SocketcandStat {
  rxBytes = 0
  rxPackets = 0
  txBytes = 0
  txPackets = 0

  received(len: number): void {
    this.rxPackets = (this.rxPackets + 1) % TWO_POW_32
    this.rxBytes = (this.rxBytes + len) % TWO_POW_32
  }

  sent(len: number): void {
    this.txPackets = (this.txPackets + 1) % TWO_POW_32
    this.txBytes = (this.txBytes + len) % TWO_POW_32
  }
}
