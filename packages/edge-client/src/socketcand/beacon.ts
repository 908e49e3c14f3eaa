// socketcand's discovery beacon: every 3 s a UDP broadcast to port 42000 of each IPv4
// network the server listens on, `<CANBeacon name="HOST" type="SocketCAN" description=...>`
// with the server's URL and its buses, byte for byte as socketcand writes it. A send that
// fails is logged (at most once a minute, with a count), never fatal.
import { createSocket, type Socket } from 'node:dgram'
import { type NetworkInterfaceInfo, networkInterfaces } from 'node:os'
import { SOCKETCAND_BEACON_PORT } from '@canbridge/protocol'

export const BEACON_INTERVAL_MS = 3000
/** one failure is logged with its reason; later ones within this window are counted */
const FAILURE_LOG_WINDOW_MS = 60_000

export interface BeaconTarget {
  /** the server's address on that network (the beacon's URL) */
  address: string
  /** the network's broadcast address */
  broadcast: string
}

/** XML text of an attribute value. */
function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!,
  )
}

/** The beacon socketcand sends (its beacon.c: a line break after the opening tag, no other). */
export function beaconText(
  hostName: string,
  description: string,
  url: { address: string; port: number },
  buses: readonly string[],
): string {
  const busTags = buses.map((bus) => `<Bus name="${escapeXml(bus)}"/>`).join('')
  return (
    `<CANBeacon name="${escapeXml(hostName)}" type="SocketCAN" description="${escapeXml(description)}">\n` +
    `<URL>can://${url.address}:${url.port}</URL>${busTags}</CANBeacon>`
  )
}

function ipv4Number(address: string): number {
  return address.split('.').reduce((n, part) => n * 256 + Number(part), 0)
}

function ipv4Text(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.')
}

/**
 * Where to send beacons: for a server on every address, each IPv4 network of this host
 * (loopback too: clients on the edge itself find it); for one IPv4 address, its network;
 * none for an IPv6 address (the beacon is IPv4 broadcast).
 */
export function beaconTargets(
  listenAddress: string,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): BeaconTarget[] {
  const everyAddress = listenAddress === '::' || listenAddress === '0.0.0.0'
  const targets: BeaconTarget[] = []
  for (const infos of Object.values(interfaces)) {
    for (const info of infos ?? []) {
      if (info.family !== 'IPv4') continue
      if (!everyAddress && info.address !== listenAddress) continue
      const mask = ipv4Number(info.netmask)
      // a /32 has no broadcast address
      if (mask === 0xffffffff) continue
      const broadcast = (ipv4Number(info.address) | (~mask >>> 0)) >>> 0
      targets.push({ address: info.address, broadcast: ipv4Text(broadcast) })
    }
  }
  return targets
}

export interface BeaconOptions {
  hostName: string
  description: string
  /** the address and port the socketcand server listens on (as server.address() says) */
  listenAddress: string
  port: number
  buses: readonly string[]
  log: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void
  /** tests: another UDP port, a faster interval, scripted interfaces */
  beaconPort?: number
  intervalMs?: number
  interfaces?: () => NodeJS.Dict<NetworkInterfaceInfo[]>
}

export class Beacon {
  readonly #options: BeaconOptions
  #socket: Socket | undefined
  #timer: NodeJS.Timeout | undefined
  #lastFailureLogAt = Number.NEGATIVE_INFINITY
  #failuresSinceLog = 0
  #noTargetLogged = false
  /** beacons handed to the kernel */
  sent = 0
  failures = 0

  constructor(options: BeaconOptions) {
    this.#options = options
  }

  start(): void {
    const socket = createSocket({ type: 'udp4' })
    // an asynchronous socket error (bind failure, ...) is a failed beacon, not a crash
    socket.on('error', (error) => this.#failed(error))
    socket.bind(0, () => {
      try {
        socket.setBroadcast(true)
      } catch (error) {
        this.#failed(error as Error)
      }
      this.#send()
    })
    socket.unref()
    this.#socket = socket
    this.#timer = setInterval(() => this.#send(), this.#options.intervalMs ?? BEACON_INTERVAL_MS)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#socket?.close()
    this.#socket = undefined
  }

  #send(): void {
    const socket = this.#socket
    if (!socket) return
    const o = this.#options
    const targets = beaconTargets(o.listenAddress, o.interfaces?.() ?? networkInterfaces())
    if (targets.length === 0) {
      if (!this.#noTargetLogged)
        o.log('warn', 'socketcand beacon: no IPv4 network to broadcast on', {
          listenAddress: o.listenAddress,
        })
      this.#noTargetLogged = true
      return
    }
    this.#noTargetLogged = false
    for (const target of targets) {
      const text = beaconText(
        o.hostName,
        o.description,
        { address: target.address, port: o.port },
        o.buses,
      )
      try {
        socket.send(text, o.beaconPort ?? SOCKETCAND_BEACON_PORT, target.broadcast, (error) => {
          if (error) this.#failed(error, target.broadcast)
          else this.sent++
        })
      } catch (error) {
        // a socket that could not be set up throws here (ERR_SOCKET_DGRAM_NOT_RUNNING)
        if (!(error instanceof Error)) throw error
        this.#failed(error, target.broadcast)
      }
    }
  }

  #failed(error: Error, broadcast?: string): void {
    this.failures++
    this.#failuresSinceLog++
    const now = performance.now()
    if (now - this.#lastFailureLogAt < FAILURE_LOG_WINDOW_MS) return
    this.#options.log('warn', 'socketcand beacon send failed; retrying every 3 s', {
      reason: error.message,
      broadcast,
      failures: this.#failuresSinceLog,
    })
    this.#lastFailureLogAt = now
    this.#failuresSinceLog = 0
  }
}
