// `canbridge dump` as a process: a scripted edge connects to it over loopback TCP and streams
// frames; stdout must be what candump prints for them (hand-written from candump's format),
// with candump's filters, -n, log files, Ctrl-C and its summary, and clear usage errors.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { FRAME_FLAG } from '@canbridge/protocol'
import { type FrameSpec, sequenceOf } from '@canbridge/server-bus/testing'
import { describe, expect, it } from 'vitest'
import { pythonWith, runPython } from '../../server-bus/test/logs/support/python.ts'
import { type CliProcess, connectEdge, startCli } from './support/cli-session.ts'
import { lines, tempDir } from './support/helpers.ts'

const MCAP_CHECK = new URL('../../server-bus/test/logs/support/mcap_check.py', import.meta.url)
  .pathname

const { EXT, RTR, ERR, FD, BRS } = FRAME_FLAG
const T0 = 1_700_000_000_000_000_000n
const LOCAL = ['--host', '127.0.0.1', '--port', '0']

/** Waits for `count` lines on stdout, presses Ctrl-C, checks the exit status; the output. */
async function interruptAfter(p: CliProcess, count: number): Promise<string> {
  await p.waitForStdout((text) => text.split('\n').length > count)
  expect(await p.interrupt()).toBe(0)
  return p.stdout
}

const dump = (args: string[], cwd?: string) =>
  startCli(['dump', ...args], cwd === undefined ? {} : { cwd })

const FRAMES: FrameSpec[] = [
  { id: 0x123, data: [0xde, 0xad, 0xbe, 0xef], timestampNs: T0 + 1000n },
  { id: 0x12345678, flags: EXT, data: [0x11], timestampNs: T0 + 2000n },
  { id: 0x123, flags: RTR, len: 4, timestampNs: T0 + 3000n },
  {
    id: 0x7ff,
    flags: FD | BRS,
    data: Array.from({ length: 12 }, (_, i) => i),
    timestampNs: T0 + 4000n,
  },
  { id: 0x4, flags: ERR, data: [0, 0, 0, 0, 0, 0, 0, 0], timestampNs: T0 + 5000n },
  { id: 0x124, data: [0x41, 0x42], timestampNs: T0 + 6000n },
]

/** candump's default format for the first four FRAMES, on an interface called can0 */
const FIRST_FOUR_IN_CANDUMP_FORMAT = lines(
  '  can0  123   [4]  DE AD BE EF',
  '  can0  12345678   [1]  11',
  '  can0       123   [4]  remote request',
  '  can0       7FF  [12]  00 01 02 03 04 05 06 07 08 09 0A 0B',
)

describe('canbridge dump', () => {
  it('prints the default candump format and stops after -n frames', async () => {
    const p = dump([...LOCAL, '-n', '4'])
    const edge = await connectEdge(p)
    edge.sendFrames(0, 0, FRAMES)
    expect(await p.exited).toBe(0)
    expect(p.stdout).toBe(FIRST_FOUR_IN_CANDUMP_FORMAT)
    expect(p.stderr).toMatch(/canbridge dump: edge pi connected from 127\.0\.0\.1:\d+: pi\/can0\n/)
    // the rest of the batch arrived too, but -n stopped the printing
    expect(p.stderr).toMatch(/canbridge dump: 4 frames shown of 6 received, 0 lost\n/)
  })

  it('-L with candump filters: two interfaces, one filtered to ids; error frames only when asked', async () => {
    const p = dump([...LOCAL, '-L', 'can0,123:7FF,12345678:1FFFFFFF', 'can1'])
    const edge = await connectEdge(p, {
      channels: [
        { name: 'can0', fd: true },
        { name: 'can1', fd: false },
      ],
    })
    edge.sendFrames(0, 0, FRAMES)
    edge.sendFrames(1, 0, [{ id: 0x555, data: [1], timestampNs: T0 + 7000n }])
    expect(await interruptAfter(p, 4)).toBe(
      lines(
        '(1700000000.000001) can0 123#DEADBEEF',
        '(1700000000.000002) can0 12345678#11',
        '(1700000000.000003) can0 123#R4',
        '(1700000000.000007) can1 555#01',
      ),
    )
    expect(p.stderr).toMatch(/canbridge dump: 4 frames shown of 7 received, 0 lost\n/)
  })

  it('sends filters python-can can say to the edge; applies the rest itself', async () => {
    const p = dump([...LOCAL, '-L', 'can0,123:7FF,12345678:9FFFFFFF'])
    const edge = await connectEdge(p)
    const sent = await edge.waitFor('SET_FILTERS', (f) => f.filters.length > 0)
    expect(sent.filters).toEqual([
      { canId: 0x123, canMask: 0x7ff },
      { canId: 0x12345678, canMask: 0x1fffffff, extended: true },
    ])
    await p.interrupt()
  })

  it('inverted filters, error masks and join are applied here, frame by frame', async () => {
    // any,0~0,#FFFFFFFF: no data frame (0~0 never matches), every error frame
    const errors = dump([...LOCAL, '-L', 'any,0~0,#FFFFFFFF'])
    const edge1 = await connectEdge(errors)
    edge1.sendFrames(0, 0, FRAMES)
    expect(await interruptAfter(errors, 1)).toBe(
      '(1700000000.000005) can0 20000004#0000000000000000\n',
    )
    // 120~7F0 (outside 0x120..0x12F) joined with 0:C0000000 (standard, not remote)
    const joined = dump([...LOCAL, '-L', '-n', '1', 'can0,120~7F0,0:C0000000,j'])
    const edge2 = await connectEdge(joined)
    edge2.sendFrames(0, 0, FRAMES)
    expect(await joined.exited).toBe(0)
    expect(joined.stdout).toBe('(1700000000.000004) can0 7FF##5000102030405060708090A0B\n')
  })

  it('-f FILE logs through the Logger by suffix (.log, .asc); stdout stays quiet', async () => {
    const dir = tempDir()
    for (const [name, expected] of [
      [
        'out.log',
        lines('(1700000000.000001) can0 123#DEADBEEF', '(1700000000.000002) can0 12345678#11'),
      ],
      [
        'out.asc',
        lines(
          'date Tue Nov 14 22:13:20 2023', // the first frame's time, in the zone TZ names
          'base hex  timestamps absolute',
          'no internal events logged',
          '   0.000000 1  123             Rx   d 4 DE AD BE EF',
          '   0.000001 1  12345678x       Rx   d 1 11',
        ),
      ],
    ] as const) {
      const p = startCli(['dump', ...LOCAL, '-n', '2', '-f', join(dir, name)], {
        env: { TZ: 'UTC' },
      })
      const edge = await connectEdge(p)
      edge.sendFrames(0, 0, FRAMES)
      expect(await p.exited).toBe(0)
      expect(p.stdout).toBe('')
      expect(p.stderr).toContain(`canbridge dump: logging into ${join(dir, name)}\n`)
      expect(p.stderr).toContain('standard output is off while logging (-s 0 keeps it)')
      expect(p.stderr).toMatch(
        new RegExp(`2 frames shown of 6 received, 0 lost, 2 logged into .*${name}\n`),
      )
      expect(readFileSync(join(dir, name), 'utf8')).toBe(expected)
    }
  })

  it('--mcap FILE --dbc DB: the frames and their decoded signals in MCAP, checked by an independent reader', async () => {
    const dir = tempDir()
    const dbc = join(dir, 'car.dbc')
    writeFileSync(
      dbc,
      'VERSION ""\n\nBO_ 291 Msg123: 4 Engine\n SG_ A : 0|8@1+ (1,0) [0|255] "" Vector__XXX\n',
    )
    const mcap = join(dir, 'trip.mcap')
    const p = startCli(['dump', ...LOCAL, '-n', '5', '--mcap', mcap, '--dbc', dbc])
    const edge = await connectEdge(p)
    edge.sendFrames(0, 0, FRAMES)
    expect(await p.exited).toBe(0)
    expect(p.stderr).toMatch(/5 frames shown of 6 received, 0 lost, 5 logged into .*trip\.mcap\n/)
    // the remote frame 123 carries no data: it does not fit Msg123, a note, still recorded raw
    expect(p.stderr).toContain('1 frames did not fit the DBC (recorded raw only)')
    const checked = JSON.parse(
      await runPython(pythonWith('json, zlib, zstandard', 'python3-zstandard'), [MCAP_CHECK, mcap]),
    ) as { messages: { topic: string; data: Record<string, unknown> }[] }
    expect(
      checked.messages
        .filter((m) => m.topic === '/can/pi/can0')
        .map((m) => m.data['arbitration_id']),
    ).toEqual([0x123, 0x12345678, 0x123, 0x7ff, 0x124])
    expect(
      checked.messages.filter((m) => m.topic === '/can/pi/can0/Msg123').map((m) => m.data),
    ).toEqual([{ A: 0xde }])
  }, 60_000)

  it('-l names the file as candump does, in the working directory', async () => {
    const dir = tempDir()
    const p = dump([...LOCAL, '-n', '1', '-l'], dir)
    const edge = await connectEdge(p)
    edge.sendFrames(0, 0, FRAMES)
    expect(await p.exited).toBe(0)
    const files = readdirSync(dir)
    expect(files).toHaveLength(1)
    expect(files[0]).toMatch(/^candump-\d{4}-\d\d-\d\d_\d{6}\.log$/)
    expect(readFileSync(join(dir, files[0]!), 'utf8')).toBe(
      '(1700000000.000001) can0 123#DEADBEEF\n',
    )
  })

  it('Ctrl-C: counts the frames lost on the way; -d prints DROPCOUNT lines as candump -d', async () => {
    const p = dump([...LOCAL, '-L', '-d'])
    const edge = await connectEdge(p)
    edge.sendFrames(0, 0, FRAMES.slice(0, 1))
    // a DROPCOUNT line is printed when the bus learns of the loss: let the frame out first
    await p.waitForStdout((text) => text.includes('123#'))
    // sequence 1..6 never arrive: the bus sees a gap of 6
    edge.sendFrames(0, 7, [{ id: 0x100, data: [], timestampNs: T0 + 9000n }])
    await p.waitForStdout((text) => text.includes('100#'))
    // the edge reports that it dropped 8..10 itself
    edge.sendControl('DROPS', { channel: 0, fromSeq: 8, count: 3, reason: 'ring-full' })
    expect(await interruptAfter(p, 4)).toBe(
      lines(
        '(1700000000.000001) can0 123#DEADBEEF',
        "DROPCOUNT: dropped 6 CAN frames on 'can0' socket (total drops 6)",
        '(1700000000.000009) can0 100#',
        "DROPCOUNT: dropped 3 CAN frames on 'can0' socket (total drops 9)",
      ),
    )
    expect(p.stderr).toMatch(/canbridge dump: 2 frames, 9 lost \(pi\/can0: 9\)\n/)
  })

  it('counts each lost frame once: gaps and DROPS reports that explain them, in either order, overlapping', async () => {
    const p = dump([...LOCAL, '-L'])
    const edge = await connectEdge(p)
    const PRODUCED = 3000 // sequence numbers 0..2999, each frame's payload its number
    const send = (from: number, to: number) => edge.stream(0, from, to - from, 100)
    const report = (reason: string, fromSeq: number, count: number) =>
      edge.sendControl('DROPS', { channel: 0, fromSeq, count, reason })
    await send(0, 500)
    report('ring-full', 500, 100) // reported before the gap shows
    await send(600, 1000)
    await send(1200, 2000) // the gap 1000..1199 shows first,
    report('spool-full', 1000, 200) // then its report
    report('ring-full', 2000, 50) // overlapping reports, one of them twice
    report('ring-full', 2025, 75)
    report('spool-full', 2000, 100)
    report('spool-full', 2000, 100)
    await send(2100, 2500)
    report('ring-full', 2500, 150) // a report for part of the next gap only (2650..2799 not)
    await send(2800, PRODUCED)
    await p.waitForStdout((text) => text.split('\n').length > 2300)
    expect(await p.interrupt()).toBe(0)
    // the oracle: which payload counters arrived, read from the printed frames
    const received = new Set<number>()
    for (const line of p.stdout.trimEnd().split('\n')) {
      const hex = line.split('#')[1]!
      received.add(sequenceOf(Uint8Array.from(Buffer.from(hex, 'hex'))))
    }
    const missing = PRODUCED - received.size
    expect(missing).toBe(700)
    expect(p.stderr).toContain(
      `canbridge dump: ${received.size} frames, ${missing} lost (pi/can0: ${missing})\n`,
    )
  })

  // one process per case, one after another: a loaded machine needs more than the default 20 s
  it('bad command lines: exit status 2 and a message that says what to fix', async () => {
    const cases: [string[], string][] = [
      [
        ['can0,12x'],
        'bad filter "12x" in "can0,12x": expected <can_id>:<can_mask>, <can_id>~<can_mask>, #<error_mask> or j',
      ],
      [['-L', '-a'], '-L prints the log format, which has no ASCII column: drop -a'],
      [['-s', '3'], '-s must be an integer from 0 to 2, got "3"'],
      [['-n', '0'], '-n must be an integer from 1 to'],
      [['-t', 'q'], "argument 'q' is invalid. Allowed choices are a, A, d, z."],
      [['--unix', 'x.sock', '--port', '1'], '--unix cannot be combined with --port or --host'],
      [['--port', '70000'], '--port must be an integer from 0 to 65535, got "70000"'],
      [['-l', '-f', 'x.log'], '-l and -f both name a log file: give one'],
      [['--mcap', 'x.mcap', '-f', 'x.log'], '--mcap and -f/-l both name a log file: give one'],
      [['--mcap', 'x.log'], '--mcap needs a file name ending in .mcap, got "x.log"'],
      [['-f', 'x.log', '--dbc', 'car.dbc'], '--dbc needs an MCAP log file (--mcap <file>)'],
      [
        ['-f', 'x.trc'],
        'cannot log to "x.trc": unsupported suffix ".trc"; supported: .log (candump -L), .asc (Vector ASC), .blf (Vector BLF), .mcap (MCAP)',
      ],
      [['--bogus'], "unknown option '--bogus'"],
    ]
    const dir = tempDir()
    // side by side: one node start after another outlasts the test timeout on a busy machine
    const results = await Promise.all(
      cases.map(async ([args, message]) => {
        const p = dump(args, dir)
        return { args, message, code: await p.exited, stderr: p.stderr }
      }),
    )
    for (const { args, message, code, stderr } of results) {
      expect(code, args.join(' ')).toBe(2)
      expect(stderr, args.join(' ')).toContain(message)
    }
  }, 120_000)

  it('a port in use: exit status 3, saying so', async () => {
    const first = dump(LOCAL)
    const port = await first.port()
    const second = dump(['--host', '127.0.0.1', '--port', String(port)])
    expect(await second.exited).toBe(3)
    expect(second.stderr).toMatch(/EADDRINUSE/)
    await first.interrupt()
  })

  it('-T stops after that long without a frame; --names channel prints edge/interface', async () => {
    const p = dump([...LOCAL, '-L', '-T', '700', '--names', 'channel'])
    const edge = await connectEdge(p)
    edge.sendFrames(0, 0, FRAMES.slice(0, 1))
    expect(await p.exited).toBe(0)
    expect(p.stdout).toBe('(1700000000.000001) pi/can0 123#DEADBEEF\n')
    expect(p.stderr).toMatch(/canbridge dump: 1 frames, 0 lost\n/)
  })

  it('prints 200,000 frames in order, none lost, at the rate the link brings them', async () => {
    const count = 200_000
    const p = dump([...LOCAL, '-L', '-n', String(count)])
    const edge = await connectEdge(p)
    const started = performance.now()
    await edge.stream(0, 0, count, 2000)
    expect(await p.exited).toBe(0)
    const seconds = (performance.now() - started) / 1000
    console.log(
      `canbridge dump -L: ${count} frames in ${seconds.toFixed(2)} s (${Math.round(count / seconds)} frames/s)`,
    )
    const lines = p.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(count)
    lines.forEach((line, seq) => {
      const data = Buffer.from(line.slice(line.indexOf('#') + 1), 'hex')
      if (sequenceOf(data) !== seq) throw new Error(`line ${seq + 1}: ${line}`)
    })
  }, 60_000)

  it('stops cleanly when the reader of stdout goes away (| head)', async () => {
    const p = dump([...LOCAL, '-L'])
    const edge = await connectEdge(p)
    edge.sendFrames(0, 0, FRAMES.slice(0, 1))
    await p.waitForStdout((text) => text.includes('\n'))
    p.child.stdout!.destroy()
    await edge.stream(0, 1, 5000, 500)
    expect(await p.exited).toBe(0)
    expect(p.stderr).toMatch(/canbridge dump: \d+ frames/)
  })
})
