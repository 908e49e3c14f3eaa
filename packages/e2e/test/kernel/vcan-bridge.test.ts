// `canbridge vcan` on real SocketCAN (kernel harness): the remote bus as a local interface.
// A real canbridge-edge streams its virtual counter channel (which also echoes what it is
// sent back as traffic); the workstation's side is read and written with can-utils and with
// python-can's socketcan interface, programs that know nothing of canbridge.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CliProcess } from '@canbridge/cli/testing'
import {
  canReceivers,
  DIST_MAIN,
  EdgeProcess,
  waitForNewReceiver,
} from '@canbridge/edge-client/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const inKernel = process.env['CANBRIDGE_KERNEL'] !== undefined
const root = process.getuid?.() === 0
const LOCAL = 'vcanpi'

/** Waits until `check` holds (the frames have arrived); fails with what it saw otherwise. */
async function until(check: () => boolean, what: () => string, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`gave up waiting: ${what()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

// Inside the kernel harness only (it sets CANBRIDGE_KERNEL; the host has no SocketCAN), as
// root (creating an interface needs CAP_NET_ADMIN).
describe.skipIf(!inKernel || !root)('canbridge vcan: the remote bus as a local interface', () => {
  // one folder for the whole describe: candump writes into it from the first test to the last
  const dir = mkdtempSync(join(tmpdir(), 'canbridge-vcan-'))
  let bridge: CliProcess
  let edge: EdgeProcess
  let candump: ChildProcess
  const dumpFile = join(dir, 'candump.log')
  const dumped = () => readFileSync(dumpFile, 'utf8').split('\n').filter(Boolean)

  beforeAll(async () => {
    bridge = new CliProcess([
      'vcan',
      '--create',
      LOCAL,
      '--fd',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--wait',
      '120',
    ])
    const port = await bridge.port()
    await bridge.waitForStderr(new RegExp(`created ${LOCAL}`))
    const before = canReceivers(LOCAL)
    candump = spawn('sh', ['-c', `exec candump -L ${LOCAL} > ${dumpFile}`], { stdio: 'ignore' })
    await waitForNewReceiver(LOCAL, before)
    edge = new EdgeProcess(
      [
        '--server',
        `127.0.0.1:${port}`,
        '--channel',
        'virtual:demo?rate=50&pattern=counter&fd=1&loopback=1',
        '--edge-id',
        'pi',
      ],
      {},
      DIST_MAIN,
    )
    await bridge.waitForStderr(/bridging pi\/virtual:demo <-> vcanpi/, 60_000)
  }, 180_000)

  afterAll(async () => {
    candump?.kill('SIGINT')
    await edge?.stop()
    bridge?.kill()
    rmSync(dir, { recursive: true, force: true })
  })

  it("puts the edge's frames on the local interface, in order, none missing (candump)", async () => {
    await until(
      () => dumped().length >= 40,
      () => `${dumped().length} lines`,
    )
    // the counter pattern: frame n has id 0x100 + n % 16 and n, little-endian, as its data
    const counters = dumped()
      .map((line) => /^\(\d+\.\d{6}\) vcanpi (10[0-9A-F])#([0-9A-F]{16})$/.exec(line))
      .filter((match) => match !== null)
      .map((match) => ({
        id: Number.parseInt(match![1]!, 16),
        n: Buffer.from(match![2]!, 'hex').readUInt32LE(0),
      }))
    expect(counters.length).toBeGreaterThanOrEqual(40)
    counters.forEach(({ id, n }, i) => {
      expect(id).toBe(0x100 + (n % 16))
      if (i > 0) expect(n).toBe(counters[i - 1]!.n + 1)
    })
  }, 120_000)

  it('sends what local programs write to the edge (cansend; the edge echoes it back)', async () => {
    for (const frame of ['123#DEADBEEF', '12345678#0102', '456##1112233']) {
      execFileSync('cansend', [LOCAL, frame])
    }
    // each appears twice on vcanpi: cansend's own, then the edge's echo written by the bridge
    const lines = () => dumped().map((line) => line.replace(/^\(\d+\.\d+\) /, ''))
    for (const notation of ['123#DEADBEEF', '12345678#0102']) {
      await until(
        () => lines().filter((l) => l === `${LOCAL} ${notation}`).length >= 2,
        () =>
          `${notation} in ${lines()
            .filter((l) => !/ 10[0-9A-F]#/.test(l))
            .join(' | ')}`,
      )
    }
    // the FD frame with its bit rate switch: the echo is printed as candump printed the original
    await until(
      () => lines().filter((l) => /^vcanpi 456##[0-9A-F]112233$/.test(l)).length >= 2,
      () =>
        lines()
          .filter((l) => l.includes('456'))
          .join(' | '),
    )
    const fd = lines().filter((l) => l.startsWith(`${LOCAL} 456##`))
    expect(fd[0]).toBe(fd[1])
  }, 120_000)

  it("works with python-can's socketcan interface, both ways", () => {
    const script = `
import can, sys, time
bus = can.Bus(interface='socketcan', channel='${LOCAL}', fd=True)
bus.send(can.Message(arbitration_id=0x321, data=[9, 8, 7], is_extended_id=False))
deadline = time.time() + 60
counter = echo = False
while time.time() < deadline and not (counter and echo):
    m = bus.recv(1)
    if m is None: continue
    counter = counter or 0x100 <= m.arbitration_id <= 0x10F
    echo = echo or (m.arbitration_id == 0x321 and list(m.data) == [9, 8, 7])
bus.shutdown()
print('counter', counter, 'echo', echo)
sys.exit(0 if counter and echo else 1)
`
    const output = execFileSync('/usr/bin/python3', ['-c', script], {
      encoding: 'utf8',
      timeout: 120_000,
    })
    expect(output.trim()).toBe('counter True echo True')
  }, 150_000)

  it('stops on Ctrl-C, says what it passed on, and removes the interface it made', async () => {
    bridge.child.kill('SIGINT')
    const status = await bridge.exited
    expect(bridge.stderr).toMatch(
      /\d+ frames onto vcanpi, 0 lost to its full queue, \d+ frames to pi\/virtual:demo, 0 not sent/,
    )
    expect(status).toBe(0)
    expect(() => execFileSync('ip', ['link', 'show', LOCAL], { stdio: 'pipe' })).toThrow()
  }, 60_000)
})
