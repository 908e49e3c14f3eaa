// BLF against python-can 4.1's BLFReader/BLFWriter (Debian python3-can), the independent
// implementation: frames we write, python-can reads identically, and frames python-can writes,
// we read identically; every frame kind, several compressed containers, local-time headers.
// Then truncated and corrupt files, the suffix factory and a live bus into a .blf file.
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  BLFReader,
  BLFWriter,
  type CanMessage,
  LogFormatError,
  openLogWriter,
} from '../../src/index.ts'
import { tempDir, withTimeZone } from './helpers.ts'
import { recordAndReadBack } from './support/live-recording.ts'
import { pythonWith, runPython } from './support/python.ts'
import { expectSameList } from './support/same-list.ts'
import { sampleFrames } from './support/sample-frames.ts'
import { writeAndReadInSmallHeap } from './support/small-heap.ts'

/** Local time matters: the header's SYSTEMTIMEs are local, in python-can as in Vector's tools. */
const ZONE = 'Europe/Berlin'
const CHANNELS = ['0', '1', '2']

const python = () => pythonWith('can, can.io.blf', 'python3-can')

/** python-can's view of a BLF file: its messages and its header, as JSON. */
const READ_WITH_PYTHON_CAN = `
import json, struct, sys, zlib, can
from can.io import blf
reader = blf.BLFReader(sys.argv[1])
header = dict(object_count=reader.object_count, file_size=reader.file_size,
              uncompressed_size=reader.uncompressed_size,
              start=reader.start_timestamp, stop=reader.stop_timestamp)
messages = [dict(timestamp=m.timestamp, id=m.arbitration_id, ext=m.is_extended_id,
                 rtr=m.is_remote_frame, err=m.is_error_frame, fd=m.is_fd, brs=m.bitrate_switch,
                 esi=m.error_state_indicator, dlc=m.dlc, data=bytes(m.data).hex(),
                 channel=m.channel, rx=m.is_rx) for m in reader]
# the uncompressed size as the header means it, summed here from the containers
size, containers = blf.FILE_HEADER_SIZE, 0
with open(sys.argv[1], 'rb') as f:
    f.seek(blf.FILE_HEADER_SIZE)
    while True:
        base = f.read(blf.OBJ_HEADER_BASE_STRUCT.size)
        if not base: break
        _, _, _, obj_size, obj_type = blf.OBJ_HEADER_BASE_STRUCT.unpack(base)
        body = f.read(obj_size - len(base))
        f.read(obj_size % 4)
        if obj_type == blf.LOG_CONTAINER:
            method, usize = blf.LOG_CONTAINER_STRUCT.unpack_from(body)
            data = body[blf.LOG_CONTAINER_STRUCT.size:]
            assert len(zlib.decompress(data) if method == 2 else data) == usize
            size += len(base) + blf.LOG_CONTAINER_STRUCT.size + usize
            containers += 1
header['summed_uncompressed_size'] = size
header['containers'] = containers
json.dump(dict(header=header, messages=messages), sys.stdout)
`

/** Writes the frames of a JSON file with python-can's BLFWriter. */
const WRITE_WITH_PYTHON_CAN = `
import json, sys, can
from can.io.blf import BLFWriter
frames = json.load(open(sys.argv[1]))
writer = BLFWriter(sys.argv[2])
for f in frames:
    writer.on_message_received(can.Message(
        timestamp=int(f['ns']) / 10**9, arbitration_id=f['id'], is_extended_id=f['ext'],
        is_remote_frame=f['rtr'], is_error_frame=f['err'], is_fd=f['fd'],
        bitrate_switch=f['brs'], error_state_indicator=f['esi'], dlc=f['dlc'],
        data=bytes.fromhex(f['data']), channel=int(f['channel']), is_rx=f['rx']))
writer.stop()
`

interface PythonMessage {
  timestamp: number
  id: number
  ext: boolean
  rtr: boolean
  err: boolean
  fd: boolean
  brs: boolean
  esi: boolean
  dlc: number
  data: string
  channel: number
  rx: boolean
}

interface PythonView {
  header: {
    object_count: number
    file_size: number
    uncompressed_size: number
    summed_uncompressed_size: number
    containers: number
    start: number
    stop: number
  }
  messages: PythonMessage[]
}

/** Every field but the time, as python-can names them. */
function fields(m: CanMessage) {
  return {
    id: m.arbitrationId,
    ext: m.isExtendedId,
    rtr: m.isRemoteFrame,
    err: m.isErrorFrame,
    fd: m.isFd,
    brs: m.bitrateSwitch,
    esi: m.errorStateIndicator,
    dlc: m.dlc,
    data: Buffer.from(m.data).toString('hex'),
    channel: m.channel,
    rx: m.isRx,
  }
}

function pythonFields(p: PythonMessage) {
  const { timestamp: _, ...rest } = p
  return { ...rest, channel: String(p.channel) }
}

async function readAll(reader: AsyncIterable<CanMessage>): Promise<CanMessage[]> {
  const out: CanMessage[] = []
  for await (const m of reader) out.push(m)
  return out
}

async function writeBlf(path: string, frames: CanMessage[], options = {}): Promise<BLFWriter> {
  const writer = new BLFWriter(path, { channels: CHANNELS, ...options })
  for (const frame of frames) await writer.onMessage(frame)
  await writer.stop()
  return writer
}

const seconds = (ns: bigint) => Number(ns) / 1e9

/** A CAN_MESSAGE2 object with a version 1 (32-byte) or 2 (40-byte) header, written by hand. */
function canMessage2(o: {
  version: 1 | 2
  unit: 1 | 2
  time: bigint
  channel: number
  flags: number
  id: number
  dlc?: number
  data: number[]
}): Buffer {
  const headerSize = o.version === 1 ? 32 : 40
  const object = Buffer.alloc(headerSize + 24)
  object.write('LOBJ', 0, 'latin1')
  object.writeUInt16LE(headerSize, 4)
  object.writeUInt16LE(o.version, 6)
  object.writeUInt32LE(object.length, 8)
  object.writeUInt32LE(86, 12)
  object.writeUInt32LE(o.unit, 16)
  object.writeBigUInt64LE(o.time, 24)
  object.writeUInt16LE(o.channel, headerSize)
  object[headerSize + 2] = o.flags
  object[headerSize + 3] = o.dlc ?? o.data.length
  object.writeUInt32LE(o.id, headerSize + 4)
  object.set(o.data, headerSize + 8)
  return object
}

/** The largest difference between two lists of times, in seconds. */
function largestGap(a: number[], b: number[]): number {
  expect(a).toHaveLength(b.length)
  return Math.max(...a.map((t, i) => Math.abs(t - b[i]!)))
}

describe('BLF: python-can 4.1 as the oracle', () => {
  it('finds python-can (Debian python3-can) with its BLF module', () => {
    expect(python()).toBeTruthy()
  })

  it('python-can reads what BLFWriter wrote: every frame kind, identical, over several containers', async () => {
    const frames = sampleFrames(20_000, CHANNELS)
    const path = join(tempDir(), 'ours.blf')
    await withTimeZone(ZONE, () => writeBlf(path, frames))
    const view = JSON.parse(
      await runPython(python(), ['-c', READ_WITH_PYTHON_CAN, path], { TZ: ZONE }),
    ) as PythonView
    expectSameList(view.messages.map(pythonFields), frames.map(fields), 'frame')
    // python-can's float seconds: within its double's resolution (~0.24 µs at 1.7e9 s)
    expect(
      largestGap(
        view.messages.map((p) => p.timestamp),
        frames.map((m) => seconds(m.timestampNs)),
      ),
    ).toBeLessThan(1e-6)
    const first = frames[0]!.timestampNs
    const last = frames.at(-1)!.timestampNs
    expect(view.header).toMatchObject({
      object_count: frames.length,
      file_size: statSync(path).size,
      uncompressed_size: view.header.summed_uncompressed_size,
      // SYSTEMTIMEs in local time, whole milliseconds
      start: Number(first / 1_000_000n) / 1000,
      stop: Number(last / 1_000_000n) / 1000,
    })
    expect(view.header.containers).toBeGreaterThanOrEqual(8)
  }, 120_000)

  it('BLFReader reads what python-can wrote (CAN_MESSAGE, CAN_FD_MESSAGE, CAN_ERROR_EXT, objects split across containers) as python-can reads it', async () => {
    const frames = sampleFrames(20_000, CHANNELS)
    const dir = tempDir()
    const input = join(dir, 'frames.json')
    const path = join(dir, 'python-can.blf')
    writeFileSync(
      input,
      JSON.stringify(
        frames.map((m) => ({
          ...fields(m),
          ns: m.timestampNs.toString(),
          data: Buffer.from(m.data).toString('hex'),
        })),
      ),
    )
    await runPython(python(), ['-c', WRITE_WITH_PYTHON_CAN, input, path], { TZ: ZONE })
    const view = JSON.parse(
      await runPython(python(), ['-c', READ_WITH_PYTHON_CAN, path], { TZ: ZONE }),
    ) as PythonView
    const reader = new BLFReader(path)
    const ours = await withTimeZone(ZONE, () => readAll(reader))
    expect(ours).toHaveLength(frames.length)
    expect(view.messages).toHaveLength(frames.length)
    expectSameList(ours.map(fields), frames.map(fields), 'frame')
    expectSameList(
      ours.map(fields),
      view.messages.map(pythonFields),
      'frame as python-can reads it',
    )
    const times = ours.map((m) => seconds(m.timestampNs))
    // the same time python-can reads (its float's resolution) ...
    expect(
      largestGap(
        times,
        view.messages.map((p) => p.timestamp),
      ),
    ).toBeLessThan(1e-6)
    // ... which is up to 1 ms off the frame's: python-can's header rounds the start to the ms
    // and its objects are relative to the unrounded one
    expect(
      largestGap(
        times,
        frames.map((m) => seconds(m.timestampNs)),
      ),
    ).toBeLessThan(1e-3)
    expect(reader.header).toMatchObject({
      objectCount: frames.length,
      fileSize: statSync(path).size,
      uncompressedSize: view.header.uncompressed_size,
      startMs: Math.round(view.header.start * 1000),
      stopMs: Math.round(view.header.stop * 1000),
    })
    expect(reader.containers).toBe(view.header.containers)
    expect(reader.objectsRead).toBe(frames.length)
  }, 120_000)

  it('reads object header version 2 and 10 µs time units as python-can does (a file built here byte by byte)', async () => {
    const T = 1_700_000_000_123_450_000n
    const objects = [
      // version 2 header (40 bytes), ns time: a sent extended frame on channel 2
      canMessage2({
        version: 2,
        unit: 2,
        time: T,
        channel: 2,
        flags: 0x01,
        id: 0x80000123,
        data: [1, 2, 3],
      }),
      // version 1 header, time in 10 µs units: a received standard remote frame on channel 1
      canMessage2({
        version: 1,
        unit: 1,
        time: (T + 20_000n) / 10_000n,
        channel: 1,
        flags: 0x80,
        id: 0x7ff,
        dlc: 4,
        data: [],
      }),
    ]
    const contents = Buffer.concat(objects)
    const container = Buffer.alloc(32)
    container.write('LOBJ', 0, 'latin1')
    container.writeUInt16LE(16, 4)
    container.writeUInt16LE(1, 6)
    container.writeUInt32LE(32 + contents.length, 8)
    container.writeUInt32LE(10, 12) // LOG_CONTAINER, stored
    container.writeUInt32LE(contents.length, 24)
    const header = Buffer.alloc(144)
    header.write('LOGG', 0, 'latin1')
    header.writeUInt32LE(144, 4) // no start time: the objects' times are absolute
    const path = join(tempDir(), 'v2.blf')
    writeFileSync(path, Buffer.concat([header, container, contents]))
    const view = JSON.parse(
      await runPython(python(), ['-c', READ_WITH_PYTHON_CAN, path]),
    ) as PythonView
    const ours = await readAll(new BLFReader(path))
    expect(ours.map(fields)).toEqual(view.messages.map(pythonFields))
    expect(ours.map(fields)).toEqual([
      {
        id: 0x123,
        ext: true,
        rtr: false,
        err: false,
        fd: false,
        brs: false,
        esi: false,
        dlc: 3,
        data: '010203',
        channel: '1',
        rx: false,
      },
      {
        id: 0x7ff,
        ext: false,
        rtr: true,
        err: false,
        fd: false,
        brs: false,
        esi: false,
        dlc: 4,
        data: '',
        channel: '0',
        rx: true,
      },
    ])
    expect(ours.map((m) => m.timestampNs)).toEqual([T, T + 20_000n])
    expect(
      largestGap(
        ours.map((m) => seconds(m.timestampNs)),
        view.messages.map((p) => p.timestamp),
      ),
    ).toBeLessThan(1e-6)
  }, 60_000)

  it('an empty recording is a valid file: a header and nothing else, for python-can too', async () => {
    const path = join(tempDir(), 'empty.blf')
    await new BLFWriter(path).stop()
    const view = JSON.parse(
      await runPython(python(), ['-c', READ_WITH_PYTHON_CAN, path]),
    ) as PythonView
    expect(view.messages).toEqual([])
    expect(view.header).toMatchObject({ object_count: 0, file_size: 144, start: 0, stop: 0 })
    expect(await readAll(new BLFReader(path))).toEqual([])
  }, 60_000)

  it('our own round trip is exact to the nanosecond', async () => {
    const frames = sampleFrames(2000, CHANNELS)
    const path = join(tempDir(), 'exact.blf')
    await writeBlf(path, frames)
    const back = await readAll(new BLFReader(path, { channels: CHANNELS }))
    expectSameList(
      back.map((m) => m.toJSON()),
      frames.map((m) => m.toJSON()),
      'frame',
    )
  })

  it('stores containers uncompressed at compressionLevel 0, and python-can reads them', async () => {
    const frames = sampleFrames(3000, CHANNELS)
    const path = join(tempDir(), 'stored.blf')
    await writeBlf(path, frames, { compressionLevel: 0 })
    const view = JSON.parse(
      await runPython(python(), ['-c', READ_WITH_PYTHON_CAN, path]),
    ) as PythonView
    expectSameList(view.messages.map(pythonFields), frames.map(fields), 'frame')
    expect(statSync(path).size).toBeGreaterThan(3000 * 56)
  }, 60_000)
})

describe('BLF reading in bounded memory', () => {
  it('streams a file of 400,000 frames in a 24 MB heap', async () => {
    const path = join(tempDir(), 'big.blf')
    const frames = sampleFrames(4000, CHANNELS)
    await writeAndReadInSmallHeap('BLF', path, new BLFWriter(path), frames, 400_000)
  }, 120_000)
})

describe('BLF files that break', () => {
  /** A file of many small containers, and the frames in it. */
  async function manyContainers(): Promise<{ path: string; frames: CanMessage[] }> {
    const frames = sampleFrames(3000, CHANNELS)
    const path = join(tempDir(), 'broken.blf')
    await writeBlf(path, frames, { containerSize: 4096 })
    return { path, frames }
  }

  /** What a reader yields before it throws, and the error. */
  async function readUntilError(path: string) {
    const reader = new BLFReader(path, { channels: CHANNELS })
    const got: CanMessage[] = []
    const error = await (async () => {
      for await (const m of reader) got.push(m)
    })().catch((e: unknown) => e)
    return { got, error: error as LogFormatError }
  }

  it('truncated inside a container: every frame before the cut, those of the cut container included, then where it broke', async () => {
    const { path, frames } = await manyContainers()
    const size = statSync(path).size
    const cut = Math.floor(size * 0.6)
    truncateSync(path, cut)
    const { got, error } = await readUntilError(path)
    expect(error).toBeInstanceOf(LogFormatError)
    expect(error.message).toMatch(/the file ends inside the log container/)
    expect(error.offset).toBeGreaterThan(144)
    expect(error.offset).toBeLessThan(cut)
    expect(error.file).toBe(path)
    // what was read is a prefix of what was written, and more than the containers before the cut
    expect(got.map((m) => m.toJSON())).toEqual(frames.slice(0, got.length).map((m) => m.toJSON()))
    expect(got.length).toBeGreaterThan(frames.length * 0.5)
    expect(error.objectIndex).toBe(got.length)
  })

  it('truncated at every offset of the first objects: never a crash, always a prefix and a LogFormatError', async () => {
    const { path, frames } = await manyContainers()
    const whole = readFileSync(path)
    const dir = tempDir()
    for (let cut = 0; cut < 1200; cut += 7) {
      const file = join(dir, `cut-${cut}.blf`)
      writeFileSync(file, whole.subarray(0, cut))
      const { got, error } = await readUntilError(file)
      expect(error, `cut at ${cut}`).toBeInstanceOf(LogFormatError)
      expect(got.map((m) => m.toJSON())).toEqual(frames.slice(0, got.length).map((m) => m.toJSON()))
    }
  })

  it('a corrupt container says which, after the frames of the containers before it', async () => {
    const { path, frames } = await manyContainers()
    const bytes = readFileSync(path)
    // the third container: walk the outer objects as the format lays them out
    let at = 144
    for (let i = 0; i < 2; i++) {
      const size = bytes.readUInt32LE(at + 8)
      at += size + (size % 4)
    }
    bytes.fill(0x55, at + 40, at + 80)
    writeFileSync(path, bytes)
    const { got, error } = await readUntilError(path)
    expect(error).toBeInstanceOf(LogFormatError)
    expect(error.offset).toBe(at)
    expect(error.reason).toMatch(/does not inflate/)
    expect(got.length).toBeGreaterThan(0)
    expect(got.map((m) => m.toJSON())).toEqual(frames.slice(0, got.length).map((m) => m.toJSON()))
  })

  it('a file that is not BLF, and a missing file, say so', async () => {
    const path = join(tempDir(), 'text.blf')
    writeFileSync(path, '(1700000000.000000) can0 123#00\n'.repeat(10))
    await expect(readAll(new BLFReader(path))).rejects.toThrow(
      `${path}: byte 0, after 0 objects: no "LOGG" signature: not a BLF file`,
    )
    await expect(readAll(new BLFReader(join(tempDir(), 'none.blf')))).rejects.toThrow(
      /cannot read .*none\.blf: ENOENT/,
    )
  })
})

describe('BLF through the log factories and a live bus', () => {
  it('openLogWriter(x.blf) records a TCPBus through a Notifier; LogReader reads the file back', async () => {
    const path = join(tempDir(), 'capture.BLF')
    const writer = openLogWriter(path)
    expect(writer).toBeInstanceOf(BLFWriter)
    await recordAndReadBack(writer, 5000, { channels: ['pi/can0'] })
  })

  it('a write the disk refuses (/dev/full) stops it with the reason, from onMessage and stop()', async () => {
    const writer = new BLFWriter('/dev/full')
    const thrown = await (async () => {
      for (const frame of sampleFrames(20_000, ['can0'])) await writer.onMessage(frame)
    })().catch((e: unknown) => e)
    const reason = '/dev/full: write failed: ENOSPC: no space left on device'
    expect((thrown as Error).message).toMatch(reason)
    await expect(writer.stop()).rejects.toThrow(reason)
  })

  it('refuses append and bad options', () => {
    expect(() => openLogWriter('x.blf', { append: true })).toThrow('a BLF file has one header')
    expect(() => new BLFWriter(join(tempDir(), 'a.blf'), { compressionLevel: 10 })).toThrow(
      'compressionLevel must be 0..9, got 10',
    )
  })
})
