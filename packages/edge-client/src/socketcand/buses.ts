// Which of the edge's channels socketcand clients may open, and under which bus name: the
// channel's name (`can0`, `virtual:demo`), as long as socketcand can carry it.
import { SOCKETCAND_MAX_BUS_NAME } from '@canbridge/protocol'
import { parseVirtualChannel, VIRTUAL_PREFIX } from '../can/virtual-source.ts'

export interface SocketcandBus {
  /** what `< open BUS >` names and the beacon lists */
  name: string
  /** the channel as configured (a virtual channel keeps its options) */
  spec: string
  /** its index in the edge's channels (the transmit policy's counters and rate buckets) */
  channel: number
}

export interface BusSelection {
  buses: SocketcandBus[]
  /** channels left out, with why (logged at startup) */
  refused: { channel: string; reason: string }[]
}

export function socketcandBuses(channels: readonly string[]): BusSelection {
  const buses: SocketcandBus[] = []
  const refused: BusSelection['refused'] = []
  for (const [channel, spec] of channels.entries()) {
    const name = spec.startsWith(VIRTUAL_PREFIX) ? parseVirtualChannel(spec).name : spec
    // socketcand's `< open BUS >` carries at most 16 characters, and no '/'
    if (name.length > SOCKETCAND_MAX_BUS_NAME || name.includes('/')) {
      refused.push({
        channel: name,
        reason: `socketcand bus names have at most ${SOCKETCAND_MAX_BUS_NAME} characters; rename the channel to serve it over socketcand`,
      })
      continue
    }
    buses.push({ name, spec, channel })
  }
  return { buses, refused }
}
