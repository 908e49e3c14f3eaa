// The host-file checks (kernel modules, socket buffers, raw CAN socket) against temporary
// file roots and a scripted socketcan binding.
import { afterEach, describe, expect, it } from 'vitest'
import { fakeHost, protocols, removeFakeHosts } from '../../test/helpers/fake-host.ts'
import { checkCanSocket, type RawChannelBinding } from './can-socket.ts'
import { checkKernelModules, moduleFiles } from './kernel.ts'
import { checkSocketBuffers } from './sysctl.ts'

afterEach(removeFakeHosts)

const PROC_MODULES =
  'vcan 3667 0 - Live 0x0\ncan_raw 9622 0 - Live 0x0\ncan 13549 3 can_gw,can_bcm,can_raw, Live 0x0\n'
const DEP = [
  'kernel/net/can/can.ko.xz:',
  'kernel/net/can/can-raw.ko.xz: kernel/net/can/can.ko.xz',
  'kernel/drivers/net/can/vcan.ko.xz: kernel/drivers/net/can/dev/can-dev.ko.xz',
  '',
].join('\n')

describe('kernel modules', () => {
  it('reads module names from modules.dep and modules.builtin', () => {
    // one module per line; what follows the colon are its dependencies
    expect([...moduleFiles(DEP)].sort()).toEqual(['can', 'can-raw', 'vcan'])
    expect([...moduleFiles('kernel/net/can/can.ko\n')]).toEqual(['can'])
  })

  it('OK when can and can_raw are loaded', () => {
    const r = checkKernelModules(
      fakeHost({ '/proc/modules': PROC_MODULES, '/proc/net/protocols': protocols(true) }),
    )
    expect(r).toEqual({ status: 'OK', name: 'kernel', summary: 'can loaded, can_raw loaded' })
  })

  it('OK when built in (/proc/net/can, CAN_RAW registered, or modules.builtin)', () => {
    const r = checkKernelModules(
      fakeHost({
        '/proc/modules': '',
        '/proc/net/can/stats': '',
        '/proc/net/protocols': protocols(true),
      }),
    )
    expect(r).toMatchObject({ status: 'OK', summary: 'can built-in, can_raw built-in' })
    const builtin = checkKernelModules(
      fakeHost({
        '/proc/modules': '',
        '/lib/modules/6.1.0-test/modules.builtin':
          'kernel/net/can/can.ko\nkernel/net/can/can-raw.ko\n',
        '/lib/modules/6.1.0-test/modules.dep': '',
      }),
    )
    expect(builtin).toMatchObject({ status: 'OK', summary: 'can built-in, can_raw built-in' })
  })

  it('OK when not loaded but available: the kernel loads them on first use', () => {
    const r = checkKernelModules(
      fakeHost({ '/proc/modules': '', '/lib/modules/6.1.0-test/modules.dep': DEP }),
    )
    expect(r.status).toBe('OK')
    expect(r.summary).toMatch(
      /^can not loaded yet \(the kernel loads it on first use\), can_raw not loaded yet/,
    )
  })

  it('FAIL when the kernel has no SocketCAN, saying why and what to do', () => {
    const noModules = checkKernelModules(fakeHost({ '/proc/net/protocols': protocols(false) }))
    expect(noModules.status).toBe('FAIL')
    expect(noModules.summary).toBe(
      'no SocketCAN (can absent, can_raw absent): this kernel (6.1.0-test) has no loadable module support (no /proc/modules) and no built-in SocketCAN',
    )
    expect(noModules.fix!.join('\n')).toMatch(/CONFIG_CAN and CONFIG_CAN_RAW/)
    expect(noModules.fix!.join('\n')).toMatch(/modprobe -a can can_raw/)
    const container = checkKernelModules(fakeHost({ '/proc/modules': 'ext4 1 0 - Live 0x0\n' }))
    expect(container.summary).toMatch(/\/lib\/modules\/6\.1\.0-test does not exist/)
    const without = checkKernelModules(
      fakeHost({
        '/proc/modules': '',
        '/lib/modules/6.1.0-test/modules.dep': 'kernel/fs/ext4/ext4.ko:\n',
      }),
    )
    expect(without.summary).toMatch(/built without SocketCAN/)
    const half = checkKernelModules(
      fakeHost({
        '/proc/modules': 'can 1 0 - Live 0x0\n',
        '/lib/modules/6.1.0-test/modules.dep': 'kernel/net/can/can.ko:\n',
      }),
    )
    expect(half).toMatchObject({
      status: 'FAIL',
      summary: expect.stringMatching(
        /^no SocketCAN \(can loaded, can_raw absent\): can_raw not among/,
      ),
    })
  })
})

describe('socket buffers (rmem_default, rmem_max)', () => {
  const rmem = (def: string, max: string) =>
    fakeHost({ '/proc/sys/net/core/rmem_default': def, '/proc/sys/net/core/rmem_max': max })

  it('OK at 4 MiB or more', () => {
    expect(checkSocketBuffers(rmem('4194304\n', '8388608\n'))).toEqual({
      status: 'OK',
      name: 'rmem',
      summary: 'rmem_default 4194304, rmem_max 8388608 (at least 4 MiB)',
    })
  })

  it('WARN below, naming the low ones and the sysctl that fixes it', () => {
    const r = checkSocketBuffers(rmem('212992\n', '4194304\n'))
    expect(r.status).toBe('WARN')
    expect(r.summary).toMatch(/^rmem_default 212992 below 4 MiB/)
    expect(r.fix![0]).toBe('sudo sysctl -w net.core.rmem_default=4194304 net.core.rmem_max=4194304')
    expect(r.fix![1]).toMatch(/99-canbridge\.conf/)
    expect(checkSocketBuffers(rmem('212992', '212992')).summary).toMatch(
      /^rmem_default 212992 and rmem_max 212992 below 4 MiB/,
    )
  })

  it('WARN when they cannot be read', () => {
    expect(checkSocketBuffers(fakeHost({}))).toMatchObject({
      status: 'WARN',
      summary:
        'cannot read net.core socket buffer sizes (rmem_default unreadable, rmem_max unreadable)',
    })
  })
})

/** A binding whose RawChannel opens on `works` and fails elsewhere, recording the names. */
function binding(works: readonly string[], calls: string[] = []): RawChannelBinding {
  return {
    RawChannel: class {
      constructor(name: string) {
        calls.push(name)
        if (!works.includes(name)) throw new Error('Error while creating channel')
      }
    },
  }
}

describe('raw CAN socket', () => {
  it('OK when a CAN_RAW socket opens on each interface', () => {
    const calls: string[] = []
    const r = checkCanSocket(fakeHost({}), binding(['vcan0', 'vcan1'], calls), ['vcan0', 'vcan1'])
    expect(r).toEqual({
      status: 'OK',
      name: 'can socket',
      summary: 'opened a CAN_RAW socket on vcan0, vcan1',
    })
    expect(calls).toEqual(['vcan0', 'vcan1'])
  })

  it('on a host without AF_CAN: FAIL saying the kernel has no SocketCAN', () => {
    const calls: string[] = []
    const host = fakeHost({ '/proc/net/protocols': protocols(false) })
    const r = checkCanSocket(host, binding([], calls), [])
    expect(calls).toEqual(['lo'])
    expect(r).toMatchObject({
      status: 'FAIL',
      summary:
        'this kernel has no SocketCAN: socket(AF_CAN, SOCK_RAW, CAN_RAW) cannot be created (no CAN_RAW in /proc/net/protocols)',
    })
    // without the addon it still says so
    expect(checkCanSocket(host, undefined, [])).toMatchObject({
      status: 'FAIL',
      summary: expect.stringMatching(/this kernel has no CAN_RAW protocol/),
    })
  })

  it('with CAN_RAW but no CAN interface: OK for the socket (the interface lines fail)', () => {
    const r = checkCanSocket(fakeHost({ '/proc/net/protocols': protocols(true) }), binding([]), [])
    expect(r).toMatchObject({
      status: 'OK',
      summary: expect.stringMatching(/no CAN interface to open a socket on yet/),
    })
  })

  it('with CAN_RAW, failing on an interface: FAIL pointing at filters and emulators', () => {
    const r = checkCanSocket(
      fakeHost({ '/proc/net/protocols': protocols(true) }),
      binding(['vcan0']),
      ['vcan0', 'can0'],
    )
    expect(r.status).toBe('FAIL')
    expect(r.summary).toBe(
      'cannot open a CAN_RAW socket on can0: Error while creating channel (opened on vcan0)',
    )
    expect(r.fix!.join(' ')).toMatch(/RestrictAddressFamilies=/)
  })

  it('WARN when the addon did not load and the kernel may have CAN_RAW', () => {
    expect(
      checkCanSocket(fakeHost({ '/proc/net/protocols': protocols(true) }), undefined, ['can0']),
    ).toMatchObject({ status: 'WARN', summary: 'not tried: the socketcan addon did not load' })
  })
})
