// `canbridge play` as a process: it listens, a scripted edge connects over loopback TCP and
// receives the TRANSMITs; the frames, their channel, their timing (as the log has it, scaled,
// or back to back), loops, assignments, failures and the exit status are checked.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { FRAME_FLAG, type Transmit, type TransmitResult } from '@canbridge/protocol'
import type { ScriptedEdgeOptions } from '@canbridge/server-bus/testing'
import { describe, expect, it } from 'vitest'
import { type CliProcess, connectEdge, startCli } from './support/cli-session.ts'
import { lines, tempDir } from './support/helpers.ts'

const LOCAL = ['--host', '127.0.0.1', '--port', '0']

const play = (args: string[], stdin?: string) =>
  startCli(['play', ...args], stdin === undefined ? {} : { stdin })

interface Arrival {
  atMs: number
  channel: number
  frame: string
}

/** An edge that records each TRANSMIT with its arrival time; `answer` may fail some. */
async function edgeFor(
  p: CliProcess,
  options: ScriptedEdgeOptions = {},
  answer?: (t: Transmit, index: number) => TransmitResult,
): Promise<Arrival[]> {
  const arrivals: Arrival[] = []
  await connectEdge(p, {
    ...options,
    onTransmit: (t) => {
      const f = t.frame
      arrivals.push({
        atMs: performance.now(),
        channel: t.channel,
        frame: `${f.id.toString(16)} flags=${f.flags} len=${f.len} ${Buffer.from(f.data).toString('hex')}`,
      })
      return answer?.(t, arrivals.length - 1) ?? { requestId: t.requestId, ok: true }
    },
  })
  return arrivals
}

function logFile(lines: string[], name = 'drive.log'): string {
  const path = join(tempDir(), name)
  writeFileSync(path, `${lines.join('\n')}\n`)
  return path
}

const TIMED = [
  '(1700000000.000000) can0 123#DEADBEEF',
  '(1700000000.200000) can0 12345678#R4',
  '(1700000000.500000) can0 7FF##5000102030405060708090A0B',
]

describe('canbridge play', () => {
  it("sends the log's frames with its timing onto the interface they were logged on", async () => {
    const p = play([logFile(TIMED), ...LOCAL, '-v'])
    const arrivals = await edgeFor(p)
    expect(await p.exited).toBe(0)
    // -v: each frame once the edge took it, as canplayer -v names the interfaces
    expect(p.stdout).toBe(
      lines(
        'pi/can0 (can0) 123#DEADBEEF',
        'pi/can0 (can0) 12345678#R4',
        'pi/can0 (can0) 7FF##5000102030405060708090A0B',
      ),
    )
    const { EXT, RTR, FD, BRS } = FRAME_FLAG
    expect(arrivals.map((a) => [a.channel, a.frame])).toEqual([
      [0, '123 flags=0 len=4 deadbeef'],
      [0, `12345678 flags=${EXT | RTR} len=4 `],
      [0, `7ff flags=${FD | BRS} len=12 000102030405060708090a0b`],
    ])
    // the schedule itself (200 and 500 ms, exactly) is checked against a fake clock in
    // replay.test.ts; here only that the frames came in the log's order
    const since = arrivals.map((a) => a.atMs - arrivals[0]!.atMs)
    expect(since).toEqual([...since].sort((a, b) => a - b))
    expect(p.stderr).toMatch(/canbridge play: edge pi connected from 127\.0\.0\.1:\d+: pi\/can0\n/)
    expect(p.stderr).toMatch(
      /canbridge play: 3 frames sent, 0 failed from .*drive\.log in \d+\.\d\d s\n/,
    )
  })

  it('--speed 10 and -t play every frame (their timing: replay.test.ts, on a fake clock)', async () => {
    const fast = play([logFile(TIMED), ...LOCAL, '--speed', '10'])
    const timed = await edgeFor(fast)
    expect(await fast.exited).toBe(0)
    expect(timed).toHaveLength(3)

    const burst = play([logFile(TIMED), ...LOCAL, '-t'])
    const untimed = await edgeFor(burst)
    expect(await burst.exited).toBe(0)
    expect(untimed).toHaveLength(3)
  })

  it('-s skips long pauses; --loop plays the file again; assignments map and skip interfaces', async () => {
    const path = logFile([
      '(1700000000.000000) vcan0 001#01',
      '(1700000000.010000) vcan1 002#02',
      '(1700000030.000000) vcan0 003#03', // 30 s later
    ])
    const p = play([path, 'can1=vcan0', ...LOCAL, '-s', '1', '--loop', '2'])
    const arrivals = await edgeFor(p, {
      channels: [
        { name: 'can0', fd: false },
        { name: 'can1', fd: false },
      ],
    })
    expect(await p.exited).toBe(0)
    expect(arrivals.map((a) => [a.channel, a.frame])).toEqual([
      [1, '1 flags=0 len=1 01'],
      [1, '3 flags=0 len=1 03'],
      [1, '1 flags=0 len=1 01'],
      [1, '3 flags=0 len=1 03'],
    ])
    expect(p.stderr).toMatch(
      /4 frames sent, 0 failed, 2 skipped \(log interfaces not assigned\) from .* in 0\.\d\d s, 2 passes\n/,
    )
  })

  it('a frame the edge cannot send: named on stderr, counted, exit status 1', async () => {
    const path = logFile(TIMED)
    const p = play([path, ...LOCAL, '-t'])
    await edgeFor(p, {}, (t, i) =>
      i === 1
        ? { requestId: t.requestId, ok: false, error: 'tx-queue-full', message: 'queue full' }
        : { requestId: t.requestId, ok: true },
    )
    expect(await p.exited).toBe(1)
    expect(p.stderr).toContain(`${path}:2: not sent to pi/can0: `)
    expect(p.stderr).toMatch(/2 frames sent, 1 failed \(1 tx-queue-full\) from/)
  })

  it('stdin (-) and stdout=<log-if>: prints the frames of that interface', async () => {
    const p = play(['-', 'stdout=can0', ...LOCAL, '-t'], `${TIMED.join('\n')}\n`)
    await edgeFor(p)
    expect(await p.exited).toBe(0)
    expect(p.stdout).toBe(`${TIMED.join('\n')}\n`)
    expect(p.stderr).toMatch(/0 frames sent, 0 failed, 3 printed from stdin/)
  })

  it('a log interface no channel has: exit status 2, saying how to map it', async () => {
    const p = play([logFile(['(1.000000) vcan7 001#01']), ...LOCAL])
    await edgeFor(p)
    expect(await p.exited).toBe(2)
    expect(p.stderr).toContain(
      "the log's interface vcan7 has no channel on the bus (channels: pi/can0); send it to one with <channel>=vcan7, e.g. can0=vcan7",
    )
  })

  it('a malformed line: exit status 3, naming file:line, before anything is sent or listened for', async () => {
    const path = logFile(['(1.000000) can0 001#01', '(1.000001) can0 001#0'])
    const p = play([path, ...LOCAL, '-t'])
    expect(await p.exited).toBe(3)
    expect(p.stderr).toContain(
      `${path}:2: bad data "0": "(1.000001) can0 001#0"; nothing was sent (--no-check sends the lines before it)`,
    )
    expect(p.stderr).not.toMatch(/listening on/)
  })

  it('--no-check streams the file: what was before a malformed line is sent', async () => {
    const path = logFile(['(1.000000) can0 001#01', '(1.000001) can0 001#0'])
    const p = play([path, ...LOCAL, '-t', '--no-check'])
    const arrivals = await edgeFor(p)
    expect(await p.exited).toBe(3)
    expect(arrivals).toHaveLength(1)
    expect(p.stderr).toContain(`${path}:2: bad data "0": "(1.000001) can0 001#0"`)
  })

  it('an edge that confirms frames after --send-timeout (busy, or paused and resumed): sent, exit 0', async () => {
    const path = logFile(TIMED)
    const p = play([path, ...LOCAL, '-t', '--send-timeout', '100'])
    const late: (() => void)[] = []
    const edge = await connectEdge(p, {
      // the frame went out at the end of its ttl, which the edge counts from when it read the
      // TRANSMIT: its result comes after the sender's clock ran out
      onTransmit: (t) => {
        late.push(() => edge.sendControl('TRANSMIT_RESULT', { requestId: t.requestId, ok: true }))
        return undefined
      },
    })
    while (late.length < 3) await new Promise((resolve) => setTimeout(resolve, 10))
    await new Promise((resolve) => setTimeout(resolve, 400))
    for (const answer of late) answer()
    expect(await p.exited).toBe(0)
    expect(p.stderr).toMatch(/3 frames sent, 0 failed from/)
  })

  it('no edge within --wait: exit status 3', async () => {
    const p = play([logFile(TIMED), ...LOCAL, '--wait', '0.3'])
    expect(await p.exited).toBe(3)
    expect(p.stderr).toContain('no edge connected within 300 ms')
  })

  it('--help shows defaults as typed, (default: 1), and --no-check', async () => {
    const p = play(['--help'])
    expect(await p.exited).toBe(0)
    const help = p.stdout.replace(/\s+/g, ' ')
    expect(help).toContain(
      '--speed <factor> play the log this many times faster (0.5: half speed) (default: 1)',
    )
    expect(help).toContain('--wait <seconds> how long to wait for the edge (default: 30)')
    expect(p.stdout).toContain('--no-check')
    expect(p.stdout).not.toMatch(/default: "/)
  })

  it('bad command lines: exit status 2 and what to fix', async () => {
    const path = logFile(TIMED)
    const cases: [string[], string][] = [
      [[path, '-g', '5'], '-g sets the gap between frames with -t'],
      [
        [path, '-t', '--speed', '2'],
        '-t ignores the timestamps: --speed and -s apply only without it',
      ],
      [[path, '--speed', '0'], '--speed must be a number > 0 and at most 1000000, got "0"'],
      [[path, '--speed', '1e9'], '--speed must be a number > 0 and at most 1000000, got "1e9"'],
      [[path, '--wait', '1e9'], '--wait must be a number > 0 and at most 86400, got "1e9"'],
      [[path, '--loop', 'x'], '--loop must be an integer from 1 to 1000000, got "x"'],
      [['-', '--loop', '2'], '--loop needs a file: stdin can be read only once'],
      [[path, 'can0'], 'bad assignment "can0": expected <channel>=<log interface>'],
      [
        ['drive.txt'],
        'cannot read "drive.txt": unsupported suffix ".txt"; supported: .log (candump -L), .blf (Vector BLF), .mcap (MCAP)',
      ],
      [
        [path, 'can0=vcan0', 'can1=vcan0'],
        'log interface vcan0 is assigned twice: give it one channel',
      ],
      [[], "missing required argument 'file'"],
    ]
    // the processes run side by side: nine node starts one after the other outlast the test
    // timeout on a busy machine
    const results = await Promise.all(
      cases.map(async ([args, message]) => {
        const p = play(args)
        return { args, message, code: await p.exited, stderr: p.stderr }
      }),
    )
    for (const { args, message, code, stderr } of results) {
      expect(stderr, args.join(' ')).toContain(message)
      expect(code, args.join(' ')).toBe(2)
    }
  }, 120_000)

  it('a missing file: exit status 3, naming it', async () => {
    const path = join(tempDir(), 'missing.log')
    const p = play([path])
    expect(await p.exited).toBe(3)
    expect(p.stderr).toContain(`ENOENT: no such file or directory, access '${path}'`)
  })
})
