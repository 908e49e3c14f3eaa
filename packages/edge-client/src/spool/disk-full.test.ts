// The spool on a file system that really fills up or turns read-only (a tiny tmpfs): a full
// disk is a full spool (drop by policy), acknowledged data is always freed, and a read-only
// spool still opens and replays.
import { appendFile, open, readdir, readFile, stat, statfs, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { recordBytes } from '@canbridge/protocol/testing'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { TINY_FS_SKIP, TinyFs } from '../../test/helpers/tiny-fs.ts'
import { Spool, SpoolFullError, SpoolIoError } from './index.ts'

/** 64 classic frames of 8 data bytes: 1,408 bytes of records per entry */
const FRAMES_PER_ENTRY = 64
function entry(firstSeq: number): Uint8Array {
  const parts = Array.from({ length: FRAMES_PER_ENTRY }, (_, i) =>
    recordBytes({ timestampNs: 1n, id: (firstSeq + i) & 0x7ff, data: [1, 2, 3, 4, 5, 6, 7, 8] }),
  )
  return Buffer.concat(parts)
}

/** Appends entries until the file system refuses one; returns that refusal. */
async function fill(spool: Spool): Promise<SpoolFullError> {
  for (;;) {
    try {
      await spool.append(spool.nextSeq, FRAMES_PER_ENTRY, entry(spool.nextSeq))
    } catch (error) {
      if (error instanceof SpoolFullError) return error
      throw error
    }
  }
}

/** Fills the rest of the file system with a file of its own (someone else's data). */
async function fillWithOtherData(dir: string): Promise<void> {
  const handle = await open(join(dir, 'other-data'), 'w')
  try {
    for (;;) await handle.write(Buffer.alloc(4096))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error
  } finally {
    await handle.close()
  }
}

async function stateOf(dir: string): Promise<{ ackSeq: number; nextSeq: number }> {
  return JSON.parse(await readFile(join(dir, 'state.json'), 'utf8'))
}

async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir)
  return s.bavail * s.bsize
}

// TINY_FS_SKIP says why when this process cannot mount (not root, not Linux)
describe.skipIf(TINY_FS_SKIP !== null)('a spool on a full or read-only file system', () => {
  let fs: TinyFs
  let dir: string
  const opened: Spool[] = []
  beforeEach(() => {
    fs = new TinyFs(256 * 1024)
    dir = join(fs.dir, 'spool')
  })
  afterEach(async () => {
    for (const spool of opened.splice(0)) await spool.close().catch(() => undefined)
    fs.remove()
  })
  const openSpool = async (options = { maxBytes: 16 << 20, segmentBytes: 32 * 1024 }) => {
    const spool = await Spool.open(dir, options)
    opened.push(spool)
    return spool
  }

  it('refuses an append the disk has no room for as a full spool (kind disk), leaving no partial entry', async () => {
    const spool = await openSpool()
    const full = await fill(spool)
    expect(full.kind).toBe('disk')
    expect((full.cause as SpoolIoError).code).toBe('ENOSPC')
    expect(full.bytes).toBe(spool.bytes)
    expect(full.bytesNeeded).toBeLessThanOrEqual(full.maxBytes)
    // the segments on disk are exactly the entries appended: nothing torn was left behind
    let onDisk = 0
    for (const name of await readdir(dir))
      if (name.endsWith('.seg')) onDisk += (await stat(join(dir, name))).size
    expect(onDisk).toBe(spool.bytes)
    expect(spool.frames).toBe(spool.nextSeq)
  })

  it('frees every acknowledged segment of a full disk and records the ack point', async () => {
    const spool = await openSpool()
    await fill(spool)
    const end = spool.nextSeq
    expect(await freeBytes(fs.dir)).toBeLessThan(8192)
    await spool.release(end)
    expect(spool.frames).toBe(0)
    expect(await readdir(dir)).toEqual(['state.json'])
    expect(await stateOf(dir)).toMatchObject({ ackSeq: end, nextSeq: end })
    expect(await freeBytes(fs.dir)).toBeGreaterThan(200 * 1024)
    // and it spools again
    await spool.append(end, FRAMES_PER_ENTRY, entry(end))
    expect(spool.frames).toBe(FRAMES_PER_ENTRY)
  })

  it('frees a single segment on a disk that others filled: the state is rewritten in place', async () => {
    const spool = await openSpool({ maxBytes: 16 << 20, segmentBytes: 1 << 20 })
    for (let i = 0; i < 20; i++)
      await spool.append(spool.nextSeq, FRAMES_PER_ENTRY, entry(spool.nextSeq))
    const end = spool.nextSeq
    await fillWithOtherData(fs.dir)
    // what the issue found: a state write that got its temp file but no block for it
    await writeFile(join(dir, 'state.json.tmp'), '').catch(() => undefined)
    await spool.release(end)
    expect((await readdir(dir)).sort()).toEqual(['state.json'])
    expect(await stateOf(dir)).toMatchObject({ ackSeq: end, nextSeq: end })
    await spool.close()
    // numbering continues after the freed frames, as the state file says
    const reopened = await openSpool()
    expect(reopened.nextSeq).toBe(end)
    expect(reopened.frames).toBe(0)
  })

  it('drops the oldest segments to make room on a full disk, freeing before it writes the state', async () => {
    const spool = await openSpool()
    const full = await fill(spool)
    const held = spool.frames
    const dropped = await spool.dropOldest(full.bytesNeeded)
    const lost = dropped.reduce((sum, range) => sum + range.count, 0)
    expect(dropped[0]?.fromSeq).toBe(0)
    expect(lost).toBeGreaterThan(0)
    expect(spool.frames).toBe(held - lost)
    // the refused entry fits now
    const next = spool.nextSeq
    await spool.append(next, FRAMES_PER_ENTRY, entry(next))
    expect(spool.firstSeq).toBe(lost)
  })

  it('opens a spool on a read-only file system and replays it; appends fail as read-only', async () => {
    const spool = await openSpool()
    for (let i = 0; i < 30; i++)
      await spool.append(spool.nextSeq, FRAMES_PER_ENTRY, entry(spool.nextSeq))
    const end = spool.nextSeq
    await spool.close()
    opened.length = 0
    const segments = (await readdir(dir)).filter((n) => n.endsWith('.seg')).sort()
    // a torn entry at the end and a leftover temp file: what a crash leaves
    await appendFile(join(dir, segments.at(-1)!), Buffer.from('CBSP torn'))
    await writeFile(join(dir, 'state.json.tmp'), '')
    fs.readOnly()

    const readOnly = await openSpool()
    expect(readOnly.frames).toBe(end)
    expect(readOnly.recovery.problems.join('\n')).toMatch(/read-only|EROFS/)
    let from = 0
    for (;;) {
      const chunk = await readOnly.read(from, 1000, 1 << 20)
      if (chunk === null) break
      from = chunk.firstSeq + chunk.count
    }
    expect(from).toBe(end)
    const refused = await readOnly.append(end, FRAMES_PER_ENTRY, entry(end)).then(
      () => null,
      (error: unknown) => error,
    )
    expect(refused).toBeInstanceOf(SpoolIoError)
    expect((refused as SpoolIoError).code).toBe('EROFS')
    expect((refused as SpoolIoError).unwritable).toBe(true)
    await readOnly.close().catch(() => undefined)
    opened.length = 0

    // writable again: the torn tail and the temp file go, nothing held is lost
    fs.readWrite()
    const again = await openSpool()
    expect(again.frames).toBe(end)
    expect(again.recovery.truncatedBytes).toBe(9)
    expect(await readdir(dir)).not.toContain('state.json.tmp')
  })
})
