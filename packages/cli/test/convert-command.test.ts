// canbridge convert in a child process on real files: candump's own log through BLF and MCAP
// back to the same bytes, a DBC's signals into MCAP (checked by the standard-library MCAP
// reader of server-bus's tests), a truncated BLF converted up to its break, the command line's
// mistakes; and in-process, the progress bar on a terminal.
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { BLFWriter, CanMessage } from '@canbridge/server-bus'
import { describe, expect, it } from 'vitest'
import { pythonWith, runPython } from '../../server-bus/test/logs/support/python.ts'
import { runConvert } from '../src/convert-command.ts'
import { startCli } from './support/cli-session.ts'
import { lines, tempDir } from './support/helpers.ts'

const CANDUMP_L = readFileSync(new URL('./fixtures/candump-L.log', import.meta.url), 'utf8')
const MCAP_CHECK = new URL('../../server-bus/test/logs/support/mcap_check.py', import.meta.url)
  .pathname

async function convert(args: string[], cwd?: string) {
  const p = startCli(['convert', ...args], { cwd })
  const status = await p.exited
  return { status, stdout: p.stdout, stderr: p.stderr }
}

describe('canbridge convert', () => {
  it("candump's log through BLF and MCAP comes back byte for byte; a summary line, no bar off a terminal", async () => {
    const dir = tempDir()
    const log = join(dir, 'candump.log')
    writeFileSync(log, CANDUMP_L)
    const blf = join(dir, 'trip.blf')
    const mcap = join(dir, 'trip.mcap')
    const back = join(dir, 'back.log')
    const first = await convert([log, blf, '--channels', 'vcan0'])
    expect(first.stderr).toMatch(
      new RegExp(`^canbridge convert: 18 frames from ${log} into ${blf} in \\d+\\.\\d\\d s\\n$`),
    )
    expect(first.status).toBe(0)
    expect((await convert([blf, mcap, '--channels', 'vcan0'])).status).toBe(0)
    const last = await convert([mcap, back])
    expect(last.status).toBe(0)
    expect(last.stdout).toBe('')
    expect(readFileSync(back, 'utf8')).toBe(CANDUMP_L)
  }, 60_000)

  it('--dbc: decoded signals beside the raw frames in the MCAP file', async () => {
    const dir = tempDir()
    const dbc = join(dir, 'car.dbc')
    writeFileSync(
      dbc,
      [
        'VERSION ""',
        '',
        'BO_ 256 EngineData: 2 Engine',
        ' SG_ Speed : 0|8@1+ (0.5,0) [0|127.5] "km/h" Vector__XXX',
        ' SG_ Gear : 8|8@1+ (1,0) [0|255] "" Vector__XXX',
        '',
        'VAL_ 256 Gear 0 "P" 1 "D" ;',
        '',
      ].join('\n'),
    )
    const log = join(dir, 'drive.log')
    writeFileSync(
      log,
      lines(
        '(1700000000.000001) can0 100#6401',
        '(1700000000.000002) can0 100#65', // too short for EngineData: recorded raw, noted
        '(1700000000.000003) can0 7FF#',
        '(1700000000.000004) can0 100#6600',
      ),
    )
    const mcap = join(dir, 'drive.mcap')
    const result = await convert([log, mcap, '--dbc', dbc])
    expect(result.status).toBe(0)
    expect(result.stderr).toMatch(/1 frames did not fit the DBC \(recorded raw only\)/)
    const checked = JSON.parse(
      await runPython(pythonWith('json, zlib, zstandard', 'python3-zstandard'), [MCAP_CHECK, mcap]),
    ) as { messages: { topic: string; log_time: string; data: Record<string, unknown> }[] }
    expect(checked.messages.filter((m) => m.topic === '/can/can0')).toHaveLength(4)
    expect(
      checked.messages
        .filter((m) => m.topic === '/can/can0/EngineData')
        .map((m) => [m.log_time, m.data]),
    ).toEqual([
      ['1700000000000001000', { Speed: 50, Gear: 'D' }],
      ['1700000000000004000', { Speed: 51, Gear: 'P' }],
    ])
  }, 60_000)

  it('a truncated BLF is converted up to its break: exit 3, where it broke, the frames before it', async () => {
    const dir = tempDir()
    const blf = join(dir, 'cut.blf')
    const writer = new BLFWriter(blf, { containerSize: 4096, channels: ['can0'] })
    for (let i = 0; i < 5000; i++) {
      await writer.onMessage(
        new CanMessage({
          timestampNs: 1_700_000_000_000_000_000n + BigInt(i) * 1000n,
          arbitrationId: i & 0x7ff,
          isExtendedId: false,
          data: [i & 0xff, i >> 8],
          channel: 'can0',
        }),
      )
    }
    await writer.stop()
    truncateSync(blf, Math.floor(statSync(blf).size * 0.6))
    const log = join(dir, 'cut.log')
    const result = await convert([blf, log, '--channels', 'can0'])
    expect(result.status).toBe(3)
    expect(result.stderr).toMatch(
      /byte \d+, after \d+ objects: the file ends inside the log container/,
    )
    const count = Number(
      /: (\d+) frames from .* every frame before the break/.exec(result.stderr)?.[1],
    )
    expect(count).toBeGreaterThan(2500)
    const written = readFileSync(log, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
    expect(written).toHaveLength(count)
    expect(written.at(-1)).toMatch(/^\(1700000000\.\d{6}\) can0 [0-9A-F]{3}#[0-9A-F]{4}$/)
  }, 60_000)

  it('bad command lines: exit status 2 and what to fix', async () => {
    const dir = tempDir()
    const log = join(dir, 'in.log')
    writeFileSync(log, CANDUMP_L)
    const exists = join(dir, 'exists.asc')
    writeFileSync(exists, 'keep me')
    const cases: [string[], string][] = [
      [['in.trc', 'out.log'], 'cannot read "in.trc": unsupported suffix ".trc"; supported: .log'],
      [[log, 'out.txt'], 'cannot write "out.txt": unsupported suffix ".txt"; supported: .log'],
      [[log, 'out.log', '--dbc', 'car.dbc'], '--dbc needs an .mcap output'],
      [[log, exists], `${exists} exists: give --force to overwrite it`],
      [[log, log], `${log} is the input file: give another output`],
      [[log, 'x.blf', '--channels', 'a,,b'], '--channels has an empty name: "a,,b"'],
    ]
    for (const [args, message] of cases) {
      const result = await convert(args, dir)
      expect(result.status, args.join(' ')).toBe(2)
      expect(result.stderr, args.join(' ')).toContain(message)
    }
    expect(readFileSync(exists, 'utf8')).toBe('keep me')
    const missing = await convert([join(dir, 'none.blf'), join(dir, 'out.log')])
    expect(missing.status).toBe(3)
    expect(missing.stderr).toMatch(/cannot read .*none\.blf: ENOENT/)
  }, 60_000)

  it('on a terminal: a progress bar on stderr, then the summary', async () => {
    const dir = tempDir()
    const log = join(dir, 'in.log')
    writeFileSync(log, CANDUMP_L.repeat(2000))
    const stderr = Object.assign(new PassThrough(), { isTTY: true, columns: 100 })
    let text = ''
    stderr.on('data', (chunk: Buffer) => {
      text += chunk.toString()
    })
    const status = await runConvert(
      {
        input: log,
        output: join(dir, 'out.mcap'),
        channels: undefined,
        dbcFile: undefined,
        force: false,
        quiet: false,
      },
      { stdout: new PassThrough(), stderr },
    )
    expect(status).toBe(0)
    expect(text).toMatch(/converting \[.*\] \d+% \| \d+\/\d+ bytes/)
    expect(text).toMatch(/canbridge convert: 36000 frames from .* in \d+\.\d\d s\n$/)
  }, 60_000)
})
