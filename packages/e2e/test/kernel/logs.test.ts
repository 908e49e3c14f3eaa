// Log files and `canbridge dump` against can-utils on real SocketCAN (vcan0, MTU 72), inside
// the kernel harness (`pnpm test:kernel`, which sets CANBRIDGE_KERNEL; skipped anywhere else):
//   1. the same traffic recorded by candump -L and through the bridge (canbridge-edge on vcan0
//      → TCPBus → CanutilsLogWriter): the files are equal byte for byte, kernel timestamps,
//      CAN FD flags and the first frame included
//   2. canplayer replays a log we wrote; candump sees exactly its frames
//   3. candump's own files round-trip through LogReader and CanutilsLogWriter byte for byte
//   4. log2asc and ASCWriter convert the same candump file to the same bytes
//   5. `canbridge dump` against the real edge prints what candump prints, in -L and -ta -a
//   6. `canbridge play` through the real edge puts a log's frames on vcan0 with its timing
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CliProcess } from '@canbridge/cli/testing'
import { DIST_MAIN } from '@canbridge/edge-client/testing'
import {
  ASCWriter,
  CanMessage,
  type CanMessageOptions,
  CanutilsLogWriter,
  LogReader,
  Notifier,
  TCPBus,
} from '@canbridge/server-bus'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir } from '../support/helpers.ts'

const inKernel =
  process.env['CANBRIDGE_KERNEL'] !== undefined && process.env['CANBRIDGE_VCAN_FD'] === '1'
const IFACE = 'vcan0'
const EDGE = DIST_MAIN

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function sh(command: string, ...args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8' })
}

/** candump writing straight into a file (it flushes when it exits). */
class Candump {
  readonly child: ChildProcess
  readonly path: string
  constructor(path: string, args: string[]) {
    this.path = path
    const out = openSync(path, 'w')
    try {
      // -r: a big receive buffer (root: SO_RCVBUFFORCE), or candump drops under UML
      this.child = spawn('candump', ['-r', '8388608', ...args], {
        stdio: ['ignore', out, 'inherit'],
      })
    } finally {
      closeSync(out)
    }
    cleanups.push(() => this.child.kill('SIGKILL'))
  }

  /** Waits until its socket is surely open (it prints nothing before the first frame). */
  ready(): Promise<unknown> {
    return sleep(400)
  }

  async stop(): Promise<string> {
    await sleep(300)
    this.child.kill('SIGINT')
    if (this.child.exitCode === null)
      await new Promise((resolve) => this.child.once('exit', resolve))
    return readFileSync(this.path, 'utf8')
  }
}

function startEdge(port: number): ChildProcess {
  const edge = spawn(
    process.execPath,
    [
      EDGE,
      '--server',
      `127.0.0.1:${port}`,
      '--channel',
      IFACE,
      '--edge-id',
      'kt',
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  )
  cleanups.push(() => edge.kill('SIGKILL'))
  return edge
}

/**
 * Traffic of every kind on vcan0, from can-utils: standard, extended and remote frames
 * (cangen), CAN FD, error frames (cansend with CAN_ERR_FLAG: vcan hands them to error-frame
 * subscribers), CAN FD with BRS or ESI and CAN FD of 8 bytes or fewer (which an edge
 * without the patched socketcan binding could not carry faithfully).
 */
function traffic(): number {
  let frames = 0
  const cangen = (n: number, ...args: string[]) => {
    sh('cangen', IFACE, '-n', String(n), '-g', '1', ...args)
    frames += n
  }
  const cansend = (...lines: string[]) => {
    for (const line of lines) sh('cansend', IFACE, line)
    frames += lines.length
  }
  cangen(150) // standard ids, random lengths 0..8
  cangen(150, '-e') // extended
  cangen(60, '-R') // remote, random lengths
  cangen(40, '-e', '-R')
  cangen(40, '-f', '-L', '12')
  cangen(40, '-f', '-L', '64', '-e')
  cansend('20000004#0000000000000000', '20000040#0000080000000000', '20000100#00000000000000FF')
  cansend('123##4112233445566778899AABBCCDDEEFF00') // FD, 16 bytes, no BRS/ESI
  cansend('7FF#R', '001#R8', '1ABCDE00#')
  cangen(30, '-f', '-b', '-L', '16') // BRS
  cangen(30, '-f', '-E', '-L', '20') // ESI
  cangen(30, '-m') // mixed: FD ≤ 8 with BRS/ESI among them
  cansend('321##1AABBCCDDEEFF00112233', '321##2AA', '321##4', '321##31122')
  return frames
}

// Needs real SocketCAN and can-utils: collected by vitest.kernel.config.ts inside the kernel
// harness; the host run (vitest.config.ts) skips it rather than report kernel failures.
describe.skipIf(!inKernel)('candump logs and can-utils on vcan (kernel tests)', () => {
  it('1. the bridge records the same file as candump -L, byte for byte, kernel times included', async () => {
    expect(existsSync(EDGE), `build the edge first (${EDGE})`).toBe(true)
    const dir = tempDir()
    const bus = await TCPBus.listen({ port: 0, host: '127.0.0.1' })
    cleanups.push(() => bus.shutdown())
    startEdge((bus.address as { port: number }).port)
    await bus.waitForEdge({ timeoutMs: 60_000 })

    const truth = new Candump(join(dir, 'candump.log'), ['-L', `${IFACE},0:0,#FFFFFFFF`])
    const writer = new CanutilsLogWriter(join(dir, 'bridge.log'))
    const notifier = new Notifier(bus, [writer])
    await truth.ready()
    const sent = traffic()
    const expected = await truth.stop()
    const lines = expected.trimEnd().split('\n')
    expect(lines).toHaveLength(sent)
    const deadline = performance.now() + 60_000
    while (writer.count < sent && performance.now() < deadline) await sleep(50)
    await notifier.stop()
    const ours = readFileSync(join(dir, 'bridge.log'), 'utf8')

    // the whole file: candump's, the edge's first frame and every FD flag included
    expect(ours).toBe(expected)
    const kinds = (pattern: RegExp) => lines.filter((line) => pattern.test(line)).length
    expect(kinds(/ [0-9A-F]{3}#(?!R)/)).toBeGreaterThan(100) // standard data
    expect(kinds(/ [01][0-9A-F]{7}#(?!R)/)).toBeGreaterThan(100) // extended data
    expect(kinds(/#R\d?$/)).toBeGreaterThan(80) // remote, with their lengths
    expect(kinds(/ 2[0-9A-F]{7}#/)).toBe(3) // error frames
    expect(kinds(/##4[0-9A-F]{24,}$/)).toBeGreaterThan(60) // CAN FD > 8 bytes
    expect(kinds(/##[5-7][0-9A-F]*$/)).toBeGreaterThan(40) // CAN FD with BRS and/or ESI
    expect(kinds(/##[4-7](?:[0-9A-F]{2}){0,8}$/)).toBeGreaterThan(4) // CAN FD of 8 bytes or fewer
    console.log(`kernel test 1: ${lines.length} frames, identical to candump's`)
  }, 180_000)

  it('2. canplayer replays a log we wrote, and candump sees exactly its frames', async () => {
    const dir = tempDir()
    const path = join(dir, 'ours.log')
    const writer = new CanutilsLogWriter(path)
    const base = 1_700_000_000_000_000_000n
    const specs: CanMessageOptions[] = [
      { arbitrationId: 0x123, isExtendedId: false, data: [0xde, 0xad, 0xbe, 0xef] },
      { arbitrationId: 0x1abcde00, data: [1, 2, 3, 4, 5, 6, 7, 8] },
      { arbitrationId: 0x7ff, isExtendedId: false, isRemoteFrame: true, dlc: 0 },
      { arbitrationId: 0x100, isExtendedId: false, isRemoteFrame: true, dlc: 5 },
      { arbitrationId: 0x1fffffff, isRemoteFrame: true, dlc: 8 },
      { arbitrationId: 0x000, isExtendedId: false, data: [] },
      {
        arbitrationId: 0x321,
        isExtendedId: false,
        isFd: true,
        data: new Uint8Array(64).fill(0x5a),
      },
      {
        arbitrationId: 0x321,
        isExtendedId: false,
        isFd: true,
        bitrateSwitch: true,
        data: [1, 2, 3],
      },
      { arbitrationId: 0x10, isFd: true, errorStateIndicator: true, data: new Uint8Array(12) },
      { arbitrationId: 0x11, isFd: true, bitrateSwitch: true, errorStateIndicator: true, data: [] },
      {
        arbitrationId: 0x4,
        isErrorFrame: true,
        isExtendedId: false,
        data: [0, 0, 0, 0, 0, 0, 0, 0],
      },
    ]
    for (const [i, spec] of specs.entries()) {
      const time = base + BigInt(i) * 2_000_000n
      await writer.onMessage(new CanMessage({ ...spec, channel: `kt/${IFACE}`, timestampNs: time }))
    }
    await writer.stop()
    const written = readFileSync(path, 'utf8')
    const seen = new Candump(join(dir, 'seen.log'), ['-L', `${IFACE},0:0,#FFFFFFFF`])
    await seen.ready()
    sh('canplayer', '-I', path)
    const replayed = await seen.stop()
    const withoutTime = (text: string) => text.replace(/^\(\d+\.\d+\) /gm, '')
    expect(withoutTime(replayed)).toBe(withoutTime(written))
    expect(replayed.split('\n')).toHaveLength(specs.length + 1)
  }, 60_000)

  it("3. candump's files round-trip through LogReader and CanutilsLogWriter byte for byte", async () => {
    const dir = tempDir()
    const plain = new Candump(join(dir, 'plain.log'), ['-L', `${IFACE},0:0,#FFFFFFFF`])
    const extra = new Candump(join(dir, 'extra.log'), ['-L', '-x', `${IFACE},0:0,#FFFFFFFF`])
    await plain.ready()
    const sent = traffic()
    for (const [dump, options] of [
      [plain, {}],
      [extra, { direction: true }],
    ] as const) {
      const original = await dump.stop()
      expect(original.split('\n')).toHaveLength(sent + 1)
      const copy = join(dir, `copy-${options.direction ? 'x' : 'plain'}.log`)
      const writer = new CanutilsLogWriter(copy, options)
      for await (const message of new LogReader(dump.path)) await writer.onMessage(message)
      await writer.stop()
      expect(readFileSync(copy, 'utf8')).toBe(original)
    }
  }, 120_000)

  it('4. log2asc and ASCWriter turn the same candump file into the same bytes', async () => {
    const dir = tempDir()
    const dump = new Candump(join(dir, 'capture.log'), ['-L', `${IFACE},0:0,#FFFFFFFF`])
    await dump.ready()
    traffic()
    await dump.stop()
    // log2asc's date line is the first frame's time in local time: both sides use this TZ
    const theirs = sh('log2asc', '-I', dump.path, IFACE)
    const ours = join(dir, 'ours.asc')
    const writer = new ASCWriter(ours, { channels: [IFACE] })
    for await (const message of new LogReader(dump.path)) await writer.onMessage(message)
    await writer.stop()
    expect(readFileSync(ours, 'utf8')).toBe(theirs)
    expect(theirs).toMatch(/^date \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n/)
    expect(theirs).toContain(' ErrorFrame\n')
    expect(theirs).toMatch(/CANFD {3}1 Rx/)
  }, 120_000)

  it('5. canbridge dump against the real edge prints what candump prints (-L, and -ta -a)', async () => {
    expect(existsSync(EDGE), `build the edge first (${EDGE})`).toBe(true)
    const dir = tempDir()
    // -s 0 -f: the compact format on stdout and the -L format into a file, in one run
    const dump = new CliProcess([
      'dump',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '-s',
      '0',
      '-ta',
      '-a',
      '-f',
      join(dir, 'dump.log'),
      `${IFACE},0:0,#FFFFFFFF`,
    ])
    cleanups.push(() => dump.kill())
    startEdge(await dump.port())
    await dump.waitForStderr(/edge kt connected/, 60_000)
    const log = new Candump(join(dir, 'candump.log'), ['-L', `${IFACE},0:0,#FFFFFFFF`])
    const compact = new Candump(join(dir, 'candump.txt'), ['-ta', '-a', `${IFACE},0:0,#FFFFFFFF`])
    await log.ready()
    const sent = traffic()
    const expectedLog = await log.stop()
    const expectedCompact = await compact.stop()
    await dump.waitForStdout((text) => text.split('\n').length > sent, 60_000)
    expect(await dump.interrupt()).toBe(0)
    // the first frame's time and every FD flag included
    expect(dump.stdout).toBe(expectedCompact)
    expect(readFileSync(join(dir, 'dump.log'), 'utf8')).toBe(expectedLog)
    expect(dump.stderr).toMatch(new RegExp(`${sent} frames, 0 lost, ${sent} logged into`))
  }, 180_000)

  it('6. canbridge play puts a log onto vcan0 through the real edge, with its timing', async () => {
    expect(existsSync(EDGE), `build the edge first (${EDGE})`).toBe(true)
    const dir = tempDir()
    const log = join(dir, 'drive.log')
    const frames = [
      '123#DEADBEEF',
      '1ABCDE00#0102030405060708',
      '7FF#R',
      '100#R5',
      '321##5000102030405060708090A0B0C0D0E0F', // CAN FD, BRS, 16 bytes
      '321##4AABB', // CAN FD of 2 bytes
      '010##6112233', // CAN FD with ESI
      '20000004#0000000000000000', // an error frame: the edge refuses to send one
    ]
    // 100 ms apart in the log
    writeFileSync(
      log,
      frames
        .map(
          (frame, i) => `(1700000000.${String(i * 100_000).padStart(6, '0')}) ${IFACE} ${frame}\n`,
        )
        .join(''),
    )
    const seen = new Candump(join(dir, 'seen.log'), ['-L', `${IFACE},0:0,#FFFFFFFF`])
    await seen.ready()
    const play = new CliProcess(['play', log, '--host', '127.0.0.1', '--port', '0'])
    cleanups.push(() => play.kill())
    startEdge(await play.port())
    expect(await play.exited, play.stderr).toBe(1)
    expect(play.stderr).toContain(`${log}:8: not sent to kt/${IFACE}: `)
    expect(play.stderr).toMatch(/7 frames sent, 1 failed \(1 invalid-frame\) from/)
    const onBus = (await seen.stop()).trimEnd().split('\n')
    expect(onBus.map((line) => line.replace(/^\(\d+\.\d+\) /, ''))).toEqual(
      frames.slice(0, 7).map((frame) => `${IFACE} ${frame}`),
    )
    const times = onBus.map((line) => Number(/^\((\d+\.\d+)\)/.exec(line)![1]))
    const gapsMs = times.slice(1).map((t, i) => Math.round((t - times[i]!) * 1000))
    // the log's timing, not a burst: the typical (median) gap is the log's 100 ms. Not every
    // gap: one frame held up by a loaded machine shortens the next (the schedule does not
    // drift), which cli's test/replay.test.ts proves with an injected clock
    const median = [...gapsMs].sort((a, b) => a - b)[Math.floor(gapsMs.length / 2)]!
    expect(median, `gaps ${gapsMs.join(', ')} ms`).toBeGreaterThan(60)
    expect(median, `gaps ${gapsMs.join(', ')} ms`).toBeLessThan(140)
    expect(times.at(-1)! - times[0]!, `gaps ${gapsMs.join(', ')} ms`).toBeGreaterThan(0.5)
  }, 120_000)
})
