// The whole daemon with its spool on a tiny tmpfs that really fills up (ENOSPC) or turns
// read-only (EROFS), against a scripted server over loopback TCP: a full disk is a drop
// cause like any other, everything acknowledged is freed, and the edge starts and streams
// with an unusable spool instead of exiting. The accounting is checked against the frames'
// own counters (the virtual source numbers its payloads): delivered + reported dropped ==
// produced, nothing twice.

import { spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { readdir, readFile, statfs, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type EdgeProcess, MAIN, startEdge } from '../src/testing/edge-process.ts'
import { everyFrameAccounted } from './helpers/frame-accounting.ts'
import { ScriptedServer } from './helpers/scripted-server.ts'
import { TINY_FS_SKIP, TinyFs } from './helpers/tiny-fs.ts'

const cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function tinyFs(bytes: number): TinyFs {
  const fs = new TinyFs(bytes)
  cleanups.push(() => fs.remove())
  return fs
}

async function serverOn(port = 0, options: ConstructorParameters<typeof ScriptedServer>[0] = {}) {
  const server = new ScriptedServer(options)
  const bound = await server.listen(port)
  cleanups.push(() => server.close())
  return { server, port: bound }
}

/** A port nothing listens on now, for a server that comes later. */
async function freePort(): Promise<number> {
  const probe = new ScriptedServer()
  const port = await probe.listen(0)
  await probe.close()
  return port
}

async function edge(args: string[], readyMsg: string): Promise<EdgeProcess> {
  const e = await startEdge(
    ['--stats-interval', '250ms', '--log-level', 'info', ...args],
    {},
    readyMsg,
    MAIN,
    30_000,
  )
  cleanups.push(() => e.stop('SIGKILL'))
  return e
}

/** Waits until the spool holds no segment (everything acknowledged was freed). */
async function segmentsFreed(dir: string): Promise<void> {
  const until = performance.now() + 20_000
  for (;;) {
    const names = await readdir(dir)
    if (!names.some((name) => name.endsWith('.seg'))) return
    if (performance.now() > until)
      throw new Error(`segments still on disk after every ACK: ${names.join(', ')}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir)
  return s.bavail * s.bsize
}

async function fillWithOtherData(dir: string): Promise<void> {
  // dd stops at ENOSPC with a non-zero status: the file system is then full
  spawnSync('dd', ['if=/dev/zero', `of=${join(dir, 'other-data')}`, 'bs=4k'], { stdio: 'ignore' })
  expect(await freeBytes(dir)).toBeLessThan(4096)
}

const channelDir = (spoolDir: string) => join(spoolDir, encodeURIComponent('virtual:x'))

// TINY_FS_SKIP says why when this process cannot mount a tmpfs (not root, not Linux)
describe.skipIf(TINY_FS_SKIP !== null)('a spool disk that fills up or turns read-only', () => {
  // drop-oldest (the default): the spool's oldest frames go (spool-full); drop-newest: the
  // spool keeps what it has, the ring fills and new frames go (ring-full)
  for (const [policy, reason] of [
    ['drop-oldest', 'spool-full'],
    ['drop-newest', 'ring-full'],
  ] as const)
    it(`issue 14 (${policy}): --spool-bytes 1M on a 256 KiB disk, 10,000 frames/s, server away then back: every frame delivered or reported, acknowledged data freed`, async () => {
      const PRODUCED = 60_000
      const fs = tinyFs(256 * 1024)
      const spoolDir = join(fs.dir, 'spool')
      const port = await freePort()
      const e = await edge(
        [
          '--server',
          `127.0.0.1:${port}`,
          '--channel',
          `virtual:x?rate=10000&count=${PRODUCED}`,
          '--spool-dir',
          spoolDir,
          '--spool-bytes',
          '1M',
          '--ring-bytes',
          '16K',
          '--drop-policy',
          policy,
        ],
        'connecting',
      )
      // the disk fills long before --spool-bytes; the drop is counted at once (its range is
      // known, logged and reported once the ring's cursor gets there: maybe only after the
      // server is back)
      const counter = reason === 'ring-full' ? 'dropsRingFull' : 'dropsSpoolFull'
      await e.waitForLog(
        (l) => l.msg === 'stats' && (l['channels'] as Record<string, number>[])[0]![counter]! > 0,
        30_000,
        `a ${reason} drop on the full disk`,
      )
      await e.waitForLog(
        (l) =>
          l.msg === 'stats' &&
          (l['channels'] as { framesRead: number }[])[0]!.framesRead === PRODUCED,
        60_000,
        'every frame produced',
      )
      expect(e.child.exitCode).toBeNull()

      const { server } = await serverOn(port)
      const a = await everyFrameAccounted(server, PRODUCED, 60_000)
      expect(a.reported).toBeGreaterThan(0)
      expect(server.state.drops.map((d) => d.reason)).toContain(reason)

      // everything was acknowledged: the spool gives the disk back
      const dir = channelDir(spoolDir)
      await segmentsFreed(dir)
      expect(await freeBytes(fs.dir)).toBeGreaterThan(200 * 1024)
      expect(await e.stop()).toBe(0)
      expect(await readdir(dir)).toEqual(['state.json'])
      // the ack point moved with the freed segments (the issue found it stuck at 0), and
      // numbering continues after the last frame
      const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8'))
      expect(state.nextSeq).toBe(PRODUCED)
      expect(state.ackSeq).toBeGreaterThan(0)
    }, 180_000)

  it('a spool that failed still ends with the exact numbering at a clean stop: the next start continues without a gap', async () => {
    const PRODUCED = 2000
    const fs = tinyFs(256 * 1024)
    const spoolDir = join(fs.dir, 'spool')
    mkdirSync(spoolDir)
    await fillWithOtherData(fs.dir)
    const { server, port } = await serverOn()
    const e = await edge(
      [
        '--server',
        `127.0.0.1:${port}`,
        '--channel',
        `virtual:x?rate=2000&count=${PRODUCED}`,
        '--spool-dir',
        spoolDir,
      ],
      'connected to the server',
    )
    // the numbering reservation cannot be written: the spool counts as failed from here on
    await e.waitForLog((l) => /^spool \w+ failed;/.test(l.msg), 30_000, 'the spool refusing')
    await everyFrameAccounted(server, PRODUCED, 60_000)
    // space comes back, but no frame needs the spool again before the stop
    await writeFile(join(fs.dir, 'other-data'), '')
    expect(await e.stop()).toBe(0)
    const state = JSON.parse(await readFile(join(channelDir(spoolDir), 'state.json'), 'utf8'))
    expect(state.nextSeq).toBe(PRODUCED)
  }, 120_000)

  it('starts and streams with a full spool disk, says so, and spools again once space comes back', async () => {
    const PRODUCED = 30_000
    const fs = tinyFs(512 * 1024)
    const spoolDir = join(fs.dir, 'spool')
    mkdirSync(spoolDir)
    await fillWithOtherData(fs.dir)
    // a server that does not acknowledge: the ring fills with unacknowledged frames
    const { server, port } = await serverOn(0, { autoAck: false })
    const e = await edge(
      [
        '--server',
        `127.0.0.1:${port}`,
        '--channel',
        `virtual:x?rate=5000&count=${PRODUCED}`,
        '--spool-dir',
        spoolDir,
        '--ring-bytes',
        '16K',
      ],
      'connected to the server',
    )
    expect(e.logs.find((l) => l.msg.startsWith('SPOOL UNUSABLE'))).toMatchObject({
      code: 'ENOSPC',
      spoolDir,
    })
    // the first spool write to fail says so (the numbering reservation, or an append)
    await e.waitForLog((l) => /^spool \w+ failed;/.test(l.msg), 30_000, 'the spool refusing')
    await server.waitFor(() => server.state.count(0) > 0, 10_000, 'frames streamed')

    await writeFile(join(fs.dir, 'other-data'), '') // space comes back
    await e.waitForMsg('spool usable again', 60_000)
    await e.waitForLog(
      (l) => l.msg === 'stats' && (l['channels'] as { spoolBytes: number }[])[0]!.spoolBytes > 0,
      10_000,
      'frames in the spool',
    )
    // the server acknowledges again: all of it is delivered or reported, and freed
    const acks = setInterval(() => server.ack(), 100)
    cleanups.push(() => clearInterval(acks))
    await everyFrameAccounted(server, PRODUCED, 60_000)
    const dir = channelDir(spoolDir)
    await segmentsFreed(dir)
    expect(await e.stop()).toBe(0)
  }, 120_000)

  it('starts and streams with a read-only spool disk, doctor says FAIL, and the spool is opened once it is writable', async () => {
    const PRODUCED = 20_000
    const fs = tinyFs(256 * 1024)
    const spoolDir = join(fs.dir, 'spool')
    mkdirSync(spoolDir)
    fs.readOnly()
    const { server, port } = await serverOn()

    const doctor = spawnSync(
      process.execPath,
      [
        MAIN,
        'doctor',
        '--server',
        `127.0.0.1:${port}`,
        '--channel',
        'virtual:x',
        '--spool-dir',
        spoolDir,
      ],
      { encoding: 'utf8' },
    )
    expect(doctor.stdout).toMatch(
      /^FAIL\s+spool\s+.*takes no writes: the file system is read-only.*\(EROFS\)$/m,
    )
    expect(doctor.status).toBe(1)

    const e = await edge(
      [
        '--server',
        `127.0.0.1:${port}`,
        '--channel',
        `virtual:x?rate=5000&count=${PRODUCED}`,
        '--spool-dir',
        spoolDir,
        '--ring-bytes',
        '16K',
      ],
      'connected to the server',
    )
    expect(
      e.logs.find((l) => l.msg.startsWith('SPOOL UNUSABLE: the spool directory')),
    ).toMatchObject({ code: 'EROFS' })
    // the channel's directory cannot even be made: that channel runs with its ring only
    expect(e.logs.find((l) => l.msg.startsWith('SPOOL UNUSABLE: this channel'))).toMatchObject({
      channel: 'virtual:x',
    })
    await server.waitFor(() => server.state.count(0) > 0, 10_000, 'frames streamed')

    fs.readWrite()
    await e.waitForLog(
      (l) => l.msg === 'spool opened' && l['channel'] === 'virtual:x',
      60_000,
      'the spool opened once the disk takes writes',
    )
    await e.waitForMsg('spool usable again', 5_000)
    await everyFrameAccounted(server, PRODUCED, 30_000)
    expect(await e.stop()).toBe(0)
    expect(await readdir(channelDir(spoolDir))).toEqual(['state.json'])
  }, 120_000)
})
