// `canbridge-edge doctor` on real SocketCAN (vcan) against a real TCPBus, run by
// `pnpm test:kernel` inside scripts/kernel-harness.sh (and by packaging/edge/kernel-test.sh
// against the single executable: CANBRIDGE_EDGE_BIN); skipped anywhere else.
import { execFileSync } from 'node:child_process'
import { DIST_MAIN, EdgeProcess } from '@canbridge/edge-client/testing'
import { TCPBus } from '@canbridge/server-bus'
import { afterEach, describe, expect, it } from 'vitest'

const inKernel = process.env['CANBRIDGE_KERNEL'] !== undefined
const fd = process.env['CANBRIDGE_VCAN_FD'] === '1'
const packaged = process.env['CANBRIDGE_EDGE_BIN'] !== undefined
const quiet = { debug() {}, info() {}, warn() {}, error() {} }

const cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function doctor(args: string[]): Promise<{ code: number | null; out: string }> {
  const edge = new EdgeProcess(['doctor', ...args], {}, DIST_MAIN)
  cleanups.push(() => edge.stop('SIGKILL'))
  const code = await edge.exited()
  const out = edge.logs.map((line) => line.msg).join('\n')
  return { code, out: edge.stderr ? `${out}\n[stderr] ${edge.stderr}` : out }
}

// Needs real SocketCAN: collected only by vitest.kernel.config.ts inside the kernel harness;
// the guard keeps a stray run elsewhere from reporting kernel failures.
describe.skipIf(!inKernel)('doctor on vcan (kernel tests)', () => {
  it('finds SocketCAN, vcan0/vcan1 and the TCPBus fit: nothing fails, exit 0', async () => {
    const bus = await TCPBus.listen({
      port: 0,
      host: '127.0.0.1',
      serverId: 'harness-bus',
      logger: quiet,
    })
    cleanups.push(() => bus.shutdown())
    const seen: string[] = []
    bus.on('edgeConnected', (edge) => seen.push(edge.edgeId))
    const { port } = bus.address as { port: number }
    const { code, out } = await doctor([
      '--server',
      `127.0.0.1:${port}`,
      '--channel',
      'vcan0',
      '--channel',
      'vcan1',
      '--edge-id',
      'harness',
    ])
    expect(code, out).toBe(0)
    expect(out).toMatch(/^OK +kernel +can (loaded|built-in), can_raw (loaded|built-in)$/m)
    expect(out).toMatch(/^OK +can socket +opened a CAN_RAW socket on vcan0, vcan1$/m)
    const frames = fd ? 'CAN FD \\(MTU 72\\)' : 'classic CAN \\(MTU 16\\)'
    expect(out).toMatch(new RegExp(`^OK +vcan0 +up, ${frames}$`, 'm'))
    expect(out).toMatch(/^OK +vcan1 bus +virtual CAN \(vcan\): no bitrate, no controller$/m)
    // the harness's kernel keeps the default 208 KiB buffers: a warning, not a failure
    expect(out).toMatch(/^(OK|WARN) +rmem +rmem_default \d+/m)
    expect(out).toMatch(
      new RegExp(
        `^OK +server +127\\.0\\.0\\.1:${port}: canbridge protocol 1, server "harness-bus" answered HELLO with WELCOME`,
        'm',
      ),
    )
    expect(out).toMatch(
      packaged
        ? // the executable embeds the addon built with our patch, and says which patch
          /^OK +addon +socketcan [\d.]+ \+ patch sha256 [0-9a-f]{12} \(N-API \d+, embedded\) unpacked in \/\S+ .*: writable, executables allowed$/m
        : /^OK +addon +socketcan loaded from \/\S+\/can\.node$/m,
    )
    // the addon pnpm built (or the executable embeds) carries the patch: kernel drops counted
    expect(out).toMatch(/^OK +binding +patched socketcan binding in use: \(features version 3\)/m)
    expect(out).toMatch(/^doctor: 0 FAIL, \d+ WARN, \d+ OK: the edge can run here/m)
    expect(seen).toEqual(['harness.doctor'])
  })

  it('FAIL for an interface that is down and one that does not exist, exit 1', async () => {
    execFileSync('ip', ['link', 'add', 'dev', 'vcandoc', 'type', 'vcan'])
    cleanups.push(() => execFileSync('ip', ['link', 'del', 'dev', 'vcandoc']))
    const { code, out } = await doctor(['--channel', 'vcandoc', '--channel', 'nosuchcan7'])
    expect(code, out).toBe(1)
    expect(out).toMatch(
      /^FAIL +vcandoc +down, (classic CAN \(MTU 16\)|CAN FD \(MTU 72\)): no frame moves until it is up$/m,
    )
    expect(out).toMatch(/fix: sudo ip link set vcandoc up$/m)
    expect(out).toMatch(/^FAIL +nosuchcan7 +no such network interface$/m)
    expect(out).toMatch(/CAN interfaces on this host: .*vcan0/)
    expect(out).toMatch(/^WARN +server +not checked: no server given$/m)
  })
})
