// LogReader on real files and streams: every line split at every chunk boundary, comments and
// DROPCOUNT lines, errors naming file:line, bad suffixes, and a large file in bounded memory.
import { spawnSync } from 'node:child_process'
import { createWriteStream, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { LogParseError, LogReader, openLogWriter } from '../../src/index.ts'
import { CANDUMP_L } from './can-utils-output.ts'
import { hex, readText, tempDir } from './helpers.ts'
import { sampleFrames } from './support/sample-frames.ts'

const READER_MODULE = new URL('../../src/logs/log-reader.ts', import.meta.url).href

async function collect(reader: LogReader): Promise<string[]> {
  const out: string[] = []
  for await (const m of reader)
    out.push(`${m.channel} ${m.arbitrationId.toString(16)} ${hex(m.data)}`)
  return out
}

describe('LogReader', () => {
  it('reads a .log file from disk', async () => {
    const path = join(tempDir(), 'capture.log')
    writeFileSync(path, CANDUMP_L)
    const reader = new LogReader(path)
    const lines = await collect(reader)
    expect(lines).toHaveLength(18)
    expect(lines[0]).toBe('vcan0 123 deadbeef')
    expect(reader.line).toBe(18)
  })

  it('gives the same messages whatever the chunks: every split point of the text', async () => {
    const text = CANDUMP_L.split('\n').slice(0, 6).join('\r\n')
    const whole = (await readText(text)).map((m) => m.toString())
    expect(whole).toHaveLength(6)
    for (let at = 1; at < text.length; at++) {
      const chunks = [text.slice(0, at), text.slice(at)]
      const messages: string[] = []
      for await (const m of new LogReader(Readable.from(chunks))) messages.push(m.toString())
      expect(messages, `split at ${at}`).toEqual(whole)
    }
    const bytes: string[] = []
    for await (const m of new LogReader(Readable.from(text.split('')))) bytes.push(m.toString())
    expect(bytes).toEqual(whole)
  })

  it('skips lines that do not start with "(" (canplayer does), counts DROPCOUNT lines', async () => {
    const reader = new LogReader(
      Readable.from([
        '# recorded on the bench\n',
        '\n',
        '(1700000000.000001) can0 001#01\n',
        "DROPCOUNT: dropped 3 CAN frames on 'can0' socket (total drops 3)\n",
        "DROPCOUNT: dropped 1 CAN frame on 'can0' socket (total drops 4)\n",
        '(1700000000.000002)  can1 002#02 R\n', // candump pads names to the longest
        '(1700000000.000003) can0 003#03', // no newline at the end
      ]),
    )
    expect(await collect(reader)).toEqual(['can0 1 01', 'can1 2 02', 'can0 3 03'])
    expect(reader.drops).toBe(4)
    expect(reader.line).toBe(7)
  })

  it('a bad line stops it with a LogParseError naming file:line, what is wrong and the line', async () => {
    const path = join(tempDir(), 'bad.log')
    writeFileSync(path, '(1.000000) can0 123#11\n(1.000001) can0 800#11\n(1.000002) can0 123#11\n')
    const reader = new LogReader(path)
    const seen: number[] = []
    const error = await (async () => {
      for await (const m of reader) seen.push(m.arbitrationId)
    })().catch((e: unknown) => e)
    expect(seen).toEqual([0x123])
    expect(error).toBeInstanceOf(LogParseError)
    expect(error).toMatchObject({
      name: 'LogParseError',
      file: path,
      line: 2,
      reason: 'standard id 800 above 7FF',
      text: '(1.000001) can0 800#11',
    })
    expect((error as Error).message).toBe(
      `${path}:2: standard id 800 above 7FF: "(1.000001) can0 800#11"`,
    )
  })

  it('names each kind of malformed line', async () => {
    const cases: [string, RegExp][] = [
      ['(1.00000) can0 123#11', /not "\(seconds.microseconds\) interface frame"/],
      ['(1.000000) can0', /not "\(seconds.microseconds\) interface frame"/],
      ['(1.000000) can0 123#11 X', /unexpected "X" after the frame \(candump -x writes R or T\)/],
      ['(1.000000) can0 123#1', /bad data "1"/],
      ['DROPCOUNT: lots', /not candump's DROPCOUNT line/],
    ]
    for (const [line, reason] of cases) {
      const error = await collect(
        new LogReader(Readable.from([`${line}\n`]), { name: 'x.log' }),
      ).catch((e: unknown) => e)
      expect(error, line).toBeInstanceOf(LogParseError)
      expect((error as LogParseError).message, line).toMatch(/^x\.log:1: /)
      expect((error as LogParseError).reason, line).toMatch(reason)
    }
  })

  it('refuses a path with a suffix it does not read, listing what it reads', () => {
    expect(() => new LogReader('capture.asc')).toThrow(
      'cannot read "capture.asc": unsupported suffix ".asc"; supported: .log (candump -L), .blf (Vector BLF), .mcap (MCAP)',
    )
    expect(() => new LogReader('capture')).toThrow(
      'no suffix; supported: .log (candump -L), .blf (Vector BLF), .mcap (MCAP)',
    )
    expect(new LogReader('CAPTURE.LOG').name).toBe('CAPTURE.LOG')
  })

  it('says how far it has read (bytesRead, for a progress bar) in every format', async () => {
    const frames = sampleFrames(40_000, ['pi/can0', 'pi/can1'])
    const dir = tempDir()
    for (const name of ['progress.log', 'progress.blf', 'progress.mcap']) {
      const path = join(dir, name)
      const writer = openLogWriter(path, { compression: 'none', compressionLevel: 0 })
      for (const frame of frames) await writer.onMessage(frame)
      await writer.stop()
      const size = statSync(path).size
      const reader = new LogReader(path)
      const seen: number[] = []
      let count = 0
      for await (const _ of reader) if (count++ % 1000 === 0) seen.push(reader.bytesRead)
      expect(count, name).toBe(frames.length)
      expect(
        seen.every((bytes, i) => i === 0 || bytes >= seen[i - 1]!),
        name,
      ).toBe(true)
      expect(
        seen.some((bytes) => bytes > 0 && bytes < size),
        name,
      ).toBe(true)
      expect(reader.bytesRead, name).toBe(size)
    }
  }, 60_000)

  it('a missing file fails on reading, naming it', async () => {
    const path = join(tempDir(), 'missing.log')
    await expect(collect(new LogReader(path))).rejects.toThrow(`cannot read ${path}: ENOENT`)
  })

  it('streams a 1,000,000-line file in bounded memory', async () => {
    const path = join(tempDir(), 'big.log')
    const out = createWriteStream(path)
    const lines = 1_000_000
    for (let i = 0; i < lines; i += 1000) {
      let chunk = ''
      for (let j = i; j < i + 1000; j++) {
        const us = String(j % 1_000_000).padStart(6, '0')
        chunk += `(1700000000.${us}) can0 ${(j & 0x7ff).toString(16).toUpperCase().padStart(3, '0')}#0011223344556677\n`
      }
      if (!out.write(chunk))
        await new Promise<void>((resolve) => out.once('drain', () => resolve()))
    }
    await new Promise<void>((resolve) => out.end(resolve))
    // A reader in a process whose heap cannot hold the file (~47 MB of text, ~200 MB as
    // messages): it gets through only if it keeps nothing but the chunk it is on.
    const script = `
      const { LogReader } = await import(${JSON.stringify(READER_MODULE)})
      let count = 0
      const started = performance.now()
      for await (const m of new LogReader(${JSON.stringify(path)})) {
        if (m.arbitrationId !== (count & 0x7ff)) throw new Error('frame ' + count + ': wrong id')
        count++
      }
      const seconds = (performance.now() - started) / 1000
      console.log(JSON.stringify({ count, seconds, rssMb: process.memoryUsage().rss / 1e6 }))
    `
    const result = spawnSync(
      process.execPath,
      ['--max-old-space-size=24', '--max-semi-space-size=2', '--input-type=module', '-e', script],
      { encoding: 'utf8' },
    )
    expect(result.stderr).toBe('')
    expect(result.status).toBe(0)
    const { count, seconds, rssMb } = JSON.parse(result.stdout) as Record<string, number>
    console.log(
      `LogReader: ${count} lines in ${seconds!.toFixed(2)} s (${Math.round(count! / seconds!)} lines/s) with a 24 MB old-space limit, RSS ${rssMb!.toFixed(0)} MB`,
    )
    expect(count).toBe(lines)
  }, 120_000)
})
