// The --spool-dir startup check and the mkdir -p under it: fail fast, never loop.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SpoolIoError } from './errors.ts'
import { probeSpoolDirectory } from './probe.ts'
import { Spool } from './spool.ts'

let root: string
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'spool-probe-'))
})
afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

describe('probeSpoolDirectory', () => {
  it('creates missing directories and leaves nothing behind', async () => {
    const dir = join(root, 'a', 'b')
    await probeSpoolDirectory(dir)
    expect(await readdir(dir)).toEqual([])
  })

  it('fails at once where mkdir says ENOENT under an existing parent (/proc)', async () => {
    // Node's recursive mkdir retries this forever, burning CPU
    const startedAt = performance.now()
    const error = await probeSpoolDirectory('/proc/nope/spool').catch((e: unknown) => e)
    expect(performance.now() - startedAt).toBeLessThan(1000)
    expect(error).toBeInstanceOf(SpoolIoError)
    expect(error).toMatchObject({ code: 'ENOENT', path: '/proc/nope/spool' })
    expect((error as Error).message).toContain('cannot create spool directory /proc/nope/spool')
  })

  it('fails with ENOTDIR under a regular file', async () => {
    await writeFile(join(root, 'file'), 'x')
    await expect(probeSpoolDirectory(join(root, 'file', 'spool'))).rejects.toMatchObject({
      name: 'SpoolIoError',
      code: 'ENOTDIR',
    })
  })
})

describe('Spool.open', () => {
  it('fails instead of looping on a directory that cannot be created', async () => {
    await expect(Spool.open('/proc/nope/x', { maxBytes: 1 << 20 })).rejects.toMatchObject({
      name: 'SpoolIoError',
      code: 'ENOENT',
    })
  })
})
