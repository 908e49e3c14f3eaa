// socketcand's discovery beacon: its text byte for byte as socketcand's beacon.c writes it,
// where it goes, and real UDP datagrams received on loopback.
import { createSocket } from 'node:dgram'
import type { NetworkInterfaceInfo } from 'node:os'
import { afterEach, describe, expect, it } from 'vitest'
import {
  Beacon,
  type BeaconOptions,
  beaconTargets,
  beaconText,
} from '../../src/socketcand/beacon.ts'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function ipv4(address: string, netmask: string, internal = false): NetworkInterfaceInfo {
  return { address, netmask, family: 'IPv4', mac: '00:00:00:00:00:00', internal, cidr: null }
}

const HOST_INTERFACES = {
  lo: [ipv4('127.0.0.1', '255.0.0.0', true)],
  eth0: [
    ipv4('192.168.1.20', '255.255.255.0'),
    {
      address: 'fe80::1',
      netmask: 'ffff:ffff:ffff:ffff::',
      family: 'IPv6',
      mac: '00:00:00:00:00:00',
      internal: false,
      cidr: null,
      scopeid: 2,
    } as NetworkInterfaceInfo,
  ],
  wlan0: [ipv4('10.1.2.3', '255.255.240.0')],
  tun0: [ipv4('10.8.0.5', '255.255.255.255')],
}

/** A UDP listener on loopback: the datagrams it receives. */
async function listener(): Promise<{ port: number; received: string[] }> {
  const socket = createSocket({ type: 'udp4' })
  const received: string[] = []
  socket.on('message', (message) => received.push(message.toString('utf8')))
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  cleanups.push(() => socket.close())
  return { port: socket.address().port, received }
}

interface LogEntry {
  level: string
  msg: string
  fields?: Record<string, unknown>
}

/** A started beacon of host edge-1 for a server on port 29536; what it logs is collected. */
function started(options: Partial<BeaconOptions>): { beacon: Beacon; logs: LogEntry[] } {
  const logs: LogEntry[] = []
  const beacon = new Beacon({
    hostName: 'edge-1',
    description: 'canbridge-edge',
    listenAddress: '127.0.0.1',
    port: 29536,
    buses: ['vcan0'],
    log: (level, msg, fields) => logs.push({ level, msg, ...(fields ? { fields } : {}) }),
    ...options,
  })
  beacon.start()
  cleanups.push(() => beacon.stop())
  return { beacon, logs }
}

async function until(check: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

describe('socketcand beacon', () => {
  it('is the text socketcand sends: a line break after the opening tag, the URL, one Bus per bus', () => {
    expect(
      beaconText('pi-garage', 'canbridge-edge', { address: '192.168.1.20', port: 29536 }, [
        'can0',
        'vcan1',
      ]),
    ).toBe(
      '<CANBeacon name="pi-garage" type="SocketCAN" description="canbridge-edge">\n' +
        '<URL>can://192.168.1.20:29536</URL><Bus name="can0"/><Bus name="vcan1"/></CANBeacon>',
    )
    // a host name is XML text: escaped
    expect(beaconText('a"b<c>&d', 'x', { address: '127.0.0.1', port: 1 }, [])).toBe(
      '<CANBeacon name="a&quot;b&lt;c&gt;&amp;d" type="SocketCAN" description="x">\n<URL>can://127.0.0.1:1</URL></CANBeacon>',
    )
  })

  it('goes to the broadcast address of each IPv4 network served (address | ~netmask)', () => {
    expect(beaconTargets('::', HOST_INTERFACES)).toEqual([
      { address: '127.0.0.1', broadcast: '127.255.255.255' },
      { address: '192.168.1.20', broadcast: '192.168.1.255' },
      { address: '10.1.2.3', broadcast: '10.1.15.255' },
    ])
    expect(beaconTargets('0.0.0.0', HOST_INTERFACES)).toHaveLength(3)
    expect(beaconTargets('10.1.2.3', HOST_INTERFACES)).toEqual([
      { address: '10.1.2.3', broadcast: '10.1.15.255' },
    ])
    // IPv6 only, or an address of no interface: nothing to broadcast on
    expect(beaconTargets('fe80::1', HOST_INTERFACES)).toEqual([])
    expect(beaconTargets('10.8.0.5', HOST_INTERFACES)).toEqual([])
  })

  it('sends a datagram every interval that a UDP listener receives', async () => {
    const { port, received } = await listener()
    const { logs } = started({
      beaconPort: port,
      intervalMs: 50,
      // the datagram goes to this network's broadcast address: on loopback, one we listen on
      interfaces: () => ({ lo: [ipv4('127.0.0.1', '255.255.255.254', true)] }),
    })
    await until(() => received.length >= 3, 'three beacons')
    expect(received[0]).toBe(
      '<CANBeacon name="edge-1" type="SocketCAN" description="canbridge-edge">\n<URL>can://127.0.0.1:29536</URL><Bus name="vcan0"/></CANBeacon>',
    )
    expect(new Set(received).size).toBe(1)
    expect(logs).toEqual([])
  })

  it('a send that fails is logged once with its reason, counted, and never fatal', async () => {
    const { beacon, logs } = started({
      // a beacon larger than a UDP datagram can be: every send fails (EMSGSIZE)
      buses: Array.from({ length: 6000 }, (_, i) => `bus${i}`),
      intervalMs: 20,
      interfaces: () => ({ lo: [ipv4('127.0.0.1', '255.0.0.0', true)] }),
    })
    await until(() => beacon.failures >= 4, 'four failed sends')
    expect(beacon.sent).toBe(0)
    expect(logs).toHaveLength(1)
    expect(logs[0]).toMatchObject({
      level: 'warn',
      msg: 'socketcand beacon send failed; retrying every 3 s',
      fields: { broadcast: '127.255.255.255', failures: 1 },
    })
    expect(String(logs[0]!.fields!['reason'])).toMatch(/EMSGSIZE/)
  })

  it('says once when there is no IPv4 network to broadcast on', async () => {
    const { logs } = started({
      listenAddress: '::1',
      intervalMs: 10,
      interfaces: () => HOST_INTERFACES,
    })
    await new Promise((resolve) => setTimeout(resolve, 80))
    expect(logs.map((l) => l.msg)).toEqual(['socketcand beacon: no IPv4 network to broadcast on'])
  })
})
