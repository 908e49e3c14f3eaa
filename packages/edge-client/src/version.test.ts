import { PROTOCOL_VERSION } from '@canbridge/protocol'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { BuildInfo } from './build-info.ts'

const BUILD: BuildInfo = {
  version: '9.8.7',
  target: 'linux-armv7',
  node: '20.11.0',
  socketcan: '4.3.1',
  addonNapi: 8,
  glibc: '2.28',
  commit: '0123456789ab-dirty',
  date: '2025-06-01T12:00:00.000Z',
}

afterEach(() => {
  vi.doUnmock('./build-info.ts')
  vi.resetModules()
})

describe('version text', () => {
  it('from source: version (package.json), protocol, Node and N-API', async () => {
    const { packageVersion, versionText } = await import('./version.ts')
    expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/)
    expect(versionText().split('\n')).toEqual([
      `canbridge-edge ${packageVersion()}`,
      `protocol ${PROTOCOL_VERSION}`,
      `node ${process.version}`,
      `n-api ${process.versions.napi}`,
    ])
  })

  it('in a single executable: the build version, and the addon and build lines', async () => {
    vi.doMock('./build-info.ts', () => ({ BUILD_INFO: BUILD }))
    const { packageVersion, versionText } = await import('./version.ts')
    expect(packageVersion()).toBe('9.8.7')
    expect(versionText().split('\n')).toEqual([
      'canbridge-edge 9.8.7',
      `protocol ${PROTOCOL_VERSION}`,
      `node ${process.version}`,
      `n-api ${process.versions.napi}`,
      'addon socketcan 4.3.1 n-api 8 (linux-armv7, glibc >= 2.28)',
      'build 0123456789ab-dirty 2025-06-01T12:00:00.000Z single-executable',
    ])
  })
})
