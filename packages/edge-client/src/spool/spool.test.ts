// The Spool API on real files: append/read, segments, gaps, limits, release, drop, numbering.
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { concat, recordBytes } from '@canbridge/protocol/testing'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Spool, type SpoolChunk, SpoolFullError, SpoolIoError, type SpoolOptions } from './index.ts'

/** A record whose shape and bytes follow from its sequence: classic, remote, FD 64, extended. */
function recordFor(seq: number): Uint8Array {
  const timestampNs = 1_700_000_000_000_000_000n + BigInt(seq)
  const data = (length: number) => Array.from({ length }, (_, i) => (seq + i) & 0xff)
  switch (seq % 4) {
    case 0:
      return recordBytes({ timestampNs, id: seq & 0x7ff, data: data(seq % 9) })
    case 1:
      return recordBytes({ timestampNs, id: seq & 0x7ff, flags: 0x02, len: 8 })
    case 2:
      return recordBytes({ timestampNs, id: seq & 0x7ff, flags: 0x08, data: data(64) })
    default:
      return recordBytes({ timestampNs, id: seq & 0x1fffffff, flags: 0x01, data: data(8) })
  }
}

function records(firstSeq: number, count: number): Uint8Array {
  return concat(...Array.from({ length: count }, (_, i) => recordFor(firstSeq + i)))
}

function expectChunk(chunk: SpoolChunk | null, firstSeq: number, count: number): void {
  expect(chunk).not.toBeNull()
  expect({ firstSeq: chunk!.firstSeq, count: chunk!.count }).toEqual({ firstSeq, count })
  expect(chunk!.records).toEqual(records(firstSeq, count))
}

/** Every frame held, read chunk by chunk the way a replay does; gaps end chunks. */
async function readAll(spool: Spool, maxFrames = 1000, maxBytes = 1 << 20): Promise<SpoolChunk[]> {
  const chunks: SpoolChunk[] = []
  let from = 0
  for (;;) {
    const chunk = await spool.read(from, maxFrames, maxBytes)
    if (chunk === null) return chunks
    chunks.push(chunk)
    from = chunk.firstSeq + chunk.count
  }
}

let root: string
const opened: Spool[] = []

async function openSpool(dir: string, options: SpoolOptions): Promise<Spool> {
  const spool = await Spool.open(dir, options)
  opened.push(spool)
  return spool
}

/** A copy of the directory as it is now: what a restart after a crash would find. */
async function crashImage(dir: string): Promise<string> {
  const image = `${dir}-crash-${opened.length}`
  await cp(dir, image, { recursive: true })
  return image
}

async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.endsWith('.seg')).sort()
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'spool-'))
})
afterEach(async () => {
  for (const spool of opened.splice(0)) await spool.close()
  await rm(root, { recursive: true, force: true })
})

describe('append and read', () => {
  it('round-trips records and counts them', async () => {
    const dir = join(root, 'can0')
    const spool = await openSpool(dir, { maxBytes: 1 << 20 })
    expect(spool.dir).toBe(dir)
    expect([spool.firstSeq, spool.nextSeq, spool.frames, spool.bytes]).toEqual([null, 0, 0, 0])
    expect(await spool.read(0, 100, 1 << 20)).toBeNull()

    await spool.append(0, 10, records(0, 10))
    await spool.append(10, 5, records(10, 5))
    expect([spool.firstSeq, spool.nextSeq, spool.frames]).toEqual([0, 15, 15])
    expect(spool.bytes).toBe(2 * 24 + records(0, 15).length)
    expectChunk(await spool.read(0, 100, 1 << 20), 0, 15)
  })

  it('keeps order across many segments, before and after a reopen', async () => {
    const dir = join(root, 'can0')
    const options = { maxBytes: 1 << 20, segmentBytes: 512 }
    const spool = await openSpool(dir, options)
    let seq = 0
    for (let i = 0; i < 150; i++) {
      const count = 1 + (i % 5)
      await spool.append(seq, count, records(seq, count))
      seq += count
    }
    const files = await segmentFiles(dir)
    expect(files.length).toBeGreaterThan(20)
    let size = 0
    for (const name of files) size += (await stat(join(dir, name))).size
    expect(spool.bytes).toBe(size)
    for (const limits of [
      [1000, 1 << 20],
      [7, 1 << 20],
      [1000, 200],
    ] as const) {
      const chunks = await readAll(spool, ...limits)
      expect(concat(...chunks.map((c) => c.records))).toEqual(records(0, seq))
      for (const chunk of chunks) {
        expect(chunk.count).toBeLessThanOrEqual(limits[0])
        expect(chunk.records.length).toBeLessThanOrEqual(limits[1])
      }
    }
    await spool.close()

    const reopened = await openSpool(dir, options)
    expect(reopened.recovery).toEqual({
      segments: files.length,
      frames: seq,
      truncatedBytes: 0,
      discardedSegments: 0,
      problems: [],
    })
    expect([reopened.firstSeq, reopened.nextSeq, reopened.frames]).toEqual([0, seq, seq])
    expectChunk(await reopened.read(0, 100_000, 1 << 20), 0, seq)
  })

  it('starts a read inside an entry at that record, and runs on into the next entry', async () => {
    const spool = await openSpool(root, { maxBytes: 1 << 20 })
    await spool.append(100, 20, records(100, 20))
    await spool.append(120, 3, records(120, 3))
    for (let seq = 100; seq < 123; seq++) {
      expectChunk(await spool.read(seq, 1000, 1 << 20), seq, 123 - seq)
      expectChunk(await spool.read(seq, 2, 1 << 20), seq, Math.min(2, 123 - seq))
    }
  })

  it('finds a record deep inside an entry larger than a read window', async () => {
    const spool = await openSpool(root, { maxBytes: 1 << 22 })
    await spool.append(0, 6000, records(0, 6000)) // about 190 KB
    for (const seq of [5999, 4321, 1, 3000, 3001, 2999]) {
      expectChunk(await spool.read(seq, 10, 1 << 20), seq, Math.min(10, 6000 - seq))
    }
  })

  it('splits entries at record boundaries under every maxFrames and maxBytes', async () => {
    const spool = await openSpool(root, { maxBytes: 1 << 20, segmentBytes: 300 })
    for (let seq = 0; seq < 40; seq += 8) await spool.append(seq, 8, records(seq, 8))
    const all = records(0, 40)
    for (let maxBytes = 78; maxBytes <= 400; maxBytes += 13) {
      for (const maxFrames of [1, 2, 3, 7, 100]) {
        const chunks = await readAll(spool, maxFrames, maxBytes)
        expect(concat(...chunks.map((c) => c.records))).toEqual(all)
        for (const chunk of chunks) {
          expect(chunk.count).toBeLessThanOrEqual(maxFrames)
          expect(chunk.records.length).toBeLessThanOrEqual(maxBytes)
          expect(chunk.records).toEqual(records(chunk.firstSeq, chunk.count))
        }
      }
    }
  })

  it('never returns a chunk across a gap, within a segment or between segments', async () => {
    const spool = await openSpool(root, { maxBytes: 1 << 20, segmentBytes: 300 })
    await spool.append(0, 10, records(0, 10)) // 320 bytes: the next entry opens a segment
    await spool.append(20, 2, records(20, 2)) // gap 10..19, across segments
    await spool.append(30, 3, records(30, 3)) // gap 22..29, inside the segment
    expect((await segmentFiles(root)).length).toBe(2)
    expectChunk(await spool.read(0, 100, 1 << 20), 0, 10)
    expectChunk(await spool.read(10, 100, 1 << 20), 20, 2)
    expectChunk(await spool.read(15, 100, 1 << 20), 20, 2)
    expectChunk(await spool.read(21, 100, 1 << 20), 21, 1)
    expectChunk(await spool.read(22, 100, 1 << 20), 30, 3)
    expect(await spool.read(33, 100, 1 << 20)).toBeNull()
    expect(spool.frames).toBe(15)
    expect(spool.nextSeq).toBe(33)
  })

  it('refuses an append below nextSeq and records that are not count records', async () => {
    const spool = await openSpool(root, { maxBytes: 1 << 20 })
    await spool.append(10, 2, records(10, 2))
    await expect(spool.append(11, 1, records(11, 1))).rejects.toThrow(
      new RangeError('firstSeq 11 is below nextSeq 12: frames are appended in order, once'),
    )
    await expect(spool.append(12, 3, records(12, 2))).rejects.toThrow(/^records: .* 3 frame/)
    await expect(spool.append(12, 1, records(12, 2))).rejects.toThrow(RangeError)
    await expect(spool.append(12, 0, new Uint8Array(0))).rejects.toThrow(/^count must be/)
    await expect(spool.append(-1, 1, records(0, 1))).rejects.toThrow(/^firstSeq must be/)
    await expect(spool.append(Number.MAX_SAFE_INTEGER, 2, records(0, 2))).rejects.toThrow(
      /runs past 2\^53 - 1/,
    )
    await expect(spool.read(0, 0, 1000)).rejects.toThrow(/^maxFrames must be/)
    await expect(spool.read(0, 10, 77)).rejects.toThrow(/^maxBytes must be an integer ≥ 78/)
    expectChunk(await spool.read(0, 100, 1 << 20), 10, 2)
  })
})

describe('maxBytes', () => {
  it('refuses an append that would exceed it and writes nothing', async () => {
    const used = 24 + records(0, 4).length + 24 + records(4, 4).length
    const spool = await openSpool(root, { maxBytes: used + 10 })
    await spool.append(0, 4, records(0, 4))
    await spool.append(4, 4, records(4, 4))
    const before = await readdir(root)
    const sizes = await Promise.all(before.map(async (name) => (await stat(join(root, name))).size))

    const error = await spool.append(8, 4, records(8, 4)).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SpoolFullError)
    const full = error as SpoolFullError
    expect(full.name).toBe('SpoolFullError')
    expect(full.bytesNeeded).toBe(24 + records(8, 4).length)
    expect(full.maxBytes).toBe(used + 10)
    expect(full.bytes).toBe(used)
    expect(full.message).toContain(root)

    expect(await readdir(root)).toEqual(before)
    expect(
      await Promise.all(before.map(async (name) => (await stat(join(root, name))).size)),
    ).toEqual(sizes)
    expect([spool.nextSeq, spool.frames, spool.bytes]).toEqual([8, 8, used])
    // a failed append changes nothing: the same frames can go in once there is room
    // one segment per entry at this size: dropping the oldest is enough
    expect(await spool.dropOldest(full.bytesNeeded)).toEqual([{ fromSeq: 0, count: 4 }])
    await spool.append(8, 4, records(8, 4))
    expectChunk(await spool.read(0, 100, 1 << 20), 4, 8)
  })

  it('says when an entry could never fit', async () => {
    const spool = await openSpool(root, { maxBytes: 100 })
    await expect(spool.append(0, 4, records(0, 4))).rejects.toThrow(
      `spool ${root} is full: 0 of 100 bytes used, the append needs ${24 + records(0, 4).length}, more than maxBytes: split it`,
    )
    await expect(spool.dropOldest(101)).rejects.toThrow(RangeError)
  })

  it('keeps default segments small enough that dropOldest loses a fraction of the spool', async () => {
    const maxBytes = 8 * 1024
    const spool = await openSpool(root, { maxBytes }) // default segmentBytes: 1 KiB here
    let seq = 0
    for (;;) {
      const error = await spool.append(seq, 4, records(seq, 4)).catch((e: unknown) => e)
      if (error === undefined) {
        seq += 4
        continue
      }
      expect(error).toBeInstanceOf(SpoolFullError)
      const before = spool.frames
      const dropped = await spool.dropOldest((error as SpoolFullError).bytesNeeded)
      const lost = dropped.reduce((sum, range) => sum + range.count, 0)
      expect(lost).toBeGreaterThan(0)
      expect(lost).toBeLessThan(before / 4)
      break
    }
    expect((await segmentFiles(root)).length).toBeGreaterThanOrEqual(7)
  })

  it('counts every segment and lets an append fill it exactly', async () => {
    const maxBytes = 3 * 24 + records(0, 6).length
    const spool = await openSpool(root, { maxBytes, segmentBytes: 1 })
    for (let seq = 0; seq < 6; seq += 2) await spool.append(seq, 2, records(seq, 2))
    expect((await segmentFiles(root)).length).toBe(3)
    expect(spool.bytes).toBe(maxBytes)
    await expect(spool.append(6, 1, records(6, 1))).rejects.toBeInstanceOf(SpoolFullError)
  })
})

describe('release', () => {
  it('deletes whole segments below the ack point and persists it at once', async () => {
    const options = { maxBytes: 1 << 20, segmentBytes: 200 }
    const spool = await openSpool(root, options)
    for (let seq = 0; seq < 60; seq += 4) await spool.append(seq, 4, records(seq, 4))
    const files = await segmentFiles(root)
    expect(files.length).toBeGreaterThan(4)

    // the segment holding 22 stays (22 is inside the entry 20..23), the ones before go
    const holding = files.filter((name) => Number.parseInt(name, 10) <= 22).at(-1)!
    expect(holding).not.toBe(files[0])
    await spool.release(22)
    expect(await segmentFiles(root)).toEqual(files.filter((name) => name >= holding))
    expect([spool.firstSeq, spool.nextSeq, spool.frames, spool.ackSeq]).toEqual([22, 60, 38, 22])
    expectChunk(await spool.read(0, 1000, 1 << 20), 22, 38)

    // no close: the crash image must already know the ack point
    const image = await openSpool(await crashImage(root), options)
    expect(image.recovery.problems).toEqual([])
    expect([image.firstSeq, image.nextSeq, image.frames]).toEqual([22, 60, 38])
    expectChunk(await image.read(0, 1000, 1 << 20), 22, 38)

    await spool.release(60)
    expect(await segmentFiles(root)).toEqual([])
    expect([spool.firstSeq, spool.nextSeq, spool.frames, spool.bytes]).toEqual([null, 60, 0, 0])
    expect(await spool.read(0, 1000, 1 << 20)).toBeNull()
    const emptied = await openSpool(await crashImage(root), options)
    expect([emptied.firstSeq, emptied.nextSeq, emptied.frames]).toEqual([null, 60, 0])

    // appends continue in a fresh segment after everything was released
    await spool.append(60, 2, records(60, 2))
    expect(await segmentFiles(root)).toEqual(['0000000000000060.seg'])
    expectChunk(await spool.read(0, 1000, 1 << 20), 60, 2)
  })

  it('ignores an ack that goes back, and moves nextSeq past acked frames it never held', async () => {
    const spool = await openSpool(root, { maxBytes: 1 << 20 })
    await spool.append(0, 4, records(0, 4))
    await spool.release(2)
    await spool.release(1)
    expect([spool.ackSeq, spool.firstSeq]).toEqual([2, 2])
    await spool.release(100) // frames 4..99 went from the ring, never spooled
    expect([spool.ackSeq, spool.nextSeq, spool.firstSeq, spool.frames]).toEqual([100, 100, null, 0])
    await expect(spool.append(99, 1, records(99, 1))).rejects.toThrow(/below nextSeq 100/)
    await spool.close()
    const reopened = await openSpool(root, { maxBytes: 1 << 20 })
    expect([reopened.firstSeq, reopened.nextSeq]).toEqual([null, 100])
  })

  it('writes no state for an ack of frames the spool never held, until close', async () => {
    const spool = await openSpool(root, { maxBytes: 1 << 20 })
    const state = await readFile(join(root, 'state.json'), 'utf8')
    for (let seq = 10; seq <= 1000; seq += 10) await spool.release(seq)
    expect(await readFile(join(root, 'state.json'), 'utf8')).toBe(state)
    await spool.close()
    expect(JSON.parse(await readFile(join(root, 'state.json'), 'utf8'))).toMatchObject({
      ackSeq: 1000,
      nextSeq: 1000,
    })
  })
})

describe('dropOldest', () => {
  it('drops whole segments oldest first and reports consecutive ranges', async () => {
    // segmentBytes 1: one entry per segment. A: 0..5 (released up to 2), B: 6..9,
    // then a gap, C: 20..23, D: 24..29
    const spool = await openSpool(root, { maxBytes: 1 << 20, segmentBytes: 1 })
    await spool.append(0, 6, records(0, 6))
    await spool.append(6, 4, records(6, 4))
    await spool.release(2)
    await spool.append(20, 4, records(20, 4))
    await spool.append(24, 6, records(24, 6))
    const sizes = [records(0, 6), records(6, 4), records(20, 4)].map((r) => 24 + r.length)
    const free = (1 << 20) - spool.bytes

    expect(await spool.dropOldest(free)).toEqual([])
    expect(await spool.dropOldest(free + 1)).toEqual([{ fromSeq: 2, count: 4 }])
    expect([spool.firstSeq, spool.frames]).toEqual([6, 14])
    // B alone would free enough for free + sizes[0] + 1, so C goes too only when needed
    expect(await spool.dropOldest(free + sizes[0]! + sizes[1]! + 1)).toEqual([
      { fromSeq: 6, count: 4 },
      { fromSeq: 20, count: 4 },
    ])
    expect(await segmentFiles(root)).toEqual(['0000000000000024.seg'])
    expect([spool.firstSeq, spool.frames]).toEqual([24, 6])
    expect(spool.bytes).toBe(24 + records(24, 6).length)
    expectChunk(await spool.read(0, 100, 1 << 20), 24, 6)
  })

  it('merges ranges across segments and can empty the spool, keeping nextSeq', async () => {
    const spool = await openSpool(root, { maxBytes: 4096, segmentBytes: 100 })
    for (let seq = 0; seq < 30; seq += 3) await spool.append(seq, 3, records(seq, 3))
    expect(await spool.dropOldest(4096)).toEqual([{ fromSeq: 0, count: 30 }])
    expect([spool.firstSeq, spool.frames, spool.bytes, spool.nextSeq]).toEqual([null, 0, 0, 30])
    expect(await segmentFiles(root)).toEqual([])
    const image = await openSpool(await crashImage(root), { maxBytes: 4096 })
    expect([image.firstSeq, image.nextSeq]).toEqual([null, 30])
    await expect(spool.dropOldest(4097)).rejects.toThrow(/^bytesNeeded 4097 exceeds maxBytes 4096/)
  })
})

describe('numbering', () => {
  it('setNextSeq persists where numbering continues, even with nothing held', async () => {
    const spool = await openSpool(root, { maxBytes: 1 << 20 })
    await spool.setNextSeq(5000)
    expect([spool.nextSeq, spool.firstSeq]).toEqual([5000, null])
    const image = await openSpool(await crashImage(root), { maxBytes: 1 << 20 })
    expect([image.nextSeq, image.firstSeq]).toEqual([5000, null])
    await spool.close()
    const reopened = await openSpool(root, { maxBytes: 1 << 20 })
    expect(reopened.nextSeq).toBe(5000)
    await expect(reopened.append(4999, 1, records(4999, 1))).rejects.toThrow(RangeError)
    await reopened.append(5000, 1, records(5000, 1))
    await reopened.setNextSeq(4000) // never back: like an old ACK, it changes nothing
    expect(reopened.nextSeq).toBe(5001)
    await reopened.setNextSeq(6000) // a gap after the last frame held
    await reopened.close()
    const again = await openSpool(root, { maxBytes: 1 << 20 })
    expect([again.firstSeq, again.nextSeq, again.frames]).toEqual([5000, 6000, 1])
  })

  it('continues after the newest frame on disk when the state is older', async () => {
    const spool = await openSpool(root, { maxBytes: 1 << 20 })
    await spool.append(0, 8, records(0, 8))
    // no close: state.json still says nextSeq 0; the segment says 8
    const image = await openSpool(await crashImage(root), { maxBytes: 1 << 20 })
    expect([image.nextSeq, image.firstSeq, image.frames]).toEqual([8, 0, 8])
  })

  it('reserve: a crash resumes numbering past the reservation; appends below it still go in', async () => {
    const spool = await openSpool(root, { maxBytes: 1 << 20 })
    await spool.append(0, 8, records(0, 8))
    await spool.reserve(1000)
    await spool.reserve(500) // never back
    expect(spool.nextSeq).toBe(8) // the ring's frames 8.. still reach the spool in order
    await spool.append(8, 4, records(8, 4))
    const crashed = await openSpool(await crashImage(root), { maxBytes: 1 << 20 })
    expect([crashed.firstSeq, crashed.nextSeq, crashed.frames]).toEqual([0, 1000, 12])
    expect(JSON.parse(await readFile(join(root, 'state.json'), 'utf8'))).toMatchObject({
      nextSeq: 1000,
    })
  })

  it('setNextSeq exact gives the reservation back: a clean stop continues without a gap', async () => {
    const spool = await openSpool(root, { maxBytes: 1 << 20 })
    await spool.append(0, 8, records(0, 8))
    await spool.reserve(1000)
    await spool.setNextSeq(20, { exact: true })
    await spool.close()
    const reopened = await openSpool(root, { maxBytes: 1 << 20 })
    expect([reopened.firstSeq, reopened.nextSeq, reopened.frames]).toEqual([0, 20, 8])
  })
})

describe('options and lifecycle', () => {
  it('refuses bad options with an error naming the option', async () => {
    const dir = join(root, 'x')
    await expect(Spool.open(dir, { maxBytes: 0 })).rejects.toThrow(
      new RangeError('maxBytes must be a positive integer, got 0'),
    )
    await expect(Spool.open(dir, { maxBytes: 1.5 })).rejects.toThrow(/^maxBytes/)
    await expect(Spool.open(dir, { maxBytes: 100, segmentBytes: -1 })).rejects.toThrow(
      new RangeError('segmentBytes must be a positive integer, got -1'),
    )
    await expect(
      Spool.open(dir, { maxBytes: 100, syncEveryAppend: 'yes' as unknown as boolean }),
    ).rejects.toThrow(new TypeError('syncEveryAppend must be a boolean, got yes'))
    await expect(Spool.open('', { maxBytes: 100 })).rejects.toThrow(TypeError)
    expect(await readdir(root)).toEqual([]) // nothing created for bad options
  })

  it('reports a failed append with the path and stays usable', async () => {
    const spool = await openSpool(root, { maxBytes: 1 << 20 })
    await spool.append(0, 2, records(0, 2))
    await spool.close()
    const reopened = await openSpool(root, { maxBytes: 1 << 20, segmentBytes: 1 })
    // a directory where the next segment file must go: creating it fails
    const blocked = join(root, '0000000000000005.seg')
    await mkdir(blocked)
    const error = await reopened.append(5, 1, records(5, 1)).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SpoolIoError)
    expect(error).toMatchObject({ code: 'EEXIST', path: blocked })
    expect((error as Error).message).toMatch(new RegExp(`^cannot create spool segment ${blocked}`))
    expect([reopened.nextSeq, reopened.frames]).toEqual([2, 2])
    await reopened.append(6, 1, records(6, 1))
    expectChunk(await reopened.read(2, 100, 1 << 20), 6, 1)
    await reopened.close()
    // a directory with a segment's name is not a segment: ignored like any stray
    const again = await openSpool(root, { maxBytes: 1 << 20 })
    expect(again.recovery.problems).toEqual(['ignored 0000000000000005.seg: not a spool file'])
    expect(again.frames).toBe(3)
  })

  it('syncs every append when asked', async () => {
    const spool = await openSpool(root, { maxBytes: 1 << 20, syncEveryAppend: true })
    for (let seq = 0; seq < 20; seq += 5) await spool.append(seq, 5, records(seq, 5))
    expectChunk(await spool.read(0, 100, 1 << 20), 0, 20)
  })

  it('rejects calls after close; close is idempotent', async () => {
    const spool = await openSpool(root, { maxBytes: 1 << 20 })
    await spool.append(0, 1, records(0, 1))
    await Promise.all([spool.close(), spool.close()])
    await spool.close()
    await expect(spool.append(1, 1, records(1, 1))).rejects.toThrow(`spool ${root} is closed`)
    await expect(spool.read(0, 1, 100)).rejects.toThrow(/is closed/)
    expect(spool.frames).toBe(1)
  })

  it('runs concurrent calls one at a time, in call order', async () => {
    const spool = await openSpool(root, { maxBytes: 1 << 20, segmentBytes: 200 })
    const calls: Promise<unknown>[] = []
    const reads: { chunk: Promise<SpoolChunk | null>; from: number; end: number }[] = []
    let acked = 0
    for (let seq = 0; seq < 100; seq += 5) {
      calls.push(spool.append(seq, 5, records(seq, 5)))
      // queued after this append and after the releases before it: sees exactly that
      reads.push({ chunk: spool.read(0, 1000, 1 << 20), from: acked, end: seq + 5 })
      if (seq % 20 === 15) {
        acked = seq - 3
        calls.push(spool.release(acked))
      }
    }
    await Promise.all(calls)
    for (const read of reads) expectChunk(await read.chunk, read.from, read.end - read.from)
    expect(spool.frames).toBe(8)
    const rejected = spool.append(0, 1, records(0, 1))
    const after = spool.read(0, 1000, 1 << 20)
    await expect(rejected).rejects.toThrow(RangeError)
    expectChunk(await after, 92, 8) // a failed call does not stop the ones queued behind it
  })
})
