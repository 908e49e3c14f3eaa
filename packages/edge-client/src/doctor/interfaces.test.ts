import { afterEach, describe, expect, it } from 'vitest'
import { fakeHost, removeFakeHosts, sysfsLink } from '../../test/helpers/fake-host.ts'
import {
  type CanLinkDetails,
  checkInterfaceBus,
  checkInterfaceLink,
  listCanInterfaces,
  parseIpLink,
  readLinkDetails,
} from './interfaces.ts'

afterEach(removeFakeHosts)

// `ip -details -json link show dev vcan0` in the kernel harness (iproute2 6.1, vcan at mtu 72)
const VCAN =
  '[{"ifindex":2,"ifname":"vcan0","flags":["NOARP","UP","LOWER_UP"],"mtu":72,"qdisc":"noqueue","operstate":"UNKNOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"can","promiscuity":0,"allmulti":0,"min_mtu":0,"max_mtu":0,"linkinfo":{"info_kind":"vcan"},"num_tx_queues":1,"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":65536,"tso_max_segs":65535,"gro_max_size":65536}]\n'

// an MCP2515 on a Pi, as iproute2 >= 6.3 prints it (state a JSON string, sample point a string)
const CAN_NEW =
  '[{"ifindex":3,"ifname":"can0","flags":["NOARP","UP","LOWER_UP","ECHO"],"mtu":16,"qdisc":"pfifo_fast","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":10,"link_type":"can","promiscuity":0,"allmulti":0,"min_mtu":0,"max_mtu":0,"linkinfo":{"info_kind":"can","info_data":{"ctrlmode":["ONE-SHOT"],"state":"ERROR-ACTIVE","berr_counter":{"tx":0,"rx":0},"restart_ms":100,"bittiming":{"bitrate":500000,"sample_point":"0.875","tq":125,"prop_seg":6,"phase_seg1":7,"phase_seg2":2,"sjw":1,"brp":1},"bittiming_const":{"name":"mcp251x","tseg1":{"min":3,"max":16},"tseg2":{"min":2,"max":8},"sjw":{"min":1,"max":4},"brp":{"min":1,"max":64},"brp_inc":1},"clock":8000000}},"num_tx_queues":1,"num_rx_queues":1,"gso_max_size":65536,"gso_max_segs":65535}]\n'

// the same from iproute2 6.1 (Debian and Raspberry Pi OS bookworm): the state is printed as
// plain text inside the JSON object, the sample point as a number
const CAN_OLD =
  '[{"ifindex":3,"ifname":"can0","flags":["NOARP","UP","LOWER_UP","ECHO"],"mtu":72,"qdisc":"pfifo_fast","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":10,"link_type":"can","promiscuity":0,"min_mtu":0,"max_mtu":0,"linkinfo":{"info_kind":"can","info_data":{state ERROR-PASSIVE "berr_counter":{"tx":128,"rx":3},"restart_ms":0,"bittiming":{"bitrate":250000,"sample_point":0.875,"tq":250,"prop_seg":6,"phase_seg1":7,"phase_seg2":2,"sjw":1},"bittiming_const":{"name":"gs_usb","tseg1":{"min":1,"max":16},"tseg2":{"min":1,"max":8},"sjw":{"min":1,"max":4},"brp":{"min":1,"max":1024},"brp_inc":1},"data_bittiming":{"bitrate":2000000,"sample_point":0.75,"tq":25,"prop_seg":7,"phase_seg1":7,"phase_seg2":5,"sjw":1},"clock":80000000}},"num_tx_queues":1,"num_rx_queues":1,"gso_max_size":65536,"gso_max_segs":65535}]\n'

// a controller with fixed bitrates, brought up without one
const CAN_NO_BITRATE =
  '[{"ifindex":4,"ifname":"can1","flags":["NOARP","ECHO"],"mtu":16,"link_type":"can","linkinfo":{"info_kind":"can","info_data":{"state":"STOPPED","restart_ms":0,"bittiming_bitrate":0,"bitrate_const":[125000,250000,500000,1000000],"clock":40000000}}}]\n'

const details = (over: Partial<CanLinkDetails>): CanLinkDetails => ({
  kind: 'can',
  state: 'ERROR-ACTIVE',
  bitrate: 500000,
  samplePoint: '0.875',
  dataBitrate: undefined,
  restartMs: 100,
  berr: { tx: 0, rx: 0 },
  ctrlmode: [],
  ...over,
})

describe('ip -details -json link parsing', () => {
  it('reads a vcan interface: kind vcan, no bit timing', () => {
    expect(parseIpLink(VCAN, 'vcan0')).toMatchObject({
      kind: 'vcan',
      bitrate: undefined,
      state: undefined,
    })
  })

  it('reads bitrate, sample point, state, error counters and restart-ms of a CAN controller', () => {
    expect(parseIpLink(CAN_NEW, 'can0')).toEqual({
      kind: 'can',
      state: 'ERROR-ACTIVE',
      bitrate: 500000,
      samplePoint: '0.875',
      dataBitrate: undefined,
      restartMs: 100,
      berr: { tx: 0, rx: 0 },
      ctrlmode: ['ONE-SHOT'],
    })
  })

  it("reads iproute2 6.1's output, whose state is not JSON", () => {
    expect(() => JSON.parse(CAN_OLD)).toThrow(SyntaxError)
    expect(parseIpLink(CAN_OLD, 'can0')).toMatchObject({
      kind: 'can',
      state: 'ERROR-PASSIVE',
      bitrate: 250000,
      samplePoint: '0.875',
      dataBitrate: 2000000,
      restartMs: 0,
      berr: { tx: 128, rx: 3 },
    })
  })

  it('reads the bitrate of a fixed-bitrate controller (bittiming_bitrate)', () => {
    expect(parseIpLink(CAN_NO_BITRATE, 'can1')).toMatchObject({ bitrate: 0, state: 'STOPPED' })
  })

  it('refuses text that is not that JSON, or without the interface', () => {
    expect(() => parseIpLink('Device "can0" does not exist.', 'can0')).toThrow(SyntaxError)
    expect(() => parseIpLink(VCAN, 'can0')).toThrow(/no can0/)
  })

  it('runs ip -details -json link show dev <name>, and says why when it cannot', () => {
    const calls: string[][] = []
    const host = fakeHost({}, (command, args) => {
      calls.push([command, ...args])
      return CAN_NEW
    })
    expect(readLinkDetails(host, 'can0')).toMatchObject({ bitrate: 500000 })
    expect(calls).toEqual([['ip', '-details', '-json', 'link', 'show', 'dev', 'can0']])
    expect(readLinkDetails(fakeHost({}), 'can0')).toEqual({
      error: 'ip -details -json link show dev can0: command not found',
    })
    const busybox = fakeHost({}, () => {
      throw Object.assign(new Error('Command failed'), {
        status: 1,
        stderr: 'ip: invalid option -- j\n',
      })
    })
    expect(readLinkDetails(busybox, 'can0')).toEqual({
      error: 'ip -details -json link show dev can0: ip: invalid option -- j',
    })
    expect(
      readLinkDetails(
        fakeHost({}, () => 'garbage'),
        'can0',
      ),
    ).toMatchObject({
      error: expect.stringMatching(/^cannot understand the output of ip/),
    })
  })
})

describe('interface checks', () => {
  it('lists the CAN interfaces (link type 280) from sysfs', () => {
    const host = fakeHost({
      ...sysfsLink('vcan1'),
      ...sysfsLink('can0'),
      ...sysfsLink('eth0', { type: 1 }),
    })
    expect(listCanInterfaces(host)).toEqual(['can0', 'vcan1'])
  })

  it('FAIL for a missing interface, naming the CAN interfaces there are and how to make one', () => {
    const r = checkInterfaceLink(fakeHost(sysfsLink('can1')), 'can0')
    expect(r).toMatchObject({ status: 'FAIL', name: 'can0', summary: 'no such network interface' })
    expect(r.fix!.join('\n')).toMatch(/CAN interfaces on this host: can1/)
    expect(r.fix!.join('\n')).toMatch(/dtoverlay=mcp2515-can0/)
    expect(r.fix!.join('\n')).toMatch(/ip link add dev can0 type vcan/)
  })

  it('FAIL for an interface that is not CAN, or down (with the command that brings it up)', () => {
    const host = fakeHost({
      ...sysfsLink('eth0', { type: 1 }),
      ...sysfsLink('can0', { up: false }),
      ...sysfsLink('vcan0', { up: false }),
    })
    expect(checkInterfaceLink(host, 'eth0')).toMatchObject({
      status: 'FAIL',
      summary: expect.stringMatching(/not a CAN interface \(link type 1/),
    })
    const down = checkInterfaceLink(host, 'can0', details({}))
    expect(down).toMatchObject({ status: 'FAIL', summary: expect.stringMatching(/^down/) })
    expect(down.fix![0]).toMatch(/ip link set can0 up type can bitrate \d+/)
    const vcan = checkInterfaceLink(host, 'vcan0', details({ kind: 'vcan' }))
    expect(vcan.fix).toEqual(['sudo ip link set vcan0 up'])
  })

  it('OK for an interface that is up, with classic or FD from its MTU', () => {
    const host = fakeHost({ ...sysfsLink('can0'), ...sysfsLink('vcan0', { mtu: 72 }) })
    expect(checkInterfaceLink(host, 'can0')).toEqual({
      status: 'OK',
      name: 'can0',
      summary: 'up, classic CAN (MTU 16)',
    })
    expect(checkInterfaceLink(host, 'vcan0').summary).toBe('up, CAN FD (MTU 72)')
  })

  it('bus: OK with bitrate and state; vcan has none', () => {
    expect(checkInterfaceBus('can0', parseIpLink(CAN_NEW, 'can0'))).toEqual({
      status: 'OK',
      name: 'can0 bus',
      summary: '500000 bit/s, sample point 0.875, ERROR-ACTIVE, restart-ms 100',
    })
    expect(checkInterfaceBus('vcan0', parseIpLink(VCAN, 'vcan0'))).toMatchObject({
      status: 'OK',
      summary: 'virtual CAN (vcan): no bitrate, no controller',
    })
  })

  it('bus: FAIL without a bitrate or when bus-off; WARN for bus errors, no restart-ms, unknown bitrate', () => {
    const none = checkInterfaceBus('can1', parseIpLink(CAN_NO_BITRATE, 'can1'))
    expect(none).toMatchObject({ status: 'FAIL', summary: expect.stringMatching(/no bitrate set/) })
    expect(none.fix![0]).toMatch(/type can bitrate \d+ restart-ms 100/)
    const busOff = checkInterfaceBus(
      'can0',
      details({ state: 'BUS-OFF', berr: { tx: 255, rx: 0 } }),
    )
    expect(busOff).toMatchObject({ status: 'FAIL' })
    expect(busOff.summary).toMatch(/BUS-OFF, error counters tx 255 rx 0/)
    expect(busOff.fix!.join(' ')).toMatch(/termination/)
    const passive = checkInterfaceBus('can0', parseIpLink(CAN_OLD, 'can0'))
    expect(passive).toMatchObject({ status: 'WARN' })
    expect(passive.summary).toBe(
      '250000 bit/s, sample point 0.875, data 2000000 bit/s, ERROR-PASSIVE, error counters tx 128 rx 3, restart-ms 0: errors on the bus',
    )
    const noRestart = checkInterfaceBus('can0', details({ restartMs: 0 }))
    expect(noRestart).toMatchObject({
      status: 'WARN',
      summary: expect.stringMatching(/no automatic restart after bus-off/),
    })
    expect(checkInterfaceBus('can0', details({ kind: undefined }))).toMatchObject({
      status: 'WARN',
      summary: expect.stringMatching(/bitrate unknown/),
    })
    expect(checkInterfaceBus('can0', { error: 'ip: command not found' })).toMatchObject({
      status: 'WARN',
      summary: 'cannot read the bitrate: ip: command not found',
    })
  })
})
