import { PROTOCOL_VERSION } from '@canbridge/protocol'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { BuildInfo } from './build-info.ts'

const BUILD: BuildInfo = {
  version: '9.8.7',
  target: 'linux-armv7',
  node: '20.11.0',
  socketcan: '4.3.1',
  socketcanPatch: '5e1f0c4f9a2b7d3e8c6a1b0f2e4d6c8a9b7e5d3c1f0a2b4c6d8e0f1a3b5c7d9e',
  addonNapi: 8,
  glibc: '2.28',
  commit: '0123456789ab-dirty',
  date: '2025-06-01T12:00:00.000Z',
}

const execArgv = process.execArgv
/** the node-flags line for this process: vitest may start its workers with flags */
const flagLines = () => (execArgv.length > 0 ? [`node-flags ${execArgv.join(' ')}`] : [])

afterEach(() => {
  vi.doUnmock('./build-info.ts')
  vi.resetModules()
  process.execArgv = execArgv
})

describe('version text', () => {
  it('from source: version (package.json), protocol, Node and N-API', async () => {
    const { packageVersion, versionText } = await import('./version.ts')
    expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/)
    expect(versionText().split('\n')).toEqual([
      `canbridge-edge ${packageVersion()}`,
      `protocol ${PROTOCOL_VERSION}`,
      `node ${process.version}`,
      ...flagLines(),
      `n-api ${process.versions.napi}`,
    ])
  })

  it("node's flags, as the single executable's execArgv gives them", async () => {
    process.execArgv = ['--max-opt=2', '--max-semi-space-size=1']
    const { versionText } = await import('./version.ts')
    expect(versionText().split('\n')).toContain('node-flags --max-opt=2 --max-semi-space-size=1')
    process.execArgv = []
    expect(versionText()).not.toMatch(/node-flags/)
  })

  it('in a single executable: the build version, and the addon and build lines', async () => {
    vi.doMock('./build-info.ts', () => ({ BUILD_INFO: BUILD }))
    const { packageVersion, versionText } = await import('./version.ts')
    expect(packageVersion()).toBe('9.8.7')
    expect(versionText().split('\n')).toEqual([
      'canbridge-edge 9.8.7',
      `protocol ${PROTOCOL_VERSION}`,
      `node ${process.version}`,
      ...flagLines(),
      `n-api ${process.versions.napi}`,
      'addon socketcan 4.3.1 n-api 8 (linux-armv7, glibc >= 2.28)',
      'addon patch sha256 5e1f0c4f9a2b7d3e8c6a1b0f2e4d6c8a9b7e5d3c1f0a2b4c6d8e0f1a3b5c7d9e',
      'build 0123456789ab-dirty 2025-06-01T12:00:00.000Z single-executable',
    ])
  })
})
