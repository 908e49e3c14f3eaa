// How fast the spool takes 64 KiB appends and gives them back: printed, not asserted
// (the figure depends on the disk; on a Pi's SD card expect far less than here).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { concat, recordBytes } from '@canbridge/protocol/testing'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { Spool } from './index.ts'

const CHUNK_BYTES = 64 * 1024
/** classic frames with 8 data bytes: 22-byte records, the common case on a bus */
const RECORD = recordBytes({
  timestampNs: 1_700_000_000_000_000_000n,
  id: 0x123,
  data: [1, 2, 3, 4, 5, 6, 7, 8],
})
const PER_CHUNK = Math.floor(CHUNK_BYTES / RECORD.length)
const CHUNK = concat(...Array.from({ length: PER_CHUNK }, () => RECORD))
const MIB = 1024 * 1024

let root: string
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'spool-throughput-'))
})
afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

async function measure(appends: number, syncEveryAppend: boolean): Promise<string> {
  const dir = join(root, syncEveryAppend ? 'sync' : 'nosync')
  const spool = await Spool.open(dir, { maxBytes: 1024 * MIB, syncEveryAppend })
  const started = performance.now()
  for (let i = 0; i < appends; i++) await spool.append(i * PER_CHUNK, PER_CHUNK, CHUNK)
  await spool.close() // the fsync of the last segment belongs to the cost
  const appendSeconds = (performance.now() - started) / 1000
  const bytes = appends * CHUNK.length

  const reopened = await Spool.open(dir, { maxBytes: 1024 * MIB })
  const recoverSeconds = (performance.now() - started) / 1000 - appendSeconds
  let from = 0
  let read = 0
  for (;;) {
    const chunk = await reopened.read(from, 4096, 319_488) // one DATA batch at most
    if (chunk === null) break
    read += chunk.records.length
    from = chunk.firstSeq + chunk.count
  }
  const readSeconds = (performance.now() - started) / 1000 - appendSeconds - recoverSeconds
  await reopened.close()
  expect(read).toBe(bytes)
  const rate = (seconds: number) => (bytes / MIB / seconds).toFixed(0).padStart(5)
  return `${appends} × ${(CHUNK.length / 1024).toFixed(0)} KiB, syncEveryAppend ${String(syncEveryAppend).padEnd(5)}: append ${rate(appendSeconds)} MB/s, recover ${rate(recoverSeconds)} MB/s, read ${rate(readSeconds)} MB/s`
}

it('prints the throughput of 64 KiB appends', async () => {
  const lines = [await measure(1024, false), await measure(128, true)]
  console.log(`spool throughput (MB = MiB):\n  ${lines.join('\n  ')}`)
})
