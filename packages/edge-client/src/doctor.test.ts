// `canbridge-edge doctor` as a whole: in-process against a scripted host and a scripted server,
// and as a command on this machine (which may have no SocketCAN at all).
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { patchedBinding } from '../test/helpers/fake-binding.ts'
import { fakeHost, protocols, removeFakeHosts, sysfsLink } from '../test/helpers/fake-host.ts'
import { ScriptedServer } from '../test/helpers/scripted-server.ts'
import type { RawChannelBinding } from './doctor/can-socket.ts'
import { runDoctor } from './doctor.ts'

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url))
const cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  removeFakeHosts()
})

/** `ip -details -json link show dev <name>`: vcan*, or a CAN controller at 500 kbit/s */
const IP_LINK = (name: string) =>
  name.startsWith('vcan')
    ? `[{"ifindex":2,"ifname":"${name}","flags":["NOARP","UP","LOWER_UP"],"mtu":72,"link_type":"can","linkinfo":{"info_kind":"vcan"}}]`
    : `[{"ifindex":3,"ifname":"${name}","flags":["NOARP","ECHO"],"mtu":16,"link_type":"can","linkinfo":{"info_kind":"can","info_data":{"state":"STOPPED","restart_ms":100,"bittiming":{"bitrate":500000,"sample_point":"0.875"}}}}]`

/** A Pi-like host with vcan0 up, SocketCAN loaded and 4 MiB buffers. */
function goodHost(extra: Record<string, string> = {}) {
  return fakeHost(
    {
      ...sysfsLink('vcan0', { mtu: 72 }),
      ...sysfsLink('eth0', { type: 1 }),
      '/proc/modules': 'vcan 1 0 - Live 0x0\ncan_raw 1 0 - Live 0x0\ncan 1 1 can_raw, Live 0x0\n',
      '/proc/net/protocols': protocols(true),
      '/proc/sys/net/core/rmem_default': '4194304\n',
      '/proc/sys/net/core/rmem_max': '4194304\n',
      ...extra,
    },
    (_command, args) => IP_LINK(args.at(-1)!),
  )
}

/** The shape of the patched addon (patches/socketcan@4.3.1.patch): what doctor looks for. */
const opens: RawChannelBinding = patchedBinding()
/** socketcan 4.3.1 as published: no `.features` */
const unpatched: RawChannelBinding = { RawChannel: class {} }

async function doctor(
  argv: string[],
  host = goodHost(),
  env: Record<string, string> = {},
  binding = opens,
) {
  let out = ''
  let err = ''
  const code = await runDoctor(
    argv,
    env,
    {
      out: (s) => {
        out += s
      },
      err: (s) => {
        err += s
      },
    },
    { host, addon: { load: () => binding }, build: undefined },
  )
  return { code, out, err, lines: out.split('\n') }
}

async function bus(): Promise<number> {
  const server = new ScriptedServer()
  cleanups.push(() => server.close())
  return server.listen()
}

async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('canbridge-edge doctor', () => {
  it('several servers: one line each, in order; one that does not answer is a WARN while another does, a FAIL when none does', async () => {
    const up = await bus()
    const down = await closedPort()
    const list = `127.0.0.1:${down},127.0.0.1:${up}`
    const r = await doctor(['--server', list, '--channel', 'virtual:x'])
    expect(r.lines[1]).toBe(
      `channels: virtual:x; servers (failover in this order): 127.0.0.1:${down}, 127.0.0.1:${up}`,
    )
    expect(r.out).toMatch(
      new RegExp(
        `^WARN  server 1\\s+127\\.0\\.0\\.1:${down}: cannot connect: connect ECONNREFUSED`,
        'm',
      ),
    )
    expect(r.out).toMatch(/the edge fails over to the servers that answer meanwhile$/m)
    expect(r.out).toMatch(new RegExp(`^OK\\s+server 2\\s+127\\.0\\.0\\.1:${up}: `, 'm'))
    expect(r.code).toBe(0)

    const other = await closedPort()
    const none = await doctor([
      '--server',
      `127.0.0.1:${down},127.0.0.1:${other}`,
      '--channel',
      'virtual:x',
    ])
    expect(none.lines.filter((l) => /^FAIL\s+server [12] /.test(l))).toHaveLength(2)
    expect(none.code).toBe(1)
  })

  it('all OK on a good host with a TCPBus: one line per check, exit 0', async () => {
    const port = await bus()
    const r = await doctor(['--server', `127.0.0.1:${port}`, '--channel', 'vcan0'])
    expect(r.code).toBe(0)
    expect(r.lines[0]).toMatch(
      /^canbridge-edge doctor \d+\.\d+\.\d+ on .*: linux 6\.1\.0-test .*from source$/,
    )
    expect(r.lines[1]).toBe(`channels: vcan0; server: 127.0.0.1:${port}`)
    const checks = r.lines.filter((l) => /^(OK|WARN|FAIL) /.test(l))
    expect(checks.map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual([
      'OK addon',
      'OK binding',
      'OK kernel',
      'OK can',
      'OK vcan0',
      'OK vcan0',
      'OK rmem',
      'OK server',
    ])
    expect(r.out).toMatch(/^OK {4}can socket {2}opened a CAN_RAW socket on vcan0$/m)
    expect(r.out).toMatch(/^OK {4}vcan0 bus {3}virtual CAN \(vcan\): no bitrate, no controller$/m)
    expect(r.out).toMatch(
      /^OK {4}binding {5}patched socketcan binding in use: \(features version 3\)/m,
    )
    expect(r.lines.at(-2)).toBe('doctor: 0 FAIL, 0 WARN, 8 OK: the edge can run here')
  })

  it('FAIL when the socketcan addon is not the patched one (no drop accounting), exit 1', async () => {
    const port = await bus()
    const r = await doctor(
      ['--server', `127.0.0.1:${port}`, '--channel', 'vcan0'],
      goodHost(),
      {},
      unpatched,
    )
    expect(r.code).toBe(1)
    expect(r.out).toMatch(
      /^FAIL {2}binding {5}the patched socketcan binding is NOT in use: socketcan addon WITHOUT the canbridge patch \(no \.features/m,
    )
    expect(r.out).toMatch(/frames the kernel drops are not counted/)
    expect(r.out).toMatch(
      /fix: from source: pnpm install applies patches\/socketcan@4\.3\.1\.patch/,
    )
    expect(r.lines.at(-2)).toBe('doctor: 1 FAIL, 0 WARN, 7 OK: fix the FAIL lines first')
  })

  it('without --channel checks every CAN interface here; FAIL lines say what to fix, exit 1', async () => {
    const host = goodHost({
      ...sysfsLink('can0', { up: false }),
      '/proc/sys/net/core/rmem_default': '212992\n',
    })
    const r = await doctor(['--server', `127.0.0.1:${await closedPort()}`], host)
    expect(r.code).toBe(1)
    expect(r.lines[1]).toMatch(/^channels: can0, vcan0 \(none given: every CAN interface here\)/)
    expect(r.out).toMatch(
      /^FAIL {2}can0 {8}down, classic CAN \(MTU 16\): no frame moves until it is up\n {18}fix: sudo ip link set can0 up type can bitrate 500000 restart-ms 100/m,
    )
    expect(r.out).toMatch(
      /^OK {4}can0 bus {4}500000 bit\/s, sample point 0\.875, STOPPED, restart-ms 100$/m,
    )
    expect(r.out).toMatch(/^WARN {2}rmem {8}rmem_default 212992 below 4 MiB/m)
    expect(r.out).toMatch(
      /^FAIL {2}server {6}127\.0\.0\.1:\d+: cannot connect: connect ECONNREFUSED/m,
    )
    expect(r.lines.at(-2)).toMatch(/^doctor: 2 FAIL, 1 WARN, \d+ OK: fix the FAIL lines first$/)
  })

  it('with no channel and no CAN interface checks can0, and says so', async () => {
    const host = fakeHost({ '/proc/net/protocols': protocols(false) })
    const r = await doctor([], host)
    expect(r.code).toBe(1)
    expect(r.lines[1]).toBe(
      'channels: can0 (none given and no CAN interface here: the default can0); server: none given',
    )
    expect(r.out).toMatch(/^FAIL {2}can socket {2}this kernel has no SocketCAN/m)
    expect(r.out).toMatch(/^FAIL {2}can0 {8}no such network interface$/m)
    expect(r.out).toMatch(/^WARN {2}server {6}not checked: no server given$/m)
  })

  it('only virtual channels: no kernel checks', async () => {
    const port = await bus()
    const r = await doctor(
      ['--server', `127.0.0.1:${port}`, '--channel', 'virtual:demo'],
      fakeHost({}),
    )
    expect(r.code).toBe(0)
    expect(r.out).toMatch(
      /^OK {4}socketcan {3}not needed: only virtual channels \(virtual:demo\)$/m,
    )
    expect(r.out).not.toMatch(/kernel|rmem/)
  })

  it('reads the config file and the environment like the daemon, and reports what it would refuse', async () => {
    const port = await bus()
    const dir = mkdtempSync(join(tmpdir(), 'doctor-config-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'edge.json')
    writeFileSync(
      file,
      JSON.stringify({ server: `127.0.0.1:${port}`, channels: ['vcan0'], ringBytes: '1k' }),
    )
    const bad = await doctor(['--config', file])
    expect(bad.code).toBe(1)
    expect(bad.lines[1]).toBe(`channels: vcan0; server: 127.0.0.1:${port}`)
    expect(bad.out).toMatch(
      new RegExp(
        `^FAIL  config      ${file}: bad ring-bytes "1k" \\(from "ringBytes" in ${file}\\)`,
        'm',
      ),
    )
    expect(bad.out).toMatch(/^OK {4}server/m)
    writeFileSync(file, JSON.stringify({ channels: ['vcan0'] }))
    const env = await doctor([], goodHost(), {
      CANBRIDGE_CONFIG: file,
      CANBRIDGE_SERVER: `127.0.0.1:${port}`,
    })
    expect(env.code).toBe(0)
    expect(env.out).toMatch(new RegExp(`^OK    config      ${file}: valid$`, 'm'))
    writeFileSync(file, '{"channels": ["vcan0"]}')
    const noServer = await doctor(['--config', file])
    expect(noServer.out).toMatch(/^FAIL {2}config {6}.*: no server given/m)
  })

  it('a check that throws is a FAIL line of its own; the others still run', async () => {
    const host = goodHost({
      '/proc/self/maps': '7f00-7f10 r-xp 0 08:01 5 /cache/can-0123456789abcdef-x64.node\n',
    })
    let out = ''
    const code = await runDoctor(
      ['--channel', 'vcan0'],
      {},
      {
        out: (s) => {
          out += s
        },
        err: () => {},
      },
      {
        host,
        addon: {
          load: () => opens,
          isWritable: () => {
            throw new Error('boom')
          },
        },
        build: {
          version: '0.1.0',
          target: 'linux-x64',
          node: '24.21.0',
          socketcan: '4.3.1',
          socketcanPatch: '5e1f0c4f9a2b7d3e8c6a1b0f2e4d6c8a9b7e5d3c1f0a2b4c6d8e0f1a3b5c7d9e',
          addonNapi: 8,
          glibc: '2.28',
          commit: 'abcdef123456',
          date: '2025-01-01T00:00:00.000Z',
        },
      },
    )
    expect(code).toBe(1)
    expect(out).toMatch(
      /^canbridge-edge doctor .*, single executable linux-x64, build abcdef123456$/m,
    )
    expect(out).toMatch(/^FAIL {2}addon {7}the check itself failed: boom$/m)
    // without the addon's answer the socket check still reports
    expect(out).toMatch(/^WARN {2}can socket {2}not tried: the socketcan addon did not load$/m)
    expect(out).toMatch(/^OK {4}vcan0 {7}up, CAN FD \(MTU 72\)$/m)
  })

  it('accepts the daemon options; a bad command line is exit 2, --help exit 0', async () => {
    const port = await bus()
    const r = await doctor([
      '--server',
      `127.0.0.1:${port}`,
      '--channel',
      'vcan0',
      '--edge-id',
      'pi',
      '--spool-dir',
      '/tmp/s',
      '--listen-only',
      '--no-socketcand-beacon',
      '--tx-allow',
      '123',
      // an optional value, as the daemon takes it
      '--socketcand',
    ])
    expect(r.code).toBe(0)
    expect((await doctor(['--bogus'])).code).toBe(2)
    expect((await doctor(['stray'])).code).toBe(2)
    expect((await doctor(['--timeout', '5'])).code).toBe(2)
    const help = await doctor(['--help'])
    expect(help.code).toBe(0)
    expect(help.out).toMatch(/^Usage: canbridge-edge doctor \[options\]/)
    expect(help.out).toMatch(
      /Exit code: 0 when no check failed \(warnings allowed\), 1 when one did/,
    )
  })
})

describe('canbridge-edge doctor, the command on this machine', () => {
  function run(args: string[]) {
    const r = spawnSync(process.execPath, [MAIN, ...args], {
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] ?? '' },
      timeout: 30_000,
    })
    return { code: r.status, out: r.stdout, err: r.stderr }
  }

  it('is listed in --help', () => {
    const r = run(['--help'])
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/canbridge-edge doctor \[--server host:port\] \[--channel can0 \.\.\.\]/)
  })

  it('runs every check and exits 0 or 1; on a host without AF_CAN it says the kernel has no SocketCAN', async () => {
    const r = run(['doctor', '--server', `127.0.0.1:${await closedPort()}`, '--channel', 'can0'])
    expect(r.err).toBe('')
    expect(r.code).toBe(1) // the server is not there
    for (const name of ['addon', 'kernel', 'can socket', 'can0', 'rmem', 'server']) {
      expect(r.out).toMatch(new RegExp(`^(OK|WARN|FAIL) +${name} `, 'm'))
    }
    const hasCanRaw = spawnSync('grep', ['-qs', '^CAN_RAW', '/proc/net/protocols']).status === 0
    if (!hasCanRaw) {
      expect(r.out).toMatch(
        /^FAIL {2}can socket {2}this kernel has no SocketCAN: socket\(AF_CAN, SOCK_RAW, CAN_RAW\) cannot be created/m,
      )
    }
  })

  it('a reader that goes away (| head) is no error: the output stops, the exit code stays', async () => {
    const port = await closedPort()
    for (const args of [
      ['--help'],
      ['doctor', '--channel', 'virtual:x', '--server', `127.0.0.1:${port}`],
    ]) {
      const child = spawn(process.execPath, [MAIN, ...args], {
        env: { PATH: process.env['PATH'] ?? '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      child.stdout.destroy()
      let err = ''
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        err += chunk
      })
      const code = await new Promise((resolve) => child.once('exit', resolve))
      expect(err).toBe('')
      expect(code).toBe(args[0] === '--help' ? 0 : 1)
    }
  })
})
