import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from './config.ts'

const base = { server: 'localhost:29536', channels: ['can0'] }

function file(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'canbridge-config-'))
  const path = join(dir, 'edge.json')
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content))
  return path
}

function message(run: () => unknown): string {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as Error).message
  }
  throw new Error('expected a ConfigError')
}

describe('config', () => {
  it('has defaults for everything but server and channels', () => {
    const config = loadConfig(base, {})
    expect(config).toMatchObject({
      server: [{ kind: 'tcp', host: 'localhost', port: 29536 }],
      channels: ['can0'],
      ringBytes: 8 * 1024 * 1024,
      spoolDir: null,
      spoolBytes: 256 * 1024 * 1024,
      dropPolicy: 'drop-oldest',
      listenOnly: false,
      logLevel: 'info',
      statsIntervalMs: 60_000,
      metricsPort: null,
      shutdownTimeoutMs: 5000,
      receiveBuffer: 'auto',
      kernelEcho: true,
      maxReadDelayMs: 10,
      threads: 1,
    })
    expect(config.edgeId.length).toBeGreaterThan(0)
  })

  it('layers defaults ← file ← environment ← flags', () => {
    const path = file({
      server: 'file-host:1',
      channels: ['can1'],
      ringBytes: '1M',
      logLevel: 'warn',
      edgeId: 'from-file',
    })
    const env = {
      CANBRIDGE_SERVER: 'env-host:2',
      CANBRIDGE_RING_BYTES: '2M',
      CANBRIDGE_CONFIG: path,
    }
    const config = loadConfig({ ringBytes: '4M' }, env)
    expect(config.server).toEqual([{ kind: 'tcp', host: 'env-host', port: 2 }])
    expect(config.channels).toEqual(['can1'])
    expect(config.ringBytes).toBe(4 * 1024 * 1024)
    expect(config.logLevel).toBe('warn')
    expect(config.edgeId).toBe('from-file')
    expect(loadConfig({ config: path }, {}).server).toEqual([
      { kind: 'tcp', host: 'file-host', port: 1 },
    ])
  })

  it('parses the value forms', () => {
    const env = {
      CANBRIDGE_SERVER: 'unix:/run/canbridge.sock',
      CANBRIDGE_CHANNELS: 'can0, virtual:demo?rate=10',
      CANBRIDGE_LISTEN_ONLY: 'yes',
      CANBRIDGE_STATS_INTERVAL: '10s',
      CANBRIDGE_METRICS_PORT: '9100',
      CANBRIDGE_SPOOL_DIR: '/var/lib/canbridge',
      CANBRIDGE_DROP_POLICY: 'drop-newest',
      CANBRIDGE_RECEIVE_BUFFER: '8K',
      CANBRIDGE_KERNEL_ECHO: 'off',
      CANBRIDGE_MAX_READ_DELAY: '0',
      CANBRIDGE_THREADS: '3',
    }
    expect(loadConfig({}, env)).toMatchObject({
      maxReadDelayMs: 0,
      threads: 3,
      receiveBuffer: 8192,
      kernelEcho: false,
      server: [{ kind: 'unix', path: '/run/canbridge.sock' }],
      channels: ['can0', 'virtual:demo?rate=10'],
      listenOnly: true,
      statsIntervalMs: 10_000,
      metricsPort: 9100,
      spoolDir: '/var/lib/canbridge',
      dropPolicy: 'drop-newest',
    })
    expect(loadConfig({ ...base, server: '[::1]:80' }, {}).server).toEqual([
      { kind: 'tcp', host: '::1', port: 80 },
    ])
  })

  it('names the setting, the source, the value and what is expected for every bad value', () => {
    const cases: [Record<string, unknown>, Record<string, string>, RegExp][] = [
      [
        { ...base, server: 'nohost' },
        {},
        /^bad server "nohost" \(from --server\): expected host:port/,
      ],
      [{ ...base, server: 'h:70000' }, {}, /bad server "h:70000".*port 1\.\.65535/],
      [
        { channels: ['can0'] },
        { CANBRIDGE_SERVER: 'x' },
        /bad server "x" \(from CANBRIDGE_SERVER\)/,
      ],
      [{ ...base, channels: ['can0', 'can0'] }, {}, /bad channel .*channel can0 is given twice/],
      [
        { ...base, channels: ['this-name-is-far-too-long'] },
        {},
        /bad channel .*is not an interface name/,
      ],
      [
        { ...base, channels: ['virtual:x?rate=fast'] },
        {},
        /bad channel .*rate must be frames per second/,
      ],
      [{ ...base, channels: ['virtual:x?colour=red'] }, {}, /unknown option "colour"/],
      [
        { ...base, ringBytes: '12x' },
        {},
        /^bad ring-bytes "12x" \(from --ring-bytes\): expected a byte size from 16K to 1G/,
      ],
      [{ ...base, ringBytes: '1K' }, {}, /bad ring-bytes "1K"/],
      [{ ...base, spoolBytes: '10' }, {}, /bad spool-bytes "10"/],
      [
        { ...base, dropPolicy: 'drop-random' },
        {},
        /bad drop-policy "drop-random".*drop-newest, drop-oldest/,
      ],
      [{ ...base, listenOnly: 'maybe' }, {}, /bad listen-only "maybe".*true or false/],
      [{ ...base, logLevel: 'loud' }, {}, /bad log-level "loud".*one of fatal, error/],
      [{ ...base, statsIntervalMs: '5 minutes' }, {}, /bad stats-interval "5 minutes".*duration/],
      [{ ...base, metricsPort: '99999' }, {}, /bad metrics-port "99999".*TCP port/],
      [{ ...base, edgeId: 'has space' }, {}, /bad edge-id "has space"/],
      [{ ...base, shutdownTimeoutMs: '-1' }, {}, /bad shutdown-timeout "-1"/],
      [{ ...base, txTimeoutMs: '0' }, {}, /bad tx-timeout "0"/],
      [{ ...base, txQueue: '0' }, {}, /bad tx-queue "0".*integer from 1/],
      [{ ...base, highWater: '2' }, {}, /bad high-water "2".*fraction/],
      [
        { ...base, receiveBuffer: '1K' },
        {},
        /^bad receive-buffer "1K" \(from --receive-buffer\): expected auto, or a byte size from 4K to 1G/,
      ],
      [
        { ...base, receiveBuffer: 'big' },
        {},
        /bad receive-buffer "big" \(from --receive-buffer\): expected auto, or/,
      ],
      [{ ...base, kernelEcho: 'perhaps' }, {}, /bad kernel-echo "perhaps".*true or false/],
      [
        { ...base, maxReadDelayMs: '2s' },
        {},
        /^bad max-read-delay "2s" \(from --max-read-delay\): expected a duration from 0 ms to 1000 ms/,
      ],
      [
        { ...base, threads: '4' },
        {},
        /^bad threads "4" \(from --threads\): expected an integer from 1 to 3/,
      ],
      [{ channels: ['can0'] }, {}, /^no server given: use --server host:port/],
      [{ server: 'h:1' }, {}, /^no channel given: use --channel can0/],
    ]
    for (const [flags, env, expected] of cases) {
      expect(message(() => loadConfig(flags, env))).toMatch(expected)
    }
  })

  it('takes several servers, in order: comma-separated on the command line, a list or a string in the file', () => {
    const a = { kind: 'tcp', host: 'a.example', port: 29536 }
    const b = { kind: 'tcp', host: '::1', port: 7 }
    expect(loadConfig({ ...base, server: 'a.example:29536, [::1]:7' }, {}).server).toEqual([a, b])
    expect(
      loadConfig({ channels: ['can0'] }, { CANBRIDGE_SERVER: 'a.example:29536,[::1]:7' }).server,
    ).toEqual([a, b])
    const list = file({
      channels: ['can0'],
      server: ['a.example:29536', '[::1]:7', 'unix:/run/c.sock'],
    })
    expect(loadConfig({ config: list }, {}).server).toEqual([
      a,
      b,
      { kind: 'unix', path: '/run/c.sock' },
    ])
    const text = file({ channels: ['can0'], server: 'a.example:29536,[::1]:7' })
    expect(loadConfig({ config: text }, {}).server).toEqual([a, b])
  })

  it('refuses a server list with an empty item, a bad port or a server given twice, naming the item', () => {
    const cases: [unknown, RegExp][] = [
      [
        'a:1,,b:2',
        /^bad server "a:1,,b:2" \(from --server\): server 2 of 3 is empty: expected one server or several/,
      ],
      ['a:1,', /server 2 of 2 is empty/],
      [' ', /the server is empty/],
      ['a:1,b:0', /server 2 of 2 "b:0": expected host:port \(port 1\.\.65535\)/],
      ['a:1,b:65536', /server 2 of 2 "b:65536": expected host:port/],
      ['a:1,b', /server 2 of 2 "b": expected host:port/],
      ['a:1,b:2,A:1', /server 3 of 3 "A:1" is server 1 again: give each server once/],
      ['unix:/s,unix:/s', /server 2 of 2 "unix:\/s" is server 1 again/],
      [[], /expected one server or several/],
      [['a:1', 5], /expected one server or several/],
      [Array.from({ length: 65 }, (_, i) => `h${i}:1`), /at most 64 servers, got 65/],
    ]
    for (const [server, expected] of cases) {
      expect(message(() => loadConfig({ channels: ['can0'], server }, {}))).toMatch(expected)
    }
    const path = file({ channels: ['can0'], server: ['a:1', ''] })
    expect(message(() => loadConfig({ config: path }, {}))).toMatch(
      new RegExp(
        `bad server \\["a:1",""\\] \\(from "server" in ${path}\\): server 2 of 2 is empty`,
      ),
    )
  })

  it('reports config file problems with the path and key', () => {
    expect(message(() => loadConfig({ config: '/nonexistent/edge.json' }, {}))).toMatch(
      /cannot read the config file \/nonexistent\/edge\.json/,
    )
    expect(message(() => loadConfig({ config: file('{ nope') }, {}))).toMatch(/is not valid JSON/)
    expect(message(() => loadConfig({ config: file([1]) }, {}))).toMatch(/must hold a JSON object/)
    expect(message(() => loadConfig({ config: file({ ...base, ringbytes: 1 }) }, {}))).toMatch(
      /unknown key "ringbytes"/,
    )
    const path = file({ ...base, ringBytes: 'lots' })
    expect(message(() => loadConfig({ config: path }, {}))).toMatch(
      new RegExp(`bad ring-bytes "lots" \\(from "ringBytes" in ${path}\\)`),
    )
  })
})
