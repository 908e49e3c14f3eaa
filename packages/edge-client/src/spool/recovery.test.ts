// Spool.open on damaged directories: what it keeps, what it cuts, what it refuses.
import {
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  truncate,
  writeFile,
} from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { concat, recordBytes } from '@canbridge/protocol/testing'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  Spool,
  type SpoolChunk,
  SpoolCorruptError,
  SpoolIoError,
  type SpoolOptions,
} from './index.ts'

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

function entryBytes(firstSeq: number, count: number): number {
  return 24 + records(firstSeq, count).length
}

function expectChunk(chunk: SpoolChunk | null, firstSeq: number, count: number): void {
  expect(chunk).not.toBeNull()
  expect({ firstSeq: chunk!.firstSeq, count: chunk!.count }).toEqual({ firstSeq, count })
  expect(chunk!.records).toEqual(records(firstSeq, count))
}

const OPTIONS: SpoolOptions = { maxBytes: 1 << 20 }
const SEG0 = '0000000000000000.seg'
/** the loops below open a spool once per byte position: on a loaded machine that takes a while */
const LOOP_TIMEOUT_MS = 180_000

let root: string
const opened: Spool[] = []

async function openSpool(dir: string, options: SpoolOptions = OPTIONS): Promise<Spool> {
  const spool = await Spool.open(dir, options)
  opened.push(spool)
  return spool
}

/** A closed spool in `dir` holding the given [firstSeq, count] entries. */
async function makeSpool(
  dir: string,
  entries: [number, number][],
  options: SpoolOptions = OPTIONS,
): Promise<void> {
  const spool = await Spool.open(dir, options)
  for (const [firstSeq, count] of entries)
    await spool.append(firstSeq, count, records(firstSeq, count))
  await spool.close()
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'spool-recovery-'))
})
afterEach(async () => {
  for (const spool of opened.splice(0)) await spool.close()
  await rm(root, { recursive: true, force: true })
})

describe('a clean directory', () => {
  it('is created, nested, as an empty spool marked by its state file', async () => {
    const dir = join(root, 'spool', 'can0')
    const spool = await openSpool(dir)
    expect(spool.recovery).toEqual({
      segments: 0,
      frames: 0,
      truncatedBytes: 0,
      discardedSegments: 0,
      problems: [],
    })
    expect(await readdir(dir)).toEqual(['state.json'])
    expect(JSON.parse(await readFile(join(dir, 'state.json'), 'utf8'))).toEqual({
      format: 'canbridge-spool',
      version: 1,
      ackSeq: 0,
      nextSeq: 0,
    })
  })

  it('may hold lost+found (a spool on its own file system)', async () => {
    await mkdir(join(root, 'lost+found'))
    const spool = await openSpool(root)
    expect(spool.recovery.problems).toEqual([])
  })
})

describe('torn and corrupt segments', () => {
  it(
    'keeps everything before the last entry, whatever byte it was cut at',
    async () => {
      const source = join(root, 'source')
      await makeSpool(source, [
        [0, 4],
        [4, 3],
        [7, 5],
      ])
      const size = (await stat(join(source, SEG0))).size
      const lastStart = size - entryBytes(7, 5)
      for (let cut = lastStart; cut < size; cut++) {
        const dir = join(root, `cut-${cut}`)
        await cp(source, dir, { recursive: true })
        await truncate(join(dir, SEG0), cut)
        const spool = await openSpool(dir)
        const torn = cut - lastStart
        expect(spool.recovery).toEqual({
          segments: 1,
          frames: 7,
          truncatedBytes: torn,
          discardedSegments: 0,
          problems:
            torn === 0
              ? []
              : [
                  `${SEG0}: torn entry ${torn < 24 ? `header (${torn} of 24 bytes)` : `(${torn - 24} of ${records(7, 5).length} record bytes)`} at byte ${lastStart}; cut ${torn} bytes`,
                ],
        })
        expect((await stat(join(dir, SEG0))).size).toBe(lastStart)
        expect([spool.firstSeq, spool.frames]).toEqual([0, 7])
        expect(spool.nextSeq).toBe(12) // the state file written at close remembers 7..11
        expectChunk(await spool.read(0, 1000, 1 << 20), 0, 7)

        // appends go on after the cut, in the same segment, and survive a reopen
        await spool.append(12, 2, records(12, 2))
        await spool.close()
        expect(await readdir(dir)).toEqual([SEG0, 'state.json'])
        const reopened = await openSpool(dir)
        expect(reopened.recovery.problems).toEqual([])
        expectChunk(await reopened.read(0, 1000, 1 << 20), 0, 7)
        expectChunk(await reopened.read(7, 1000, 1 << 20), 12, 2)
        await reopened.close()
        await rm(dir, { recursive: true })
      }
    },
    LOOP_TIMEOUT_MS,
  )

  it(
    'cuts a segment at a middle entry with any byte flipped, and reads later segments',
    async () => {
      const source = join(root, 'source')
      // A 0..3, B 4..6, C 7..9 fill the first segment; D 10..14 starts the second
      const segmentBytes = entryBytes(0, 4) + entryBytes(4, 3) + entryBytes(7, 3)
      await makeSpool(
        source,
        [
          [0, 4],
          [4, 3],
          [7, 3],
          [10, 5],
        ],
        { ...OPTIONS, segmentBytes },
      )
      expect((await readdir(source)).sort()).toEqual([SEG0, '0000000000000010.seg', 'state.json'])
      const start = entryBytes(0, 4)
      const cutBytes = entryBytes(4, 3) + entryBytes(7, 3)
      for (let at = start; at < start + entryBytes(4, 3); at++) {
        const dir = join(root, `flip-${at}`)
        await cp(source, dir, { recursive: true })
        const bytes = await readFile(join(dir, SEG0))
        bytes[at] = bytes[at]! ^ 0xff
        await writeFile(join(dir, SEG0), bytes)

        const spool = await openSpool(dir)
        expect(spool.recovery).toMatchObject({
          segments: 2,
          frames: 9,
          truncatedBytes: cutBytes,
          discardedSegments: 0,
        })
        expect(spool.recovery.problems).toEqual([
          expect.stringMatching(
            new RegExp(`^${SEG0}: .+ at byte ${start}; cut ${cutBytes} bytes$`),
          ),
        ])
        expect((await stat(join(dir, SEG0))).size).toBe(start)
        expect([spool.firstSeq, spool.nextSeq, spool.frames]).toEqual([0, 15, 9])
        expectChunk(await spool.read(0, 1000, 1 << 20), 0, 4)
        expectChunk(await spool.read(4, 1000, 1 << 20), 10, 5)
        await spool.close()
        await rm(dir, { recursive: true })
      }
    },
    LOOP_TIMEOUT_MS,
  )

  it('names the reason: a CRC mismatch in the records', async () => {
    await makeSpool(root, [
      [0, 4],
      [4, 3],
    ])
    const bytes = await readFile(join(root, SEG0))
    bytes[entryBytes(0, 4) + 30] = bytes[entryBytes(0, 4) + 30]! ^ 0x01
    await writeFile(join(root, SEG0), bytes)
    const spool = await openSpool(root)
    expect(spool.recovery.problems).toEqual([
      `${SEG0}: CRC mismatch at byte ${entryBytes(0, 4)}; cut ${entryBytes(4, 3)} bytes`,
    ])
  })

  it('removes zero-length segments, at the end and between others', async () => {
    await makeSpool(
      root,
      [
        [0, 4],
        [10, 2],
      ],
      { ...OPTIONS, segmentBytes: 1 },
    )
    await writeFile(join(root, '0000000000000005.seg'), '')
    await writeFile(join(root, '0000000000000100.seg'), '')
    const spool = await openSpool(root)
    expect(spool.recovery).toEqual({
      segments: 2,
      frames: 6,
      truncatedBytes: 0,
      discardedSegments: 2,
      problems: [
        '0000000000000005.seg: empty; no intact entry, segment removed',
        '0000000000000100.seg: empty; no intact entry, segment removed',
      ],
    })
    expect((await readdir(root)).sort()).toEqual([SEG0, '0000000000000010.seg', 'state.json'])
    expectChunk(await spool.read(0, 1000, 1 << 20), 0, 4)
    expectChunk(await spool.read(4, 1000, 1 << 20), 10, 2)
  })

  it('removes a segment whose first entry is not the one its name says', async () => {
    await makeSpool(root, [[0, 4]])
    await cp(join(root, SEG0), join(root, '0000000000000050.seg'))
    const spool = await openSpool(root)
    expect(spool.recovery.discardedSegments).toBe(1)
    expect(spool.recovery.problems).toEqual([
      '0000000000000050.seg: first entry starts at 0, not at its name; no intact entry, segment removed',
    ])
    expect(spool.frames).toBe(4)
  })

  it('removes a segment that overlaps the frames before it', async () => {
    await makeSpool(root, [[0, 10]])
    const other = join(root, 'other')
    await makeSpool(other, [[4, 3]])
    await cp(join(other, '0000000000000004.seg'), join(root, '0000000000000004.seg'))
    await rm(other, { recursive: true })
    const spool = await openSpool(root)
    expect(spool.recovery.problems).toEqual([
      '0000000000000004.seg: entry at 4 overlaps frames up to 10; no intact entry, segment removed',
    ])
    expectChunk(await spool.read(0, 1000, 1 << 20), 0, 10)
  })
})

describe('the state file', () => {
  it('is rebuilt from the segments when missing (the ack point is lost)', async () => {
    const spool = await openSpool(root)
    await spool.append(0, 6, records(0, 6))
    await spool.release(2)
    await spool.close()
    await rm(join(root, 'state.json'))
    const reopened = await openSpool(root)
    expect(reopened.recovery).toEqual({
      segments: 1,
      frames: 6,
      truncatedBytes: 0,
      discardedSegments: 0,
      problems: [
        'state.json missing; rebuilt from the segments (ack point lost: acknowledged frames may be resent)',
      ],
    })
    expect([reopened.firstSeq, reopened.nextSeq]).toEqual([0, 6])
    expect(JSON.parse(await readFile(join(root, 'state.json'), 'utf8'))).toMatchObject({
      ackSeq: 0,
      nextSeq: 6,
    })
  })

  it('is rebuilt when unreadable', async () => {
    await makeSpool(root, [[0, 3]])
    for (const [text, problem] of [
      ['{"format":"canbridge-sp', /^state\.json is not valid JSON/],
      [
        '{"format":"canbridge-spool","version":1,"ackSeq":"x","nextSeq":3}',
        /^state\.json has ackSeq "x", nextSeq 3: not sequence numbers/,
      ],
    ] as const) {
      await writeFile(join(root, 'state.json'), text)
      const spool = await openSpool(root)
      expect(spool.recovery.problems).toEqual([expect.stringMatching(problem)])
      expect([spool.firstSeq, spool.nextSeq, spool.frames]).toEqual([0, 3, 3])
      await spool.close()
    }
  })

  it('left half-written as state.json.tmp is removed', async () => {
    await makeSpool(root, [[0, 3]])
    await writeFile(join(root, 'state.json.tmp'), '{"format":')
    const spool = await openSpool(root)
    expect(spool.recovery.problems).toEqual([
      'removed state.json.tmp left by an interrupted state write',
    ])
    expect((await readdir(root)).sort()).toEqual([SEG0, 'state.json'])
    expect(spool.frames).toBe(3)
  })

  it('deletes segments wholly below its ack point (crash between state write and unlink)', async () => {
    const options = { ...OPTIONS, segmentBytes: 1 }
    const dir = join(root, 'main')
    const spool = await openSpool(dir, options)
    for (const [firstSeq, count] of [
      [0, 4],
      [4, 3],
      [7, 3],
    ] as const) {
      await spool.append(firstSeq, count, records(firstSeq, count))
    }
    const image = join(root, 'image')
    await cp(dir, image, { recursive: true })
    await spool.release(5)
    // the image: every segment still there, but the new state
    await cp(join(dir, 'state.json'), join(image, 'state.json'))
    const recovered = await openSpool(image, options)
    expect(recovered.recovery).toEqual({
      segments: 2,
      frames: 5,
      truncatedBytes: 0,
      discardedSegments: 0,
      problems: [],
    })
    expect((await readdir(image)).sort()).toEqual([
      '0000000000000004.seg',
      '0000000000000007.seg',
      'state.json',
    ])
    expectChunk(await recovered.read(0, 1000, 1 << 20), 5, 5)
  })
})

describe('what open refuses', () => {
  it('a path under a regular file: SpoolIoError naming the path', async () => {
    const file = join(root, 'file')
    await writeFile(file, 'not a directory')
    const dir = join(file, 'spool')
    const error = await Spool.open(dir, OPTIONS).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SpoolIoError)
    const io = error as SpoolIoError
    expect(io.name).toBe('SpoolIoError')
    expect(io.code).toBe('ENOTDIR')
    expect(io.path).toBe(dir)
    expect(io.message).toMatch(new RegExp(`^cannot create spool directory ${dir}: ENOTDIR`))
  })

  it('a directory that is a file', async () => {
    const file = join(root, 'file')
    await writeFile(file, 'x')
    await expect(Spool.open(file, OPTIONS)).rejects.toThrow(
      new RegExp(`^cannot create spool directory ${file}: EEXIST`),
    )
  })

  it('a directory of other files, touching nothing', async () => {
    await writeFile(join(root, 'a.txt'), 'a')
    await writeFile(join(root, 'b.txt'), 'b')
    const error = await Spool.open(root, OPTIONS).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SpoolCorruptError)
    expect((error as SpoolCorruptError).message).toBe(
      `${root} is not a spool: it holds a.txt, b.txt but no state.json or segment file`,
    )
    expect((await readdir(root)).sort()).toEqual(['a.txt', 'b.txt'])
  })

  it('a state file of another program or a newer version, touching nothing', async () => {
    await makeSpool(root, [[0, 3]])
    await writeFile(join(root, 'state.json.tmp'), '')
    for (const [text, message] of [
      ['{"name":"other"}', 'is not a canbridge spool state (no "format" field)'],
      ['{"format":"other","version":1}', 'has format "other", not "canbridge-spool"'],
      [
        '{"format":"canbridge-spool","version":2,"ackSeq":0,"nextSeq":0}',
        'is spool format version 2; this edge reads version 1',
      ],
    ]) {
      await writeFile(join(root, 'state.json'), text!)
      await expect(Spool.open(root, OPTIONS)).rejects.toThrow(
        new SpoolCorruptError(`${join(root, 'state.json')} ${message}`, {
          path: join(root, 'state.json'),
        }),
      )
      expect((await readdir(root)).sort()).toEqual([SEG0, 'state.json', 'state.json.tmp'])
    }
  })
})

describe('stray files', () => {
  it('are ignored, reported and left alone', async () => {
    await makeSpool(root, [[0, 3]])
    await writeFile(join(root, 'notes.txt'), 'hello')
    await writeFile(join(root, '12.seg'), 'not sixteen digits')
    const spool = await openSpool(root)
    expect(spool.recovery.problems).toEqual([
      'ignored 12.seg: not a spool file',
      'ignored notes.txt: not a spool file',
    ])
    expect(spool.frames).toBe(3)
    expect((await readdir(root)).sort()).toEqual([SEG0, '12.seg', 'notes.txt', 'state.json'])
  })
})
