// `canbridge dump --nats`: candump of a fleet, every part real: a nats-server, a gateway, edge
// processes on a virtual channel of every frame kind (standard, extended, remote, CAN FD, empty).
// The same traffic dumped from an edge connecting to `canbridge dump` and from the fleet must
// print the same lines; the candump log is checked by can-utils' log2asc as well.

import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CliProcess } from '@canbridge/cli/testing'
import { startEdge } from '@canbridge/edge-client/testing'
import { ScriptedEdge } from '@canbridge/server-bus/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFleet } from './support/fleet-rig.ts'
import { tempDir } from './support/helpers.ts'

const COUNT = 300
// frame n of the mixed pattern: kind n % 6 (standard, extended, remote, FD+BRS, empty, FD ext)
const CHANNEL = `virtual:a?rate=2000&pattern=mixed&count=${COUNT}`

let rig: Awaited<ReturnType<typeof startFleet>>
const cleanups: (() => unknown)[] = []

beforeAll(async () => {
  rig = await startFleet('DUMP')
})

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  await rig?.stop()
})

function cli(args: string[]): CliProcess {
  const p = new CliProcess(args, { env: { TZ: 'UTC' } })
  cleanups.push(() => p.kill())
  return p
}

/** `canbridge dump` reading this test's fleet. */
const dumpFleet = (args: string[]) =>
  cli(['dump', '--nats', rig.nats.url, '--stream', 'DUMP', ...args])

async function edge(port: number, edgeId: string) {
  const process = await startEdge([
    '--server',
    `127.0.0.1:${port}`,
    '--edge-id',
    edgeId,
    '--channel',
    CHANNEL,
  ])
  cleanups.push(() => process.stop('SIGKILL'))
}

/** A candump -L log without its time column (two runs of the edge differ only there). */
const untimed = (log: string) => log.replace(/^\(\d+\.\d{6}\) /gm, '')

/** can-utils' log2asc reading the log; its frame lines without the time column. */
function log2asc(file: string): string[] {
  const asc = execFileSync('log2asc', ['-I', file, 'virtual:a'], { encoding: 'utf8' })
  return asc
    .split('\n')
    .filter((line) => /^\s+\d+\.\d+ /.test(line))
    .map((line) => line.trim().replace(/^\d+\.\d+\s+/, ''))
}

describe('canbridge dump --nats: candump of a fleet', () => {
  it('prints what dump prints for the same edge connecting to it: default format, -L log, log2asc agrees', async () => {
    const dir = tempDir()
    // the edge straight into `canbridge dump`
    const direct = cli([
      'dump',
      '--port',
      '0',
      '-n',
      String(COUNT),
      '-s',
      '0',
      '-f',
      join(dir, 'direct.log'),
    ])
    await edge(await direct.port(), 'veh-1')
    expect(await direct.exited).toBe(0)

    // the same traffic through a gateway into JetStream, read back by `canbridge dump --nats`
    await edge(rig.port, 'veh-1')
    const fleet = dumpFleet([
      '--edge',
      'veh-*',
      '--channel',
      'virtual:a',
      '--from',
      'all',
      '-n',
      String(COUNT),
      '-s',
      '0',
      '-f',
      join(dir, 'fleet.log'),
    ])
    expect(await fleet.exited).toBe(0)
    expect(fleet.stderr).toContain(
      `canbridge dump: reading stream DUMP on ${rig.nats.url}: edges veh-*, channels virtual:a, from all (Ctrl-C stops)\n`,
    )
    expect(fleet.stderr).toMatch(
      new RegExp(`${COUNT} frames, 0 lost, ${COUNT} logged into .*fleet\\.log\\n`),
    )

    const lines = fleet.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(COUNT)
    expect(fleet.stdout).toBe(direct.stdout)
    // every kind of frame is there, in candump's default format (payload: n, little-endian)
    expect(lines.slice(0, 6)).toEqual([
      '  virtual:a  100   [8]  00 00 00 00 00 00 00 00',
      '  virtual:a  18DA0001   [8]  01 00 00 00 00 00 00 00',
      '  virtual:a       102   [4]  remote request',
      expect.stringMatching(/^ {2}virtual:a {7}103 {2}\[64\] {2}03 00 00 00 /),
      '  virtual:a       104   [0] ',
      expect.stringMatching(/^ {2}virtual:a {2}1ABCDE05 {2}\[12\] {2}05 00 00 00 /),
    ])
    const directLog = readFileSync(join(dir, 'direct.log'), 'utf8')
    const fleetLog = readFileSync(join(dir, 'fleet.log'), 'utf8')
    expect(untimed(fleetLog)).toBe(untimed(directLog))
    // an independent reader of candump logs sees the same frames in both
    const asc = log2asc(join(dir, 'fleet.log'))
    expect(asc).toHaveLength(COUNT)
    expect(asc).toEqual(log2asc(join(dir, 'direct.log')))
  }, 120_000)

  it('--from a stream sequence or a time', async () => {
    // the stream holds the edge's COUNT frames from the first test
    const from = (where: string, extra: string[] = []) =>
      dumpFleet(['--from', where, '-L', ...extra])
    const first = from('1', ['-n', String(COUNT)])
    const before = from('2000-01-01T00:00:00Z', ['-n', String(COUNT)])
    const after = from(new Date(Date.now() + 3_600_000).toISOString(), ['-T', '1500'])
    expect(await first.exited).toBe(0)
    expect(await before.exited).toBe(0)
    expect(await after.exited).toBe(0)
    expect(first.stdout.trimEnd().split('\n')).toHaveLength(COUNT)
    expect(before.stdout).toBe(first.stdout)
    expect(after.stdout).toBe('')
    expect(after.stderr).toContain('canbridge dump: 0 frames, 0 lost\n')
  }, 120_000)

  it('counts each lost frame once: a sequence gap and the drop report for it, -d prints DROPCOUNT', async () => {
    // a scripted edge: frame 0, then frame 7 (1..6 never sent), reports of 8..10 and of 1..3
    // (part of the gap: no more lost), then frame 11. Lost: 1..6 and 8..10, 9 frames (adding
    // the gaps' unreported parts to every report would say 12)
    const edge = await ScriptedEdge.start(
      { port: rig.port, host: '127.0.0.1' },
      { edgeId: 'pi-drops', channels: [{ name: 'can0', fd: true }] },
    )
    cleanups.push(() => edge.destroy())
    const frame = (n: number) => ({ id: 0x100, data: [n], timestampNs: 1_700_000_000_000_000_000n })
    edge.sendFrames(0, 0, [frame(0)])
    edge.sendFrames(0, 7, [frame(7)])
    edge.sendControl('DROPS', { channel: 0, fromSeq: 8, count: 3, reason: 'ring-full' })
    edge.sendControl('DROPS', { channel: 0, fromSeq: 1, count: 3, reason: 'ring-full' })
    edge.sendFrames(0, 11, [frame(11)])
    await edge.waitFor('ACK', (ack) => ack.nextSeq === 12) // all stored
    const p = dumpFleet(['--edge', 'pi-drops', '--from', 'all', '-L', '-d', '-T', '1500'])
    expect(await p.exited).toBe(0)
    const lines = p.stdout.trimEnd().split('\n')
    expect(lines.filter((line) => line.includes('can0 100#'))).toEqual([
      '(1700000000.000000) can0 100#00',
      '(1700000000.000000) can0 100#07',
      '(1700000000.000000) can0 100#0B',
    ])
    const counted = lines
      .filter((line) => line.startsWith('DROPCOUNT'))
      .map((line) => Number(/dropped (\d+) CAN frame/.exec(line)![1]))
    expect(counted.reduce((a, b) => a + b, 0)).toBe(9)
    expect(p.stderr).toContain('canbridge dump: 3 frames, 9 lost (pi-drops/can0: 9)\n')
  }, 60_000)

  it('says what is wrong: NATS unreachable, no such stream (exit 3); bad options (exit 2)', async () => {
    const unreachable = cli(['dump', '--nats', 'nats://127.0.0.1:1'])
    const noStream = cli(['dump', '--nats', rig.nats.url, '--stream', 'NOPE'])
    const usage: [string[], string][] = [
      [
        ['--nats', rig.nats.url, '--from', 'yesterday'],
        '--from must be now, all, a stream sequence (1, 2, ...) or an ISO date like 2026-12-06T10:00:00Z, got "yesterday"',
      ],
      [['--nats', rig.nats.url, '--from', '0'], '--from must be now, all, a stream sequence'],
      [
        ['--nats', rig.nats.url, '--port', '29536'],
        '--port is for edges connecting here; with --nats nothing listens (the gateway does)',
      ],
      [['--edge', 'veh-1'], '--edge goes with --nats'],
      [
        ['--nats', 'http://x'],
        '--nats "http://x": expected nats://host:port (comma-separated for several)',
      ],
    ]
    const bad = usage.map(([args]) => cli(['dump', ...args]))
    expect(await unreachable.exited).toBe(3)
    expect(unreachable.stderr).toContain(
      'canbridge dump: no NATS server answered at nats://127.0.0.1:1',
    )
    expect(await noStream.exited).toBe(3)
    expect(noStream.stderr).toContain(
      'canbridge dump: there is no stream NOPE on this NATS server (a canbridge gateway makes it when it first starts; or name another stream)',
    )
    for (const [i, p] of bad.entries()) {
      expect(await p.exited, usage[i]![0].join(' ')).toBe(2)
      expect(p.stderr).toContain(usage[i]![1])
    }
  }, 120_000)
})
