// The CAN interfaces: existence, type and up state from sysfs (as the daemon reads them),
// bitrate and controller state from `ip -details -json link show dev <name>` (iproute2).
import { execError, type Host, listHostDir, readHostFile } from './host.ts'
import { type CheckResult, fail, ok, warn } from './report.ts'

/** ARPHRD_CAN: /sys/class/net/<name>/type of a CAN interface */
export const ARPHRD_CAN = 280
const IFF_UP = 0x1
const CANFD_MTU = 72
/** the bitrate the packaging's 80-can0.network sets; used in examples only */
const EXAMPLE_BITRATE = 500_000

export interface SysfsLink {
  exists: boolean
  type?: number
  up?: boolean
  mtu?: number
}

export function readSysfsLink(host: Host, name: string): SysfsLink {
  const read = (attribute: string): string | undefined =>
    readHostFile(host, `/sys/class/net/${name}/${attribute}`)?.trim()
  const type = read('type')
  if (type === undefined) return { exists: false }
  const flags = read('flags')
  const mtu = read('mtu')
  return {
    exists: true,
    type: Number(type),
    ...(flags === undefined ? {} : { up: (Number.parseInt(flags, 16) & IFF_UP) !== 0 }),
    ...(mtu === undefined ? {} : { mtu: Number(mtu) }),
  }
}

/** Names of the CAN interfaces (ARPHRD_CAN) on this host, sorted. */
export function listCanInterfaces(host: Host): string[] {
  return (listHostDir(host, '/sys/class/net') ?? [])
    .filter((name) => readSysfsLink(host, name).type === ARPHRD_CAN)
    .sort()
}

/** What `ip -d -j link show dev <name>` says about a CAN interface. */
export interface CanLinkDetails {
  /** linkinfo.info_kind: can (a controller), vcan, vxcan; undefined when not reported (slcan) */
  kind: string | undefined
  /** controller state: ERROR-ACTIVE, ERROR-WARNING, ERROR-PASSIVE, BUS-OFF, STOPPED, SLEEPING */
  state: string | undefined
  bitrate: number | undefined
  samplePoint: string | undefined
  /** CAN FD data phase */
  dataBitrate: number | undefined
  restartMs: number | undefined
  berr: { tx: number; rx: number } | undefined
  ctrlmode: string[]
}

const CAN_STATES = 'ERROR-ACTIVE|ERROR-WARNING|ERROR-PASSIVE|BUS-OFF|STOPPED|SLEEPING|UNKNOWN'

type Json = Record<string, unknown>

function object(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Json)
    : undefined
}

function number(value: unknown): number | undefined {
  const n = typeof value === 'string' ? Number(value) : value
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined
}

/**
 * Parses `ip -details -json link show dev <name>`. iproute2 before 6.3 (Debian bookworm,
 * Raspberry Pi OS bookworm: 6.1) prints the controller state as plain text inside the JSON
 * (`"info_data":{state ERROR-ACTIVE "berr_counter":...`): that is taken out first.
 * Throws a SyntaxError when the text is not that JSON, RangeError when `name` is not in it.
 */
export function parseIpLink(text: string, name: string): CanLinkDetails {
  let state: string | undefined
  const cleaned = text.replace(new RegExp(`\\s*\\bstate (${CAN_STATES}) `, 'g'), (_, s: string) => {
    state = s
    return ''
  })
  const parsed = JSON.parse(cleaned) as unknown
  const links = Array.isArray(parsed) ? parsed.map(object) : []
  const link = links.find((l) => l?.['ifname'] === name)
  if (link === undefined) throw new RangeError(`no ${name} in the output of ip`)
  const info = object(link['linkinfo'])
  const data = object(info?.['info_data'])
  const timing = object(data?.['bittiming'])
  const dataTiming = object(data?.['data_bittiming'])
  const berr = object(data?.['berr_counter'])
  const samplePoint = timing?.['sample_point']
  const ctrlmode = data?.['ctrlmode']
  return {
    kind: typeof info?.['info_kind'] === 'string' ? info['info_kind'] : undefined,
    state: typeof data?.['state'] === 'string' ? data['state'] : state,
    bitrate: number(timing?.['bitrate']) ?? number(data?.['bittiming_bitrate']),
    samplePoint:
      typeof samplePoint === 'number'
        ? samplePoint.toFixed(3)
        : typeof samplePoint === 'string'
          ? samplePoint
          : undefined,
    dataBitrate: number(dataTiming?.['bitrate']) ?? number(data?.['data_bittiming_bitrate']),
    restartMs: number(data?.['restart_ms']),
    berr:
      berr === undefined ? undefined : { tx: number(berr['tx']) ?? 0, rx: number(berr['rx']) ?? 0 },
    ctrlmode: Array.isArray(ctrlmode) ? ctrlmode.filter((m) => typeof m === 'string') : [],
  }
}

function isVirtualKind(kind: string | undefined): boolean {
  return kind === 'vcan' || kind === 'vxcan'
}

/** Existence, type and up state of one interface. */
export function checkInterfaceLink(
  host: Host,
  name: string,
  details?: CanLinkDetails,
): CheckResult {
  const link = readSysfsLink(host, name)
  if (!link.exists) {
    const others = listCanInterfaces(host)
    return fail(name, 'no such network interface', [
      ...(others.length > 0 ? [`CAN interfaces on this host: ${others.join(', ')}`] : []),
      'an MCP2515 HAT: dtoverlay=mcp2515-can0,oscillator=<crystal Hz>,interrupt=<GPIO> in /boot/firmware/config.txt, then reboot',
      'a USB adapter (CANable, PCAN-USB): plug it in; `dmesg | tail` names its driver',
      `a virtual bus: sudo ip link add dev ${name} type vcan && sudo ip link set ${name} up`,
      `\`ip -details link show\` lists the interfaces; the channel is --channel or "channels" in the config`,
    ])
  }
  if (link.type !== ARPHRD_CAN) {
    return fail(name, `not a CAN interface (link type ${link.type}, CAN is ${ARPHRD_CAN})`, [
      'give a CAN interface as the channel (ip -details link show: "link/can")',
    ])
  }
  const frames =
    link.mtu === undefined
      ? ''
      : link.mtu >= CANFD_MTU
        ? `, CAN FD (MTU ${link.mtu})`
        : `, classic CAN (MTU ${link.mtu})`
  if (link.up === false) {
    const virtual = isVirtualKind(details?.kind)
    return fail(name, `down${frames}: no frame moves until it is up`, [
      virtual
        ? `sudo ip link set ${name} up`
        : `sudo ip link set ${name} up type can bitrate ${EXAMPLE_BITRATE} restart-ms 100 (the bitrate of your bus)`,
      ...(virtual
        ? []
        : [
            'or at boot: systemd-networkd with 80-can0.network from the tarball (install.sh sets it up)',
          ]),
    ])
  }
  return ok(name, `up${frames}`)
}

/** Bitrate and controller state of one CAN interface (the `<name> bus` line). */
export function checkInterfaceBus(
  name: string,
  details: CanLinkDetails | { error: string },
): CheckResult {
  const label = `${name} bus`
  if ('error' in details) {
    return warn(label, `cannot read the bitrate: ${details.error}`, [
      'install iproute2 (busybox ip has no -details -json), then run doctor again',
      `or look yourself: ip -details link show ${name}`,
    ])
  }
  if (isVirtualKind(details.kind)) {
    return ok(label, `virtual CAN (${details.kind}): no bitrate, no controller`)
  }
  if (details.kind !== 'can') {
    return warn(
      label,
      `the driver reports no CAN bit timing${details.kind ? ` (kind ${details.kind})` : ''}: bitrate unknown`,
      [
        'an slcan adapter takes its bitrate from slcand (e.g. slcand -o -s6 ... for 500 kbit/s)',
        `check that it matches the bus: ip -details link show ${name}`,
      ],
    )
  }
  if (!details.bitrate) {
    return fail(label, 'no bitrate set: the controller cannot join the bus', [
      `sudo ip link set ${name} down && sudo ip link set ${name} up type can bitrate ${EXAMPLE_BITRATE} restart-ms 100`,
      'use the bitrate of your bus (every node on it must agree); at boot: BitRate= in 80-can0.network',
    ])
  }
  const parts = [`${details.bitrate} bit/s`]
  if (details.samplePoint) parts.push(`sample point ${details.samplePoint}`)
  if (details.dataBitrate) parts.push(`data ${details.dataBitrate} bit/s`)
  if (details.state) parts.push(details.state)
  if (details.berr && (details.berr.tx > 0 || details.berr.rx > 0)) {
    parts.push(`error counters tx ${details.berr.tx} rx ${details.berr.rx}`)
  }
  if (details.restartMs !== undefined) parts.push(`restart-ms ${details.restartMs}`)
  const summary = parts.join(', ')
  const busFixes = [
    'check the wiring (CAN_H, CAN_L, ground), 120 ohm termination at both ends of the bus,',
    'that the bitrate matches the other nodes, and that another node is there to acknowledge frames',
  ]
  if (details.state === 'BUS-OFF') {
    return fail(label, `${summary}: the controller left the bus after too many errors`, [
      ...busFixes,
      details.restartMs
        ? 'it restarts by itself after restart-ms'
        : `restart it: sudo ip link set ${name} type can restart (or set restart-ms 100)`,
    ])
  }
  if (details.state === 'ERROR-PASSIVE' || details.state === 'ERROR-WARNING') {
    return warn(label, `${summary}: errors on the bus`, busFixes)
  }
  if (details.state === 'SLEEPING') {
    return warn(label, `${summary}: the controller sleeps`, [
      `wake it: sudo ip link set ${name} down && sudo ip link set ${name} up`,
    ])
  }
  if (!details.restartMs) {
    return warn(label, `${summary}: no automatic restart after bus-off`, [
      `sudo ip link set ${name} down && sudo ip link set ${name} up type can bitrate ${details.bitrate} restart-ms 100`,
      '(80-can0.network from the tarball sets RestartSec=100ms)',
    ])
  }
  return ok(label, summary)
}

/** Runs ip and parses its answer, or says why it could not. */
export function readLinkDetails(host: Host, name: string): CanLinkDetails | { error: string } {
  let text: string
  try {
    text = host.exec('ip', ['-details', '-json', 'link', 'show', 'dev', name])
  } catch (error) {
    return { error: `ip -details -json link show dev ${name}: ${execError(error)}` }
  }
  try {
    return parseIpLink(text, name)
  } catch (error) {
    return { error: `cannot understand the output of ip: ${(error as Error).message}` }
  }
}
