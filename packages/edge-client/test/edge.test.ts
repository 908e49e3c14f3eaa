// The whole daemon (virtual backend) against a scripted server over real loopback TCP.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FRAME_FLAG } from '@canbridge/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { type EdgeProcess, startEdge } from '../src/testing/edge-process.ts'
import {
  frameNumber,
  type ReceivedFrame,
  ScriptedServer,
  ServerState,
} from './helpers/scripted-server.ts'

const cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function server(
  options: ConstructorParameters<typeof ScriptedServer>[0] = {},
  port = 0,
): Promise<{ server: ScriptedServer; port: number }> {
  const s = new ScriptedServer(options)
  const bound = await s.listen(port)
  cleanups.push(() => s.close())
  return { server: s, port: bound }
}

async function edge(args: string[], readyMsg?: string): Promise<EdgeProcess> {
  const e = await startEdge(
    ['--stats-interval', '1s', '--log-level', 'debug', ...args],
    {},
    readyMsg,
  )
  cleanups.push(() => e.stop('SIGKILL'))
  return e
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'canbridge-edge-test-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Sequences continuous from `from`, and each counter frame carries its own number. */
function expectContinuous(
  frames: ReceivedFrame[],
  from: number,
  count: number,
  numberOffset = from,
): void {
  expect(frames.length).toBe(count)
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i]!
    if (f.seq !== from + i || frameNumber(f) !== f.seq - numberOffset) {
      expect({ i, seq: f.seq, n: frameNumber(f) }).toEqual({
        i,
        seq: from + i,
        n: from + i - numberOffset,
      })
    }
  }
}

describe('edge daemon over loopback TCP', () => {
  it('streams frames in order with continuous sequence numbers and kernel-style timestamps', async () => {
    const { server: s, port } = await server()
    const e = await edge([
      '--server',
      `127.0.0.1:${port}`,
      '--channel',
      'virtual:a?rate=20000&count=10000',
    ])
    await s.waitFor(() => s.state.count(0) === 10_000, 10_000, '10,000 frames')
    const frames = s.state.channel(0)
    expectContinuous(frames, 0, 10_000)
    expect(s.state.duplicates).toBe(0)
    expect(s.state.gaps).toEqual([])
    const hello = s.state.hellos[0]!
    expect(hello.channels).toEqual([{ name: 'virtual:a', fd: false, nextSeq: 0 }])
    expect(hello.capabilities).toEqual(expect.arrayContaining(['transmit', 'periodic', 'filters']))
    // timestamps: nanoseconds since the epoch, non-decreasing, close to now
    const now = BigInt(Date.now()) * 1_000_000n
    for (let i = 1; i < frames.length; i++)
      expect(frames[i]!.timestampNs >= frames[i - 1]!.timestampNs).toBe(true)
    expect(now - frames[0]!.timestampNs < 30_000_000_000n).toBe(true)
    expect(await e.stop()).toBe(0)
  })

  it('carries CAN FD, extended and remote frames as they are (mixed pattern, two channels)', async () => {
    const { server: s, port } = await server()
    await edge([
      '--server',
      `127.0.0.1:${port}`,
      '--channel',
      'virtual:fd?rate=5000&count=600&pattern=mixed',
      '--channel',
      'virtual:classic?rate=5000&count=300',
    ])
    await s.waitFor(
      () => s.state.count(0) === 600 && s.state.count(1) === 300,
      10_000,
      'both channels',
    )
    expect(s.state.hellos[0]!.channels.map((c) => [c.name, c.fd])).toEqual([
      ['virtual:fd', true],
      ['virtual:classic', false],
    ])
    const fd = s.state.channel(0)
    expect(fd[2]!.flags & FRAME_FLAG.RTR).toBeTruthy()
    expect(fd[2]!.len).toBe(4)
    expect(fd[2]!.data.length).toBe(0)
    expect(fd[3]!.flags).toBe(FRAME_FLAG.FD | FRAME_FLAG.BRS)
    expect(fd[3]!.len).toBe(64)
    expect(fd[1]!.flags).toBe(FRAME_FLAG.EXT)
    expect(fd[1]!.id).toBe(0x18da0000 + 1)
    expect(fd[5]!.flags).toBe(FRAME_FLAG.FD | FRAME_FLAG.EXT)
    expect(fd.map((f) => f.seq)).toEqual([...Array(600).keys()])
    expectContinuous(s.state.channel(1), 0, 300)
  })

  it('connects over a Unix socket', async () => {
    const dir = tempDir()
    const path = join(dir, 'server.sock')
    const s = new ScriptedServer()
    await s.listenUnix(path)
    cleanups.push(() => s.close())
    await edge(['--server', `unix:${path}`, '--channel', 'virtual:u?rate=2000&count=500'])
    await s.waitFor(() => s.state.count(0) === 500, 10_000, '500 frames')
    expectContinuous(s.state.channel(0), 0, 500)
  })

  it('survives the server being killed and restarted mid-stream: zero loss, duplicates only in the overlap', async () => {
    const state = new ServerState()
    const first = new ScriptedServer({ state, heartbeatMs: 500 })
    const port = await first.listen(0)
    const e = await edge([
      '--server',
      `127.0.0.1:${port}`,
      '--channel',
      'virtual:k?rate=10000&count=30000',
    ])
    await first.waitFor(() => state.count(0) > 5000, 10_000, '5,000 frames')
    await first.close()
    await new Promise((resolve) => setTimeout(resolve, 700))
    const second = new ScriptedServer({ state, heartbeatMs: 500 })
    await second.listen(port)
    cleanups.push(() => second.close())
    await second.waitFor(() => state.count(0) === 30_000, 20_000, 'all 30,000 frames')
    expectContinuous(state.channel(0), 0, 30_000)
    expect(state.gaps).toEqual([])
    expect(state.hellos.length).toBe(2)
    // the edge resumed from what the server held: nothing below it was sent again
    expect(state.duplicates).toBe(0)
    await e.waitForLog(
      (l) =>
        l.msg === 'connected to the server' &&
        Array.isArray(l['resume']) &&
        l['resume'][0] !== null,
    )
  })

  it('resends from the last ACK when the server lost what it had not acknowledged', async () => {
    const state = new ServerState()
    const first = new ScriptedServer({ state, autoAck: false })
    const port = await first.listen(0)
    await edge(['--server', `127.0.0.1:${port}`, '--channel', 'virtual:r?rate=5000&count=5000'])
    await first.waitFor(() => state.count(0) >= 2000, 10_000, '2,000 frames')
    first.ack(0)
    const acked = state.nextSeq[0]!
    await new Promise((resolve) => setTimeout(resolve, 100))
    await first.close()
    // the new server remembers only what it acknowledged
    state.frames[0] = state.channel(0).filter((f) => f.seq < acked)
    state.nextSeq[0] = acked
    const second = new ScriptedServer({ state })
    await second.listen(port)
    cleanups.push(() => second.close())
    await second.waitFor(() => state.count(0) === 5000, 15_000, 'all frames')
    expectContinuous(state.channel(0), 0, 5000)
  })

  it('keeps everything through server backpressure: ring, then spool, then all delivered', async () => {
    const { server: s, port } = await server({ heartbeatMs: 500 })
    const spool = tempDir()
    const e = await edge([
      '--server',
      `127.0.0.1:${port}`,
      '--channel',
      // a rate the spool mover keeps up with on a slow, busy machine: this test is about
      // losing nothing through backpressure; a mover that cannot keep up drops by the drop
      // policy, counted (the tests below)
      'virtual:bp?rate=10000&count=150000',
      // room for seconds of a starved mover past the high-water mark (a CI run beside a
      // kernel harness once filled a 1 MiB ring before the spool's first append landed)
      '--ring-bytes',
      '4M',
      '--spool-dir',
      spool,
    ])
    await s.waitFor(() => s.state.count(0) > 1000, 10_000, 'first frames')
    s.pause()
    // past the ring's high-water mark (half of it, 2 MiB: ~95,000 frames of 22 bytes) the
    // spool takes the frames the paused server does not
    await e.waitForLog(
      (l) =>
        l.msg === 'stats' && (l['channels'] as { spoolFrames: number }[])[0]!.spoolFrames > 20_000,
      60_000,
      'spooled frames',
    )
    // and no frame was dropped while the spool took them
    expect(e.logs.filter((l) => l.msg === 'frames dropped')).toEqual([])
    s.resume()
    await s.waitFor(() => s.state.count(0) === 150_000, 60_000, 'all 150,000 frames')
    expectContinuous(s.state.channel(0), 0, 150_000)
    expect(s.state.drops).toEqual([])
    const stats = await e.waitForLog(
      (l) =>
        l.msg === 'stats' &&
        (l['channels'] as { dropsRingFull: number; framesAcked: number }[])[0]!.framesAcked ===
          150_000,
      30_000,
      'all acknowledged',
    )
    expect((stats['channels'] as { dropsRingFull: number }[])[0]!.dropsRingFull).toBe(0)
  }, 240_000)

  it('reports frames lost to a full ring (no spool, drop-newest) with their sequence ranges', async () => {
    const { server: s, port } = await server({ heartbeatMs: 500 })
    const e = await edge([
      '--server',
      `127.0.0.1:${port}`,
      '--channel',
      'virtual:rf?rate=20000&count=40000',
      '--ring-bytes',
      '16K',
      '--drop-policy',
      'drop-newest',
    ])
    await s.waitFor(() => s.state.count(0) > 100, 10_000, 'first frames')
    s.pause()
    await new Promise((resolve) => setTimeout(resolve, 1000))
    s.resume()
    await s.waitFor(() => (s.state.nextSeq[0] ?? 0) === 40_000, 60_000, 'the last sequence number')
    expectGapsExplained(s)
    expect(s.state.drops.every((d) => d.reason === 'ring-full')).toBe(true)
    expect(s.state.drops.length).toBeGreaterThan(0)
    const last = e.lastStats()
    expect(last).toBeDefined()
  }, 90_000)

  it('reports frames lost to a full spool (drop-oldest) with their ranges; the newest survive', async () => {
    const state = new ServerState()
    const first = new ScriptedServer({ state, heartbeatMs: 500 })
    const port = await first.listen(0)
    const spool = tempDir()
    const e = await edge([
      '--server',
      `127.0.0.1:${port}`,
      '--channel',
      'virtual:sf?rate=50000&count=200000',
      '--ring-bytes',
      '1M',
      '--spool-dir',
      spool,
      '--spool-bytes',
      '1M',
      '--drop-policy',
      'drop-oldest',
    ])
    await first.waitFor(() => state.count(0) > 1000, 10_000, 'first frames')
    await first.close()
    // 200,000 × 22 bytes = 4.4 MB into a 1 MiB spool while the server is away: the oldest go
    await e.waitForLog(
      (l) => l.msg === 'frames dropped' && l['reason'] === 'spool-full',
      20_000,
      'a spool-full drop',
    )
    await e.waitForLog(
      (l) =>
        l.msg === 'stats' && (l['channels'] as { framesRead: number }[])[0]!.framesRead === 200_000,
      20_000,
      'all frames read',
    )
    const second = new ScriptedServer({ state })
    await second.listen(port)
    cleanups.push(() => second.close())
    await second.waitFor(
      () => (state.nextSeq[0] ?? 0) === 200_000,
      30_000,
      'the last sequence number',
    )
    await e.waitForLog(
      (l) =>
        l.msg === 'stats' &&
        (l['channels'] as { framesAcked: number }[])[0]!.framesAcked === 200_000,
      10_000,
      'all acknowledged',
    )
    expectGapsExplained(second)
    expect(state.drops.some((d) => d.reason === 'spool-full')).toBe(true)
    // drop-oldest: the newest frames arrived
    expect(state.channel(0).at(-1)!.seq).toBe(199_999)
  }, 60_000)

  it('with drop-newest a full spool refuses more: the ring fills and new frames drop, reported', async () => {
    const state = new ServerState()
    const first = new ScriptedServer({ state, heartbeatMs: 500 })
    const port = await first.listen(0)
    const spool = tempDir()
    const e = await edge([
      '--server',
      `127.0.0.1:${port}`,
      '--channel',
      'virtual:dn?rate=50000&count=200000',
      '--ring-bytes',
      '256K',
      '--spool-dir',
      spool,
      '--spool-bytes',
      '1M',
      '--drop-policy',
      'drop-newest',
    ])
    await first.waitFor(() => state.count(0) > 1000, 10_000, 'first frames')
    await first.close()
    // counted at once; reported (DROPS) when the cursor reaches the gap, after reconnecting
    const full = await e.waitForLog(
      (l) =>
        l.msg === 'stats' && (l['channels'] as { framesRead: number }[])[0]!.framesRead === 200_000,
      20_000,
      'all frames read',
    )
    expect((full['channels'] as { dropsRingFull: number }[])[0]!.dropsRingFull).toBeGreaterThan(0)
    // a full spool must not make the edge spin: CPU stays low while it waits for the server
    const before = full['cpuUserMs'] as number
    await new Promise((resolve) => setTimeout(resolve, 2000))
    const after = e.lastStats()!['cpuUserMs'] as number
    expect(after - before).toBeLessThan(1000)
    const second = new ScriptedServer({ state })
    await second.listen(port)
    cleanups.push(() => second.close())
    // the newest frames were dropped: the stream ends in a reported gap
    // (a DROPS sent just as the first server died is sent again: count each number once)
    const reachedEnd = () => {
      const reported = new Set<number>()
      for (const d of state.drops)
        for (let q = d.fromSeq!; q < d.fromSeq! + d.count; q++) reported.add(q)
      return state.count(0) + reported.size === 200_000
    }
    await second.waitFor(
      reachedEnd,
      30_000,
      'every frame or its DROPS up to the last sequence number',
    )
    // the drops may all be at the end (no gap between received frames)
    expectGapsExplained(second, false)
    expect(state.drops.every((d) => d.reason === 'ring-full')).toBe(true)
    // drop-newest: the oldest frames (spooled first) all arrived, the newest did not
    expect(state.channel(0)[0]!.seq).toBe(0)
    expect(state.drops.some((d) => d.fromSeq! + d.count === 200_000)).toBe(true)
  }, 60_000)

  it('after a restart replays the spool first and continues the numbering', async () => {
    const spool = tempDir()
    // no server yet: everything goes to the spool at shutdown
    const { server: probe, port } = await server()
    await probe.close()
    const first = await edge(
      [
        '--server',
        `127.0.0.1:${port}`,
        '--channel',
        'virtual:rs?rate=5000&count=3000',
        '--spool-dir',
        spool,
      ],
      'connecting',
    )
    await first.waitForLog(
      (l) =>
        l.msg === 'stats' && (l['channels'] as { framesRead: number }[])[0]!.framesRead === 3000,
      10_000,
      '3,000 frames read',
    )
    expect(await first.stop()).toBe(0)
    const flushed = first.logs.find((l) => l.msg === 'flushed')!
    expect(flushed['spooled']).toBe(3000)
    expect(flushed['lost']).toBe(0)
    const s = new ScriptedServer()
    await s.listen(port)
    cleanups.push(() => s.close())
    const second = await edge([
      '--server',
      `127.0.0.1:${port}`,
      '--channel',
      'virtual:rs?rate=5000&count=2000',
      '--spool-dir',
      spool,
    ])
    await s.waitFor(() => s.state.count(0) === 5000, 15_000, '5,000 frames')
    const frames = s.state.channel(0)
    expect(s.state.hellos[0]!.channels[0]!.nextSeq).toBe(0)
    expectContinuous(frames.slice(0, 3000), 0, 3000)
    // the second process numbers its frames after the first's
    expectContinuous(frames.slice(3000), 3000, 2000, 3000)
    expect(await second.stop()).toBe(0)
  })

  it('detects a half-open link by heartbeat within a few seconds and reconnects', async () => {
    const { server: s, port } = await server({ heartbeatMs: 300 })
    const e = await edge(['--server', `127.0.0.1:${port}`, '--channel', 'virtual:h?rate=100'])
    const started = performance.now()
    s.goSilent()
    const lost = await e.waitForLog(
      (l) => l.msg === 'server connection lost; reconnecting',
      5000,
      'connection lost',
    )
    expect(String(lost['reason'])).toMatch(/half-open/)
    expect(performance.now() - started).toBeLessThan(3000)
    await s.waitFor(() => s.connections === 2, 5000, 'a second connection')
  })

  it('on SIGTERM flushes everything read to the server before exiting', async () => {
    const { server: s, port } = await server()
    const e = await edge(['--server', `127.0.0.1:${port}`, '--channel', 'virtual:t?rate=30000'])
    await s.waitFor(() => s.state.count(0) > 10_000, 10_000, '10,000 frames')
    expect(await e.stop('SIGTERM')).toBe(0)
    const flushed = e.logs.find((l) => l.msg === 'flushed')!
    expect(flushed['lost']).toBe(0)
    const stats = e.lastStats()!
    const read = (stats['channels'] as { framesRead: number }[])[0]!.framesRead
    expect(s.state.count(0)).toBe(read)
    expectContinuous(s.state.channel(0), 0, read)
  })
})

/** Every gap the server saw is covered exactly by DROPS ranges. */
function expectGapsExplained(s: ScriptedServer, gapsExpected = true): void {
  const missing = new Set<number>()
  for (const gap of s.state.gaps)
    for (let q = gap.fromSeq; q < gap.fromSeq + gap.count; q++) missing.add(q)
  const reported = new Set<number>()
  for (const d of s.state.drops)
    for (let q = d.fromSeq!; q < d.fromSeq! + d.count; q++) reported.add(q)
  if (gapsExpected) expect(missing.size).toBeGreaterThan(0)
  expect([...missing].filter((q) => !reported.has(q))).toEqual([])
  const received = new Set(s.state.channel(0).map((f) => f.seq))
  expect([...reported].filter((q) => received.has(q))).toEqual([])
}
