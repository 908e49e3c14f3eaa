// MCAP: what MCAPWriter writes, checked by a reader written here from the published spec in
// Python's standard library (support/mcap_check.py: magic, records, chunk CRCs, message and
// chunk indexes, statistics, summary offsets, footer CRC), which shares no code with
// @mcap/core; then read back by MCAPReader; decoded signals beside the raw frames; files that
// break; the factories and a live bus into a .mcap file.
import { spawnSync } from 'node:child_process'
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  type CanMessage,
  LogFormatError,
  MCAPReader,
  MCAPWriter,
  type MCAPWriterOptions,
  openLogWriter,
  type SignalDecoder,
} from '../../src/index.ts'
import { tempDir } from './helpers.ts'
import { recordAndReadBack } from './support/live-recording.ts'
import { pythonWith, runPython } from './support/python.ts'
import { expectSameList } from './support/same-list.ts'
import { sampleFrames } from './support/sample-frames.ts'
import { writeAndReadInSmallHeap } from './support/small-heap.ts'

const CHECKER = new URL('./support/mcap_check.py', import.meta.url).pathname
const BUSES = ['pi-garage/can0', 'pi-garage/can1', null]

interface Checked {
  messages: {
    topic: string
    metadata: Record<string, string>
    log_time: string
    schema: string
    data: Record<string, unknown>
  }[]
  statistics: { message_count: number; chunk_count: number; channel_count: number }
  chunks: { compression: string }[]
  summary: Record<string, number>
}

async function check(path: string): Promise<Checked> {
  const python = pythonWith('json, zlib, zstandard', 'python3-zstandard')
  return JSON.parse(await runPython(python, [CHECKER, path])) as Checked
}

/** python-can's Message fields, as the JSON of a frame must carry them. */
function pythonCanFields(m: CanMessage) {
  return {
    timestamp: m.timestamp,
    arbitration_id: m.arbitrationId,
    is_extended_id: m.isExtendedId,
    is_remote_frame: m.isRemoteFrame,
    is_error_frame: m.isErrorFrame,
    channel: m.channel,
    dlc: m.dlc,
    data: [...m.data],
    is_fd: m.isFd,
    is_rx: m.isRx,
    bitrate_switch: m.bitrateSwitch,
    error_state_indicator: m.errorStateIndicator,
  }
}

async function writeMcap(
  path: string,
  frames: CanMessage[],
  options: MCAPWriterOptions = {},
): Promise<MCAPWriter> {
  const writer = new MCAPWriter(path, options)
  for (const frame of frames) await writer.onMessage(frame)
  await writer.stop()
  return writer
}

async function readAll(reader: AsyncIterable<CanMessage>): Promise<CanMessage[]> {
  const out: CanMessage[] = []
  for await (const m of reader) out.push(m)
  return out
}

/** A decoder for the tests: id 0x100 has two signals, 0x200 is "malformed" (it throws). */
const decoder: SignalDecoder = {
  decode(message) {
    if (message.arbitrationId === 0x200) throw new RangeError('0x200: wrong length')
    if (message.arbitrationId !== 0x100 || message.data.length < 2) return undefined
    return {
      name: 'EngineData',
      signals: {
        Speed: message.data[0]! * 0.5,
        Gear: message.data[1]! > 127 ? 'P' : 'D',
        // 64-bit values: a number while exact, else the decimal string (JSON has no int64)
        Count: BigInt(message.data[0]!),
        Odometer: 2n ** 60n + BigInt(message.data[0]!),
      },
    }
  },
}

describe('MCAP: checked by an independent reader of the spec', () => {
  it('one channel per bus, every frame with python-can fields, chunked (zstd) and indexed', async () => {
    const frames = sampleFrames(10_000, BUSES)
    const path = join(tempDir(), 'trip.mcap')
    const writer = await writeMcap(path, frames, { chunkSize: 32 * 1024 })
    expect(writer.count).toBe(frames.length)
    const checked = await check(path)
    expectSameList(
      checked.messages.map((m) => ({ topic: m.topic, logTime: m.log_time, fields: m.data })),
      frames.map((m) => ({
        topic: m.channel === null ? '/can' : `/can/${m.channel}`,
        logTime: m.timestampNs.toString(),
        fields: pythonCanFields(m),
      })),
      'message',
    )
    expect(new Set(checked.messages.map((m) => m.schema))).toEqual(new Set(['canbridge.CanFrame']))
    expect(checked.messages[0]!.metadata).toEqual({ channel: 'pi-garage/can0' })
    expect(checked.statistics).toMatchObject({ message_count: frames.length, channel_count: 3 })
    expect(checked.statistics.chunk_count).toBeGreaterThanOrEqual(10)
    expect(new Set(checked.chunks.map((c) => c.compression))).toEqual(new Set(['zstd']))
    expect(checked.summary).toMatchObject({ Schema: 1, Channel: 3, Statistics: 1 })
    expect(checked.summary['ChunkIndex']).toBe(checked.statistics.chunk_count)
  }, 120_000)

  it('the checker can fail: it rejects a changed byte in a chunk and a chunk index that lies', async () => {
    const path = join(tempDir(), 'changed.mcap')
    await writeMcap(path, sampleFrames(2000, BUSES), { compression: 'none', chunkSize: 16 * 1024 })
    const good = readFileSync(path)
    const changed = Buffer.from(good)
    changed[Math.floor(good.length / 3)]! ^= 0x01
    writeFileSync(path, changed)
    await expect(check(path)).rejects.toThrow(/mcap_check: .*(CRC|length|index)/)
    // a chunk index (opcode 0x08) whose message_start_time is one later: its summary CRC off too
    const lying = Buffer.from(good)
    const summaryStart = Number(lying.readBigUInt64LE(lying.length - 8 - 20))
    let at = summaryStart
    while (lying[at] !== 0x08) at += 9 + Number(lying.readBigUInt64LE(at + 1))
    lying.writeBigUInt64LE(lying.readBigUInt64LE(at + 9) + 1n, at + 9)
    writeFileSync(path, lying)
    await expect(check(path)).rejects.toThrow(/mcap_check: footer: summary CRC mismatch/)
    lying.writeUInt32LE(0, lying.length - 8 - 4) // no summary CRC: the index itself is checked
    writeFileSync(path, lying)
    await expect(check(path)).rejects.toThrow(/mcap_check: chunk index for \d+: wrong times/)
  }, 60_000)

  it('an empty recording is a valid, indexed file', async () => {
    const path = join(tempDir(), 'empty.mcap')
    await new MCAPWriter(path).stop()
    const checked = await check(path)
    expect(checked.messages).toEqual([])
    expect(checked.statistics).toMatchObject({ message_count: 0, chunk_count: 0 })
    expect(await readAll(new MCAPReader(path))).toEqual([])
  }, 60_000)

  it('MCAPReader reads it back exactly, times to the nanosecond', async () => {
    const frames = sampleFrames(5000, BUSES)
    const path = join(tempDir(), 'back.mcap')
    await writeMcap(path, frames, { chunkSize: 16 * 1024 })
    const reader = new MCAPReader(path)
    const back = await readAll(reader)
    expectSameList(
      back.map((m) => m.toJSON()),
      frames.map((m) => m.toJSON()),
      'frame',
    )
    expect(reader.chunks).toBeGreaterThan(5)
  })

  it('uncompressed chunks on request, which the checker reads too', async () => {
    const frames = sampleFrames(2000, BUSES)
    const path = join(tempDir(), 'plain.mcap')
    await writeMcap(path, frames, { compression: 'none', chunkSize: 32 * 1024 })
    const checked = await check(path)
    expect(checked.messages).toHaveLength(frames.length)
    expect(new Set(checked.chunks.map((c) => c.compression))).toEqual(new Set(['']))
  }, 60_000)

  it('decoded signals: a channel per bus and message beside the raw frames; a frame the decoder throws on is a count, not a stop', async () => {
    const T = 1_700_000_000_000_000_000n
    const frame = (i: number, id: number, data: number[], channel = 'pi/can0') => ({
      timestampNs: T + BigInt(i) * 1_000_000n,
      arbitrationId: id,
      isExtendedId: false,
      data,
      channel,
    })
    const { CanMessage } = await import('../../src/index.ts')
    const frames = [
      frame(0, 0x100, [100, 3]),
      frame(1, 0x200, [1]),
      frame(2, 0x100, [101, 200], 'pi/can1'),
      frame(3, 0x7ff, []),
      frame(4, 0x100, [102, 0]),
    ].map((options) => new CanMessage(options))
    const path = join(tempDir(), 'signals.mcap')
    const writer = await writeMcap(path, frames, { decoder })
    expect(writer.decodeErrors).toBe(1)
    expect(writer.lastDecodeError?.message).toBe('0x200: wrong length')
    const checked = await check(path)
    const signals = checked.messages.filter((m) => m.schema !== 'canbridge.CanFrame')
    expect(signals.map((m) => [m.topic, m.schema, m.log_time, m.data])).toEqual([
      [
        '/can/pi/can0/EngineData',
        'canbridge.signals.EngineData',
        String(T),
        { Speed: 50, Gear: 'D', Count: 100, Odometer: '1152921504606847076' },
      ],
      [
        '/can/pi/can1/EngineData',
        'canbridge.signals.EngineData',
        String(T + 2_000_000n),
        { Speed: 50.5, Gear: 'P', Count: 101, Odometer: '1152921504606847077' },
      ],
      [
        '/can/pi/can0/EngineData',
        'canbridge.signals.EngineData',
        String(T + 4_000_000n),
        { Speed: 51, Gear: 'D', Count: 102, Odometer: '1152921504606847078' },
      ],
    ])
    // every raw frame is there, the one the decoder threw on included; the reader skips signals
    expect(checked.messages.filter((m) => m.schema === 'canbridge.CanFrame')).toHaveLength(5)
    const reader = new MCAPReader(path)
    expect((await readAll(reader)).map((m) => m.arbitrationId)).toEqual([
      0x100, 0x200, 0x100, 0x7ff, 0x100,
    ])
    expect(reader.messagesSkipped).toBe(3)
  }, 60_000)
})

describe('MCAP: reading in bounded memory, @mcap/core loaded only when needed', () => {
  it('streams a file of 300,000 frames in a 24 MB heap', async () => {
    const path = join(tempDir(), 'big.mcap')
    const frames = sampleFrames(3000, BUSES)
    await writeAndReadInSmallHeap('MCAP', path, new MCAPWriter(path), frames, 300_000)
  }, 120_000)

  it('importing the package does not load @mcap/core; opening an .mcap file does', () => {
    const index = new URL('../../src/index.ts', import.meta.url).href
    const path = join(tempDir(), 'lazy.mcap')
    const script = `
      import { registerHooks } from 'node:module'
      const loaded = []
      registerHooks({ resolve(specifier, context, next) { loaded.push(specifier); return next(specifier, context) } })
      const { openLogWriter } = await import(${JSON.stringify(index)})
      const before = loaded.includes('@mcap/core')
      const writer = openLogWriter(${JSON.stringify(path)})
      await writer.stop()
      console.log(JSON.stringify({ before, after: loaded.includes('@mcap/core') }))
    `
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
    })
    expect(result.stderr).toBe('')
    expect(JSON.parse(result.stdout)).toEqual({ before: false, after: true })
  })
})

describe('MCAP files that break', () => {
  async function readUntilError(path: string) {
    const got: CanMessage[] = []
    const error = await (async () => {
      for await (const m of new MCAPReader(path)) got.push(m)
    })().catch((e: unknown) => e)
    return { got, error: error as LogFormatError }
  }

  it('cut off (a recording never closed): the frames of the whole chunks, then where it ends', async () => {
    const frames = sampleFrames(5000, BUSES)
    const path = join(tempDir(), 'cut.mcap')
    await writeMcap(path, frames, { chunkSize: 16 * 1024 })
    const size = statSync(path).size
    truncateSync(path, Math.floor(size * 0.5))
    const { got, error } = await readUntilError(path)
    expect(error).toBeInstanceOf(LogFormatError)
    expect(error.reason).toMatch(/the file ends \(at byte \d+\) before the MCAP footer/)
    expect(error.objectIndex).toBe(got.length)
    expect(got.length).toBeGreaterThan(frames.length * 0.3)
    expectSameList(
      got.map((m) => m.toJSON()),
      frames.slice(0, got.length).map((m) => m.toJSON()),
      'frame',
    )
  })

  it('a corrupt chunk fails its CRC and says where, after the chunks before it', async () => {
    const frames = sampleFrames(3000, BUSES)
    const path = join(tempDir(), 'corrupt.mcap')
    await writeMcap(path, frames, { chunkSize: 16 * 1024, compression: 'none' })
    const bytes = readFileSync(path)
    // a byte in the middle of the file, inside a chunk's records: its CRC no longer matches
    const at = Math.floor(bytes.length / 2)
    bytes[at] = bytes[at]! ^ 0xff
    writeFileSync(path, bytes)
    const { got, error } = await readUntilError(path)
    expect(error).toBeInstanceOf(LogFormatError)
    // the chunk the byte is in: where it starts, at most one chunk (16 KiB and its header) before
    expect(error.offset).toBeLessThanOrEqual(at)
    expect(error.offset).toBeGreaterThan(at - 17 * 1024)
    expect(error.reason).toMatch(/^the chunk at byte \d+: .*CRC/)
    expect(got.length).toBeGreaterThan(0)
    expectSameList(
      got.map((m) => m.toJSON()),
      frames.slice(0, got.length).map((m) => m.toJSON()),
      'frame',
    )
  })

  it('not MCAP, empty, missing: each says so', async () => {
    const dir = tempDir()
    const text = join(dir, 'text.mcap')
    writeFileSync(text, 'hello, this is no MCAP file at all')
    const { error } = await readUntilError(text)
    expect(error).toBeInstanceOf(LogFormatError)
    expect(error.offset).toBe(0)
    expect(error.message).toMatch(/magic/i)
    const empty = join(dir, 'empty.mcap')
    writeFileSync(empty, '')
    expect((await readUntilError(empty)).error.reason).toBe('the file is empty')
    await expect(readAll(new MCAPReader(join(dir, 'none.mcap')))).rejects.toThrow(
      /cannot read .*none\.mcap: ENOENT/,
    )
  })
})

describe('MCAP through the log factories and a live bus', () => {
  it('openLogWriter(x.mcap) records a TCPBus through a Notifier; LogReader reads it; the checker accepts it', async () => {
    const path = join(tempDir(), 'live.mcap')
    const writer = openLogWriter(path)
    expect(writer).toBeInstanceOf(MCAPWriter)
    await recordAndReadBack(writer, 5000)
    const checked = await check(path)
    expect(checked.messages.map((m) => m.topic)).toEqual(Array(5000).fill('/can/pi/can0'))
  }, 60_000)

  it('a write the disk refuses (/dev/full) stops it with the reason, from onMessage and stop()', async () => {
    const writer = new MCAPWriter('/dev/full')
    const thrown = await (async () => {
      for (const frame of sampleFrames(20_000, ['can0'])) await writer.onMessage(frame)
    })().catch((e: unknown) => e)
    const reason = '/dev/full: write failed: ENOSPC: no space left on device'
    expect((thrown as Error).message).toMatch(reason)
    await expect(writer.stop()).rejects.toThrow(reason)
  })

  it('refuses append and bad options', () => {
    expect(() => openLogWriter('x.mcap', { append: true })).toThrow(
      'an MCAP file ends with its summary',
    )
    expect(
      () => new MCAPWriter(join(tempDir(), 'a.mcap'), { compression: 'lz4' as 'zstd' }),
    ).toThrow('compression must be "zstd" or "none", got "lz4"')
  })
})
