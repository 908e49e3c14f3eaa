// Validation of what the user types: edge ids (they become file names), validity in days,
// server DNS names and IP addresses. Each bad value fails here with a message that says
// what is allowed.
import { isIP } from 'node:net'
import { KeysError } from './errors.ts'

/** `canbridge keys` refuses longer validity: a typo (36500 for 365) should not pass. */
export const MAX_DAYS = 36_500

export const EDGE_ID_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/

export function checkEdgeId(edgeId: string): string {
  if (!EDGE_ID_PATTERN.test(edgeId)) {
    throw new KeysError(
      'BAD_EDGE_ID',
      `edge id ${JSON.stringify(edgeId)} is not allowed: use 1..64 of A-Z a-z 0-9 . _ - , not starting with "." (it becomes a file name), e.g. pi-garage`,
    )
  }
  return edgeId
}

/** Whole days, 1..MAX_DAYS; accepts the number or the text given on the command line. */
export function parseDays(value: number | string, what = 'days'): number {
  const days = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) {
    throw new KeysError(
      'BAD_DAYS',
      `${what} ${JSON.stringify(String(value))} is not a validity: give whole days from 1 to ${MAX_DAYS}, e.g. 825`,
    )
  }
  return days
}

const DNS_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/

/** A DNS name for the server certificate (a leading `*.` wildcard label allowed). */
export function checkServerName(name: string): string {
  if (isIP(name) !== 0) {
    throw new KeysError(
      'BAD_SERVER_NAME',
      `server name ${JSON.stringify(name)} is an IP address: give it with --server-ip (serverIps) instead`,
    )
  }
  const labels = name.replace(/^\*\./, '').split('.')
  if (name.length > 253 || !labels.every((label) => DNS_LABEL.test(label))) {
    throw new KeysError(
      'BAD_SERVER_NAME',
      `server name ${JSON.stringify(name)} is not a DNS name: use labels of A-Z a-z 0-9 - separated by dots (optionally starting with "*."), e.g. workstation.local`,
    )
  }
  return name
}

/** An IPv4 or IPv6 address, returned as given (IPv6 without brackets or zone). */
export function checkServerIp(ip: string): string {
  // isIP accepts a zone ("fe80::1%eth0"), which a certificate cannot hold.
  if (isIP(ip) === 0 || ip.includes('%')) {
    throw new KeysError(
      'BAD_SERVER_IP',
      `server IP ${JSON.stringify(ip)} is not an IP address: give an IPv4 (192.168.1.10) or IPv6 (fd00::10, no brackets or zone) address; host names go to --server-name`,
    )
  }
  return ip
}
