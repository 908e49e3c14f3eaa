// The log writers as Notifier listeners over a real TCPBus fed by a scripted edge on loopback
// TCP, into real files: the lines written, nothing lost at stop, backpressure from a slow
// stream, write errors, the suffix factory.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough, Writable } from 'node:stream'
import { FRAME_FLAG } from '@canbridge/protocol'
import { describe, expect, it } from 'vitest'
import {
  ASCWriter,
  CanMessage,
  CanutilsLogWriter,
  LogReader,
  Notifier,
  openLogWriter,
} from '../../src/index.ts'
import { sequenceFrame, sequenceOf } from '../../src/testing/scripted-edge.ts'
import { sleep, waitUntil } from '../support/helpers.ts'
import { busWithEdge, lines, tempDir } from './helpers.ts'

const T0 = 1_700_000_000_000_000_000n

describe('CanutilsLogWriter as a Notifier listener', () => {
  it('writes what the bus receives in candump -L lines, the interface as candump names it', async () => {
    const { bus, edge } = await busWithEdge({
      channels: [
        { name: 'can0', fd: true },
        { name: 'vcan10', fd: false },
      ],
    })
    const path = join(tempDir(), 'capture.log')
    const writer = new CanutilsLogWriter(path)
    const notifier = new Notifier(bus, [writer])
    edge.sendFrames(0, 0, [
      { id: 0x123, data: [0xde, 0xad, 0xbe, 0xef], timestampNs: T0 + 123_456_000n },
      {
        id: 0x1abcde00,
        flags: FRAME_FLAG.EXT | FRAME_FLAG.RTR,
        len: 8,
        timestampNs: T0 + 1_000_000_000n,
      },
      {
        id: 0x7ff,
        flags: FRAME_FLAG.FD | FRAME_FLAG.BRS,
        data: Array.from({ length: 16 }, (_, i) => i),
        timestampNs: T0 + 2_000_000_999n, // the ns below the µs are cut, as the kernel's timeval
      },
      {
        id: 0x40,
        flags: FRAME_FLAG.ERR,
        data: [0, 0, 8, 0, 0, 0, 0, 0],
        timestampNs: T0 + 3_000_001_000n,
      },
    ])
    edge.sendFrames(1, 0, [{ id: 0x001, data: [], timestampNs: T0 + 4_000_000_000n }])
    await waitUntil(() => writer.count === 5)
    await notifier.stop()
    expect(readFileSync(path, 'utf8')).toBe(
      lines(
        '(1700000000.123456) can0 123#DEADBEEF',
        '(1700000001.000000) can0 1ABCDE00#R8',
        '(1700000002.000000) can0 7FF##5000102030405060708090A0B0C0D0E0F',
        '(1700000003.000001) can0 20000040#0000080000000000',
        '(1700000004.000000) vcan10 001#',
      ),
    )
  })

  it('loses nothing at stop: 50,000 frames, all in the file after notifier.stop()', async () => {
    const { bus, edge } = await busWithEdge()
    const path = join(tempDir(), 'many.log')
    const writer = new CanutilsLogWriter(path, { flushIntervalMs: 0 })
    const notifier = new Notifier(bus, [writer])
    await edge.stream(0, 0, 50_000, 1000)
    await waitUntil(() => writer.count === 50_000, 20_000, 'every frame handed to the writer')
    // nothing forced a write but the buffer size: stop() must write the rest
    await notifier.stop()
    const seqs: number[] = []
    for await (const m of new LogReader(path)) seqs.push(sequenceOf(m.data))
    expect(seqs).toHaveLength(50_000)
    expect(seqs.every((seq, i) => seq === i)).toBe(true)
  })

  it('holds lines until the buffer fills or the flush timer fires', async () => {
    const path = join(tempDir(), 'timer.log')
    const writer = new CanutilsLogWriter(path, { flushIntervalMs: 100 })
    writer.onMessage(new CanMessage({ arbitrationId: 1, isExtendedId: false, timestampNs: T0 }))
    expect(readFileSync(path, 'utf8')).toBe('')
    await waitUntil(() => readFileSync(path, 'utf8') !== '', 2000, 'the timed flush')
    expect(readFileSync(path, 'utf8')).toBe('(1700000000.000000) vcan0 001#\n') // no channel: vcan0
    await writer.stop()
  })

  it('a stream that pushes back slows the Notifier down instead of growing a buffer', async () => {
    const { bus, edge } = await busWithEdge()
    const slow = new PassThrough({ highWaterMark: 1024 })
    const writer = new CanutilsLogWriter(slow, { bufferSize: 1024, flushIntervalMs: 0 })
    const notifier = new Notifier(bus, [writer])
    void edge.stream(0, 0, 5000, 500)
    await sleep(300)
    // nobody reads `slow`: the writer stopped taking messages after about two buffers
    expect(writer.count).toBeLessThan(200)
    const chunks: string[] = []
    slow.on('data', (chunk: Buffer) => chunks.push(chunk.toString()))
    await waitUntil(() => writer.count === 5000, 10_000, 'the rest once the stream drains')
    await notifier.stop()
    expect(chunks.join('').split('\n')).toHaveLength(5001)
  })

  it('appends with append: true', async () => {
    const path = join(tempDir(), 'append.log')
    writeFileSync(path, '(1.000000) can0 001#\n')
    const writer = new CanutilsLogWriter(path, { append: true })
    await writer.onMessage(
      new CanMessage({
        arbitrationId: 2,
        isExtendedId: false,
        timestampNs: 2_000_000_000n,
        channel: 'pi/can0',
      }),
    )
    await writer.stop()
    expect(readFileSync(path, 'utf8')).toBe('(1.000000) can0 001#\n(0000000002.000000) can0 002#\n')
  })

  it('naming: channel writes pi/can0; a name with a space is refused', async () => {
    const out: string[] = []
    const sink = new Writable({
      write(chunk, _e, callback) {
        out.push(String(chunk))
        callback()
      },
    })
    const writer = new CanutilsLogWriter(sink, { naming: 'channel' })
    await writer.onMessage(
      new CanMessage({ arbitrationId: 2, isExtendedId: false, channel: 'pi/can0' }),
    )
    expect(() => writer.onMessage(new CanMessage({ channel: 'pi/can 1' }))).toThrow(
      'channel "pi/can 1" gives the interface name "pi/can 1", which a candump log cannot carry (it must be one word without spaces)',
    )
    await writer.stop()
    expect(out.join('')).toBe('(0000000000.000000) pi/can0 002#\n')
  })

  it('a path that cannot be opened fails at once, saying why', () => {
    const path = join(tempDir(), 'no-such-dir', 'x.log')
    expect(() => new CanutilsLogWriter(path)).toThrow(
      `cannot open log file ${path} for writing: ENOENT: no such file or directory, open '${path}' (does its directory exist?)`,
    )
  })

  it('a failed write surfaces: the next onMessage throws, stop() rejects', async () => {
    const broken = new Writable({
      write(_chunk, _e, callback) {
        callback(new Error('ENOSPC: no space left on device'))
      },
    })
    const writer = new CanutilsLogWriter(broken, { bufferSize: 1, flushIntervalMs: 0 })
    const message = new CanMessage({ arbitrationId: 1, isExtendedId: false })
    await writer.onMessage(message)
    await sleep(10)
    expect(() => writer.onMessage(message)).toThrow(
      'stream: write failed: ENOSPC: no space left on device',
    )
    await expect(writer.stop()).rejects.toThrow('write failed: ENOSPC')
  })
})

describe('throughput', () => {
  it('writes 500,000 received messages to a file and reads them back', async () => {
    // a thousand messages with a channel and an exact time, handed over again and again
    const path = join(tempDir(), 'fast.log')
    const count = 500_000
    const messages = Array.from(
      { length: 1000 },
      (_, i) =>
        new CanMessage({
          arbitrationId: i & 0x7ff,
          isExtendedId: false,
          data: [i & 0xff, 1, 2, 3, 4, 5, 6, 7],
          channel: 'pi/can0',
          timestampNs: T0 + BigInt(i) * 1000n,
        }),
    )
    const writer = new CanutilsLogWriter(path)
    const started = performance.now()
    for (let i = 0; i < count; i++) {
      const pending = writer.onMessage(messages[i % 1000]!)
      if (pending !== undefined) await pending
    }
    await writer.stop()
    const seconds = (performance.now() - started) / 1000
    console.log(
      `CanutilsLogWriter: ${count} messages in ${seconds.toFixed(2)} s (${Math.round(count / seconds)} messages/s)`,
    )
    let lines = 0
    for await (const _ of new LogReader(path)) lines++
    expect(lines).toBe(count)
  }, 60_000)
})

describe('openLogWriter (python-can Logger): the writer by suffix', () => {
  it('.log is candump -L, .asc is ASC, in any case', async () => {
    const dir = tempDir()
    const log = openLogWriter(join(dir, 'a.log'))
    const asc = openLogWriter(join(dir, 'b.ASC'))
    expect(log).toBeInstanceOf(CanutilsLogWriter)
    expect(asc).toBeInstanceOf(ASCWriter)
    await log.stop()
    await asc.stop()
  })

  it('anything else is refused, naming the supported suffixes', () => {
    expect(() => openLogWriter('capture.trc')).toThrow(
      'cannot log to "capture.trc": unsupported suffix ".trc"; supported: .log (candump -L), .asc (Vector ASC), .blf (Vector BLF), .mcap (MCAP)',
    )
    expect(() => openLogWriter('capture')).toThrow(
      'no suffix; supported: .log (candump -L), .asc (Vector ASC), .blf (Vector BLF), .mcap (MCAP)',
    )
    expect(() => openLogWriter('x.asc', { append: true })).toThrow('an ASC file has one header')
  })
})

describe('the edge frames the writer received are the ones it wrote', () => {
  it('sequence frames in, the same ids and data out of the file', async () => {
    const { bus, edge } = await busWithEdge()
    const path = join(tempDir(), 'seq.log')
    const writer = openLogWriter(path)
    const notifier = new Notifier(bus, [writer])
    await edge.stream(0, 0, 300, 100)
    await waitUntil(() => writer.count === 300)
    await notifier.stop()
    let i = 0
    for await (const m of new LogReader(path)) {
      const want = sequenceFrame(i)
      expect([m.arbitrationId, [...m.data]], `frame ${i}`).toEqual([want.id, want.data])
      i++
    }
    expect(i).toBe(300)
  })
})
