// FORMAT.md against the code: the example of §5 written by hand, the header checks, and
// the record walkers split at every boundary.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { concat, hex, recordBytes } from '@canbridge/protocol/testing'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ENTRY_HEADER_BYTES, encodeEntryHeader, parseEntryHeader } from './entry.ts'
import { recordsByteLength, skipRecords, wholeRecords } from './records.ts'
import { parseSegmentFileName, segmentFileName } from './segment-file.ts'
import { Spool } from './spool.ts'

const GOLDEN_RECORD = recordBytes({
  timestampNs: 1_700_000_000_123_456_000n,
  id: 0x123,
  data: [0xde, 0xad, 0xbe, 0xef],
})

const GOLDEN_SEGMENT = hex(`
  43 42 53 50
  05 00 00 00 00 00 00 00
  01 00 00 00
  12 00 00 00
  01 92 35 47
  00 CA 85 3D FE 9C 97 17 23 01 00 00 00 04
  DE AD BE EF
`)

let root: string
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'spool-format-'))
})
afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

describe('FORMAT.md §5 example', () => {
  it('is the exact file an append of the golden record writes', async () => {
    const spool = await Spool.open(root, { maxBytes: 1 << 20 })
    await spool.append(5, 1, GOLDEN_RECORD)
    await spool.close()
    expect((await readdir(root)).sort()).toEqual(['0000000000000005.seg', 'state.json'])
    expect(new Uint8Array(await readFile(join(root, '0000000000000005.seg')))).toEqual(
      GOLDEN_SEGMENT,
    )
    expect(JSON.parse(await readFile(join(root, 'state.json'), 'utf8'))).toEqual({
      format: 'canbridge-spool',
      version: 1,
      ackSeq: 0,
      nextSeq: 6,
    })
  })

  it('is read back by a fresh open', async () => {
    const spool = await Spool.open(root, { maxBytes: 1 << 20 })
    await spool.append(5, 1, GOLDEN_RECORD)
    await spool.close()
    const reopened = await Spool.open(root, { maxBytes: 1 << 20 })
    expect(reopened.recovery.problems).toEqual([])
    expect(await reopened.read(0, 10, 1000)).toEqual({
      firstSeq: 5,
      count: 1,
      records: GOLDEN_RECORD,
    })
    await reopened.close()
  })
})

describe('entry header', () => {
  it('round-trips, sequence numbers up to 2^53 - 1 included', () => {
    for (const firstSeq of [0, 5, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      const header = encodeEntryHeader(firstSeq, 1, GOLDEN_RECORD)
      expect(header.length).toBe(ENTRY_HEADER_BYTES)
      expect(parseEntryHeader(header)).toMatchObject({
        firstSeq,
        count: 1,
        length: GOLDEN_RECORD.length,
      })
    }
  })

  it('says why bytes are not a header', () => {
    const good = encodeEntryHeader(5, 1, GOLDEN_RECORD)
    const badMagic = good.slice()
    badMagic[3] = 0x51
    expect(parseEntryHeader(badMagic)).toBe('bad magic')
    const countZero = good.slice()
    countZero.fill(0, 12, 16)
    expect(parseEntryHeader(countZero)).toBe('count 0')
    const hugeSeq = good.slice()
    hugeSeq[11] = 0x00
    hugeSeq[10] = 0x20 // high word 0x200000: 2^53
    expect(parseEntryHeader(hugeSeq)).toBe('firstSeq beyond 2^53 - 1')
    const pastMax = encodeEntryHeader(Number.MAX_SAFE_INTEGER, 1, GOLDEN_RECORD)
    pastMax[12] = 2 // count 2 from 2^53 - 1
    expect(parseEntryHeader(pastMax)).toBe('last sequence beyond 2^53 - 1')
  })
})

describe('segment file names', () => {
  it('are 16 zero-padded digits that sort in sequence order', () => {
    expect(segmentFileName(5)).toBe('0000000000000005.seg')
    expect(segmentFileName(Number.MAX_SAFE_INTEGER)).toBe('9007199254740991.seg')
    expect(parseSegmentFileName('0000000000000005.seg')).toBe(5)
    for (const name of ['5.seg', '0000000000000005.seg.tmp', 'x000000000000005.seg']) {
      expect(parseSegmentFileName(name)).toBeNull()
    }
    expect(parseSegmentFileName('9999999999999999.seg')).toBeNull() // beyond 2^53 - 1
  })
})

describe('record walkers', () => {
  // classic 4 bytes (18), remote DLC 8 without data (14), CAN FD 64 bytes (78), empty classic (14)
  const parts = [
    GOLDEN_RECORD,
    recordBytes({ timestampNs: 1n, id: 0x7ff, flags: 0x02, len: 8 }),
    recordBytes({ timestampNs: 2n, id: 0x1fffffff, flags: 0x09, data: new Uint8Array(64) }),
    recordBytes({ timestampNs: 3n, id: 0 }),
  ]
  const bytes = concat(...parts)
  /** where each record ends: 18, 18 + 14, 32 + 78, 110 + 14 */
  const ends = [18, 32, 110, 124]

  it('count records by their own lengths, remote frames carrying no data', () => {
    expect(parts.map((part) => part.length)).toEqual([18, 14, 78, 14])
    expect(recordsByteLength(bytes, 4)).toBe(124)
    expect(recordsByteLength(bytes, 2)).toBe(32)
    expect(recordsByteLength(bytes, 5)).toBe(-1)
    expect(recordsByteLength(bytes.subarray(0, 123), 4)).toBe(-1)
    expect(recordsByteLength(bytes, 1, 18)).toBe(14)
  })

  it('cut at the last whole record for every end and frame limit', () => {
    for (let end = 0; end <= bytes.length; end++) {
      const whole = ends.filter((e) => e <= end)
      for (let maxCount = 1; maxCount <= 5; maxCount++) {
        const expected = whole.slice(0, maxCount)
        expect(wholeRecords(bytes, end, maxCount)).toEqual({
          count: expected.length,
          bytes: expected.at(-1) ?? 0,
        })
      }
    }
  })

  it('skip records through windows of every size', async () => {
    for (let window = 14; window <= bytes.length; window++) {
      for (let skip = 0; skip < parts.length; skip++) {
        const offset = await skipRecords(skip, async (from) =>
          bytes.subarray(from, Math.min(from + window, bytes.length)),
        )
        expect(offset).toBe(skip === 0 ? 0 : ends[skip - 1])
      }
    }
  })
})
