// Whether a listen address can be reached from another machine: binding beyond loopback
// without authentication lets anyone on the network read and write the bus.
import { isIP } from 'node:net'

export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true
  const family = isIP(host)
  if (family === 4) return host.startsWith('127.')
  if (family === 6) return host === '::1' || /^::ffff:127\./i.test(host)
  return false
}
