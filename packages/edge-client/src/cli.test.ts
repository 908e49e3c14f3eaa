import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { PROTOCOL_VERSION } from '@canbridge/protocol'
import { describe, expect, it } from 'vitest'
import { SETTINGS } from './config.ts'

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url))

function run(...args: string[]) {
  const result = spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '' },
    timeout: 15_000,
  })
  return { code: result.status, out: result.stdout, err: result.stderr }
}

describe('canbridge-edge command line', () => {
  it('--help lists every option with its environment variable', () => {
    const { code, out } = run('--help')
    expect(code).toBe(0)
    expect(out).toMatch(/^Usage: canbridge-edge \[options\]/)
    for (const setting of SETTINGS) {
      expect(out).toContain(setting.flag)
      expect(out).toContain(setting.env)
    }
    expect(out).toContain('--config')
    expect(out).toContain('--version')
  })

  it('--help names what each value is, and its examples keep their line continuations', () => {
    const { out } = run('--help')
    expect(out).not.toContain('<value>')
    for (const usage of [
      '--server <host:port[,host:port…]>',
      '--ring-bytes <bytes>',
      '--spool-dir <dir>',
      '--tls-ca <file>',
      '--stats-interval <duration>',
      '--tx-rate-limit <frames/s>',
      '--socketcand-error-mask <mask>',
    ])
      expect(out).toContain(usage)
    // an example split over lines can be pasted into a shell as it is
    expect(out).toContain('--edge-id pi-garage \\\n      --tls-ca /etc/canbridge/ca.crt')
    expect(out).toContain('--server gw1.lab:29536,gw2.lab:29536 --channel can0')
  })

  it('--version prints the version, protocol, Node and N-API versions', () => {
    const { code, out } = run('--version')
    expect(code).toBe(0)
    expect(out).toMatch(/^canbridge-edge \d+\.\d+\.\d+\n/)
    expect(out).toContain(`protocol ${PROTOCOL_VERSION}`)
    expect(out).toContain(`node ${process.version}`)
    expect(out).toMatch(/n-api \d+/)
  })

  it('an unknown flag or a missing value is a usage error (exit 2) with a hint', () => {
    let r = run('--no-such-flag')
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/unknown option '--no-such-flag'/)
    expect(r.err).toMatch(/canbridge-edge --help/)
    r = run('--server')
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/argument missing/)
    r = run('stray-argument')
    expect(r.code).toBe(2)
  })

  it('rings larger than the memory available exit 2 naming --ring-bytes, with no stack trace', () => {
    // 256 channels × 1G: more than any test machine has free, refused before any is taken
    const channels = Array.from({ length: 256 }, (_, i) => ['--channel', `virtual:c${i}`]).flat()
    const r = run('--server', 'localhost:1', '--ring-bytes', '1G', ...channels)
    expect(r.code).toBe(2)
    expect(r.err).toMatch(
      /^canbridge-edge: the rings do not fit in memory: --ring-bytes 1G × 256 channels = 256G, .* but this host has [\d.]+[KMG]? available .*; lower --ring-bytes to at most [\d.]+[KMG] per channel, or give the edge more memory\n$/,
    )
    expect(r.err).not.toMatch(/RangeError|\n\s+at /)
  })

  it('a bad value exits 2 naming the setting; a missing interface exits 1 saying what to fix', () => {
    let r = run('--server', 'localhost:1', '--channel', 'can0', '--ring-bytes', 'huge')
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/bad ring-bytes "huge" \(from --ring-bytes\)/)
    r = run('--channel', 'can0')
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/no server given/)
    r = run('--server', 'localhost:1', '--channel', 'nosuchcan9')
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/no such network interface: nosuchcan9/)
    r = run(
      '--server',
      'localhost:1',
      '--channel',
      'virtual:x',
      '--spool-dir',
      '/etc/hostname/spool',
    )
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/cannot use the spool \(--spool-dir \/etc\/hostname\/spool\): .*ENOTDIR/)
  })
})
