// How a server address is written in logs and messages. Its own module: the main thread
// names servers without loading the link itself (TLS, the protocol's codec).
import type { ServerAddress } from '../config.ts'

export function describeAddress(address: ServerAddress): string {
  return address.kind === 'unix'
    ? `unix:${address.path}`
    : `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`
}
