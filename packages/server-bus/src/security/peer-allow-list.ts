// Which peer addresses may open a connection at all: CIDR blocks checked before any byte is
// read, so a refused address costs an accept and a close.
import { BlockList, isIP } from 'node:net'

export class PeerAllowList {
  readonly #list = new BlockList()
  readonly entries: readonly string[]

  /** `['10.0.0.0/8', '192.168.1.20', '::1/128']`; throws RangeError naming a bad entry. */
  constructor(entries: readonly string[]) {
    if (!Array.isArray(entries) || entries.length === 0) {
      throw new RangeError('allowedPeers must be a non-empty list of addresses or CIDR blocks')
    }
    for (const entry of entries) this.#add(entry)
    this.entries = Object.freeze([...entries])
  }

  /** The address as `socket.remoteAddress` gives it (IPv4-mapped IPv6 included). */
  allows(address: string | undefined): boolean {
    if (address === undefined) return false
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
    const plain = mapped?.[1] ?? address
    const family = isIP(plain)
    if (family === 0) return false
    return this.#list.check(plain, family === 4 ? 'ipv4' : 'ipv6')
  }

  #add(entry: string): void {
    if (typeof entry !== 'string')
      throw new RangeError(`allowedPeers: ${String(entry)} is not a string`)
    const [address = '', prefixText, extra] = entry.split('/')
    const family = isIP(address)
    const bits = family === 4 ? 32 : 128
    const prefix = prefixText === undefined ? bits : Number(prefixText)
    if (
      family === 0 ||
      extra !== undefined ||
      !Number.isInteger(prefix) ||
      prefix < 0 ||
      prefix > bits
    ) {
      throw new RangeError(
        `allowedPeers: ${JSON.stringify(entry)} is not an address or CIDR block (e.g. 192.168.1.0/24, 10.0.0.5, fd00::/8)`,
      )
    }
    this.#list.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6')
  }
}
