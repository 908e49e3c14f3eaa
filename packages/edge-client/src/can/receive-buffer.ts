// How big the CAN socket's receive buffer should be: by default enough for the edge to
// stall one second at the interface's highest frame rate without the kernel dropping a
// frame. The kernel caps SO_RCVBUF at net.core.rmem_max unless the process may use
// SO_RCVBUFFORCE (CAP_NET_ADMIN); a buffer smaller than wanted is said with the sysctl.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { parseIpLink } from '../doctor/interfaces.ts'

/** the shortest CAN frame on the wire: standard id, no data, with the 3-bit interframe space */
export const SHORTEST_FRAME_BITS = 47
/**
 * what one queued frame costs against the buffer (the kernel counts the skb's truesize:
 * about 700–900 bytes for a CAN frame on 64-bit kernels): a round upper figure
 */
export const QUEUED_FRAME_BYTES = 1024
/** taken when the interface reports none (vcan, vxcan, slcan) or `ip` cannot tell */
export const ASSUMED_BITRATE = 1_000_000
const STALL_SECONDS = 1
const IP_FAILURES = new Set(['ENOENT', 'EACCES', 'ETIMEDOUT'])

export interface ReceiveBufferPlan {
  bytes: number
  /** why this size, for the log */
  basis: string
}

/** One second at the highest frame rate of `bitrate` bit/s. */
export function bufferForBitrate(bitrate: number): number {
  return Math.ceil((bitrate / SHORTEST_FRAME_BITS) * STALL_SECONDS) * QUEUED_FRAME_BYTES
}

/** The bitrate `ip -details -json link` reports for `name`, or undefined. */
export function readBitrate(name: string): number | undefined {
  let text: string
  try {
    text = execFileSync('ip', ['-details', '-json', 'link', 'show', 'dev', name], {
      encoding: 'utf8',
      timeout: 2000,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
  } catch (error) {
    // no ip, no permission, too slow, or it exited non-zero: the assumed rate stands
    const e = error as NodeJS.ErrnoException & { status?: number | null }
    if (IP_FAILURES.has(e.code ?? '') || typeof e.status === 'number') return undefined
    throw error
  }
  try {
    return parseIpLink(text, name).bitrate
  } catch (error) {
    if (error instanceof SyntaxError || error instanceof RangeError) return undefined
    throw error
  }
}

/** `auto`: one second at the interface's bitrate (or the assumed one). */
export function autoReceiveBuffer(name: string, bitrate = readBitrate(name)): ReceiveBufferPlan {
  const rate = bitrate !== undefined && bitrate > 0 ? bitrate : ASSUMED_BITRATE
  const frames = Math.ceil(rate / SHORTEST_FRAME_BITS)
  return {
    bytes: bufferForBitrate(rate),
    basis:
      bitrate !== undefined && bitrate > 0
        ? `one second at ${rate} bit/s (${frames} frames)`
        : `one second at ${rate} bit/s (${frames} frames; ${name} reports no bitrate)`,
  }
}

/** net.core.rmem_max, or undefined when unreadable. */
export function readRmemMax(): number | undefined {
  try {
    const value = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8').trim())
    return Number.isSafeInteger(value) ? value : undefined
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

/**
 * The warning for a buffer the kernel made smaller than planned (`actual` as getsockopt
 * reports it: the kernel doubles what is asked and counts its overhead in it), or undefined.
 */
export function receiveBufferShortfall(
  name: string,
  plan: ReceiveBufferPlan,
  actual: number,
  rmemMax = readRmemMax(),
): string | undefined {
  if (actual >= plan.bytes) return undefined
  const half = Math.ceil(plan.bytes / 2)
  return (
    `the socket receive buffer of ${name} is ${actual} bytes, not the ${plan.bytes} wanted (${plan.basis}): ` +
    `the kernel caps it at net.core.rmem_max (${rmemMax ?? 'unreadable'}, doubled); raise it with ` +
    `sysctl -w net.core.rmem_max=${half} (at boot: /etc/sysctl.d/99-canbridge.conf), or give the edge CAP_NET_ADMIN (SO_RCVBUFFORCE). ` +
    'Frames the kernel drops meanwhile are counted and reported (kernel-overflow)'
  )
}
