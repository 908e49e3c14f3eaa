import { afterEach, describe, expect, it } from 'vitest'
import { patchedBinding } from '../../test/helpers/fake-binding.ts'
import { fakeHost, removeFakeHosts } from '../../test/helpers/fake-host.ts'
import type { BuildInfo } from '../build-info.ts'
import { checkAddon, checkBindingPatch, findAddonPath, mountFor } from './addon.ts'

afterEach(removeFakeHosts)

const BUILD: BuildInfo = {
  version: '0.1.0',
  target: 'linux-arm64',
  node: '24.21.0',
  socketcan: '4.3.1',
  socketcanPatch: '5e1f0c4f9a2b7d3e8c6a1b0f2e4d6c8a9b7e5d3c1f0a2b4c6d8e0f1a3b5c7d9e',
  addonNapi: 8,
  glibc: '2.28',
  commit: 'abcdef123456',
  date: '2025-01-01T00:00:00.000Z',
}

const SEA_ADDON = '/var/cache/canbridge/can-0123456789abcdef-arm64.node'
const MAPS = [
  '55d0c0000000-55d0c2000000 r--p 00000000 b3:02 1234 /usr/local/bin/canbridge-edge',
  '7f0000000000-7f0000001000 r--p 00000000 00:00 0 ',
  `7f1000000000-7f1000010000 r-xp 00001000 b3:02 99 ${SEA_ADDON}`,
  '7f2000000000-7f2000001000 rw-p 00000000 00:00 0 [heap]',
  '',
].join('\n')
const MOUNTINFO = [
  '22 1 179:2 / / rw,noatime shared:1 - ext4 /dev/root rw',
  '30 22 0:26 / /var/cache rw,nosuid,nodev,noexec,relatime shared:9 - tmpfs tmpfs rw',
  '31 22 0:27 / /var/cache/canbridge rw,relatime shared:10 - ext4 /dev/sda1 rw',
  '32 22 0:28 / /tmp rw,nosuid,nodev,noexec shared:11 - tmpfs tmpfs rw',
  '33 22 0:29 / /mnt/with\\040space ro,relatime - vfat /dev/sdb1 ro',
  '',
].join('\n')

const loads = () => ({ RawChannel: class {} })

describe('socketcan addon', () => {
  it('finds the loaded addon in /proc/self/maps (plain and single-executable names)', () => {
    expect(findAddonPath(MAPS)).toBe(SEA_ADDON)
    expect(
      findAddonPath(
        '7f00-7f10 r-xp 0 08:01 5 /repo/node_modules/socketcan/build/Release/can.node\n',
      ),
    ).toBe('/repo/node_modules/socketcan/build/Release/can.node')
    expect(findAddonPath('7f00-7f10 r-xp 0 08:01 5 /usr/lib/libcan.so\n')).toBeUndefined()
  })

  it('finds the mount of a directory: the longest mount point, unescaped', () => {
    expect(mountFor(MOUNTINFO, '/var/cache/canbridge')).toEqual({
      mountPoint: '/var/cache/canbridge',
      options: ['rw', 'relatime'],
      fsType: 'ext4',
    })
    expect(mountFor(MOUNTINFO, '/var/cache/other')?.options).toContain('noexec')
    expect(mountFor(MOUNTINFO, '/var/cachex')?.mountPoint).toBe('/')
    expect(mountFor(MOUNTINFO, '/mnt/with space/x')?.fsType).toBe('vfat')
  })

  it('single executable: OK in a writable directory that allows executables', () => {
    const host = fakeHost({ '/proc/self/maps': MAPS, '/proc/self/mountinfo': MOUNTINFO })
    const { result, binding } = checkAddon(host, {
      load: loads,
      build: BUILD,
      isWritable: () => true,
    })
    expect(binding).toBeDefined()
    expect(result).toEqual({
      status: 'OK',
      name: 'addon',
      summary:
        'socketcan 4.3.1 + patch sha256 5e1f0c4f9a2b (N-API 8, embedded) unpacked in /var/cache/canbridge (ext4 on /var/cache/canbridge): writable, executables allowed',
    })
  })

  it('single executable: WARN when not writable, FAIL on a noexec mount, with CANBRIDGE_ADDON_DIR as the fix', () => {
    const host = fakeHost({ '/proc/self/maps': MAPS, '/proc/self/mountinfo': MOUNTINFO })
    const readOnly = checkAddon(host, { load: loads, build: BUILD, isWritable: () => false })
    expect(readOnly.result.status).toBe('WARN')
    expect(readOnly.result.summary).toMatch(/not writable, so another version cannot unpack/)
    expect(readOnly.result.fix![0]).toMatch(/CANBRIDGE_ADDON_DIR/)
    const noexecMaps = MAPS.replace(
      SEA_ADDON,
      '/tmp/canbridge-edge-0/can-0123456789abcdef-arm64.node',
    )
    const noexec = checkAddon(
      fakeHost({ '/proc/self/maps': noexecMaps, '/proc/self/mountinfo': MOUNTINFO }),
      { load: loads, build: BUILD, isWritable: () => true },
    )
    expect(noexec.result).toMatchObject({
      status: 'FAIL',
      summary: expect.stringMatching(/\/tmp\/canbridge-edge-0 \(tmpfs on \/tmp\): mounted noexec/),
    })
  })

  it('FAIL when it does not load, with the fix for a single executable or a checkout', () => {
    const failing = () => {
      throw new Error('cannot load the embedded can.node: /tmp/x: noexec')
    }
    const sea = checkAddon(fakeHost({}), { load: failing, build: BUILD })
    expect(sea.binding).toBeUndefined()
    expect(sea.result).toMatchObject({
      status: 'FAIL',
      summary:
        'the socketcan addon does not load: cannot load the embedded can.node: /tmp/x: noexec',
    })
    expect(sea.result.fix!.join('\n')).toMatch(
      /CANBRIDGE_ADDON_DIR[\s\S]*linux-arm64, glibc >= 2\.28/,
    )
    const source = checkAddon(fakeHost({}), { load: failing, build: undefined })
    expect(source.result.fix).toEqual([
      'reinstall it: pnpm install (compiles socketcan; needs a C++ toolchain on Linux)',
    ])
  })

  it('from source: OK with the path it was loaded from (the real addon, in this process)', () => {
    const { result, binding } = checkAddon({ ...fakeHost({}), root: '/' }, { build: undefined })
    expect(typeof binding?.RawChannel).toBe('function')
    expect(result.status).toBe('OK')
    expect(result.summary).toMatch(/^socketcan loaded from \/.*\/can\.node$/)
  })

  it('binding: WARN for an addon whose patch predates reading on the edge schedule, with the fix', () => {
    const version1 = checkBindingPatch(patchedBinding(1))
    expect(version1.status).toBe('WARN')
    expect(version1.summary).toMatch(/older canbridge patch \(no setBatchWait\)/)
    expect(version1.fix).toEqual([expect.stringMatching(/patches\/socketcan@4\.3\.1\.patch/)])
    const version2 = checkBindingPatch(patchedBinding(2))
    expect(version2.status).toBe('WARN')
    expect(version2.summary).toMatch(/no readBatch\/resumeBatch/)
    expect(checkBindingPatch(patchedBinding(3)).status).toBe('OK')
  })

  it('binding: FAIL for an addon with an older patch, naming what it lacks', () => {
    class OlderRawChannel {
      startBatch() {}
      readDrops() {}
    }
    const older = Object.assign(
      { RawChannel: OlderRawChannel },
      { features: { batch: true, drops: true, version: 0 }, BATCH_RECORD_BYTES: 80 },
    )
    const result = checkBindingPatch(older)
    expect(result.status).toBe('FAIL')
    expect(result.summary).toMatch(
      /older or different canbridge patch \(features version 0; missing: /,
    )
    for (const lacking of [
      'features.version 1',
      'fdFlags',
      'RawChannel.setRecvOwnMsgs()',
      'RawChannel.setReceiveBuffer()',
      'BATCH_RECORD_BYTES 88 (got 80)',
      'BATCH_RECORD',
    ])
      expect(result.summary).toContain(lacking)
  })
})
