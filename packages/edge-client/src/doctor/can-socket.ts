// Can this process open a raw CAN socket? Through the socketcan addon, as the edge does:
// RawChannel(name) is socket(AF_CAN, SOCK_RAW, CAN_RAW) + SIOCGIFINDEX + bind. Its error
// says only "Error while creating channel", so the kernel's own lists tell why it failed:
// no CAN_RAW in /proc/net/protocols after the attempt (which loads can/can_raw on demand)
// means this kernel has no SocketCAN. With no CAN interface to bind to, the attempt on
// `lo` still creates the socket (then bind fails): enough to tell whether AF_CAN exists.

import type { Host } from './host.ts'
import { registeredProtocols } from './kernel.ts'
import { type CheckResult, fail, ok, warn } from './report.ts'

const CAN_RAW = 1
const NAME = 'can socket'

export interface RawChannelBinding {
  RawChannel: new (
    name: string,
    timestamps: boolean,
    protocol: number,
    nonBlockSend: boolean,
  ) => unknown
}

export const NO_SOCKETCAN_FIX = [
  'the kernel needs SocketCAN (CONFIG_CAN, CONFIG_CAN_RAW): see the kernel line',
  "no CAN at all: --channel 'virtual:demo' runs the edge on a scripted channel without the kernel",
]

/**
 * Opens (and leaves to the garbage collector: the binding has no close without start) a
 * CAN_RAW socket on each of `interfaces` (existing CAN interfaces), or probes AF_CAN when
 * there is none. `binding` undefined: the addon did not load.
 */
export function checkCanSocket(
  host: Host,
  binding: RawChannelBinding | undefined,
  interfaces: readonly string[],
): CheckResult {
  if (binding === undefined) {
    const protocols = registeredProtocols(host)
    if (protocols !== undefined && !protocols.has('CAN_RAW')) {
      return fail(
        NAME,
        'not tried (the addon did not load), and this kernel has no CAN_RAW protocol',
        NO_SOCKETCAN_FIX,
      )
    }
    return warn(NAME, 'not tried: the socketcan addon did not load', ['see the addon line'])
  }
  const opened: string[] = []
  const failed: string[] = []
  for (const name of interfaces) {
    try {
      new binding.RawChannel(name, false, CAN_RAW, true)
      opened.push(name)
    } catch (error) {
      failed.push(`${name}: ${(error as Error).message}`)
    }
  }
  if (interfaces.length === 0) {
    try {
      // binds to lo, which is not CAN: fails either way, after creating the socket
      new binding.RawChannel('lo', false, CAN_RAW, true)
    } catch {
      // expected
    }
  }
  const protocols = registeredProtocols(host)
  const hasCanRaw = protocols?.has('CAN_RAW')
  if (failed.length === 0 && opened.length > 0) {
    return ok(NAME, `opened a CAN_RAW socket on ${opened.join(', ')}`)
  }
  if (hasCanRaw === false) {
    return fail(
      NAME,
      'this kernel has no SocketCAN: socket(AF_CAN, SOCK_RAW, CAN_RAW) cannot be created (no CAN_RAW in /proc/net/protocols)',
      NO_SOCKETCAN_FIX,
    )
  }
  if (interfaces.length === 0) {
    return hasCanRaw
      ? ok(NAME, 'the kernel has AF_CAN and CAN_RAW; no CAN interface to open a socket on yet')
      : warn(NAME, 'no CAN interface to try, and /proc/net/protocols is unreadable', [
          'see the interface lines',
        ])
  }
  return fail(
    NAME,
    `cannot open a CAN_RAW socket on ${failed.join('; ')}${opened.length > 0 ? ` (opened on ${opened.join(', ')})` : ''}`,
    [
      'the kernel has CAN_RAW: something stops this process from using it, e.g. a seccomp filter,',
      'systemd RestrictAddressFamilies= without AF_CAN, or an emulator (qemu-user cannot open CAN sockets)',
    ],
  )
}
