// The built daemon on real SocketCAN (vcan), killed and restarted during a server outage with
// its disk spool, received through a real TCPBus and checked line by line against candump -L.
// Run by `pnpm test:kernel` inside scripts/kernel-harness.sh, which sets CANBRIDGE_KERNEL.
//
// What the spool promises (src/spool/FORMAT.md, socket-write.worker.ts): frames leave the
// memory ring for the spool when the ring passes --high-water while the server is away; each
// append is one write() into a checksummed segment, so once it returns the frames survive the
// process (SIGKILL; fsync only matters for a power cut, FORMAT.md §4.1). Frames still in the
// ring die with the process. SIGTERM moves the ring to the spool before exiting.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  CandumpLog,
  candumpLine,
  DIST_MAIN,
  EdgeProcess,
  type LogLine,
  withoutTime,
} from '@canbridge/edge-client/testing'
import { type CanMessage, type GapEvent, TCPBus } from '@canbridge/server-bus'
import { afterEach, describe, expect, it } from 'vitest'
import { TcpRelay } from './support/tcp-relay.ts'

const inKernel = process.env['CANBRIDGE_KERNEL'] !== undefined
const IFACE = 'vcan0'
/** every frame of these tests is classic with 8 data bytes: a 14-byte record header + 8 */
const RECORD_BYTES = 22
/** frames per phase: before the outage, during it, after the restart */
const BEFORE = 500
const DURING = 2500
const AFTER = 500
/** numbers the edge reserves on disk ahead of its ring's numbering (socket-write.worker.ts) */
const SEQ_LEASE = 65_536

const quiet = { debug() {}, info() {}, warn() {}, error() {} }

const cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

interface ChannelStatsLine {
  framesRead: number
  framesAcked: number
  ringBytes: number
  spoolBytes: number
  spoolFrames: number
  dropsRingFull: number
  dropsSpoolFull: number
}

interface Rig {
  bus: TCPBus
  relay: TcpRelay
  dump: CandumpLog
  received: CanMessage[]
  gaps: GapEvent[]
  /** starts an edge on the rig's spool; resolves once its spool is open */
  startEdge: () => Promise<EdgeProcess>
  /** `edgeId/interface` */
  channel: string
}

const channelStats = (line: LogLine): ChannelStatsLine =>
  (line['channels'] as ChannelStatsLine[])[0]!

/** An outage rig: TCPBus ← relay ← edge, candump on the interface, everything received kept. */
async function rig(edgeId: string): Promise<Rig> {
  const bus = await TCPBus.listen({ port: 0, host: '127.0.0.1', logger: quiet })
  const received: CanMessage[] = []
  const consuming = (async () => {
    for await (const batch of bus.batches({ maxFrames: 4096 })) received.push(...batch)
  })()
  cleanups.push(async () => {
    await bus.shutdown() // ends the iteration
    await consuming
  })
  const relay = new TcpRelay((bus.address as { port: number }).port)
  await relay.listen()
  cleanups.push(() => relay.close())
  const gaps: GapEvent[] = []
  bus.on('gap', (gap) => gaps.push(gap))
  const dump = new CandumpLog(IFACE)
  cleanups.push(() => dump.stop())
  await dump.listening()
  const spoolDir = mkdtempSync(join(tmpdir(), 'canbridge-spool-restart-'))
  cleanups.push(() => rmSync(spoolDir, { recursive: true, force: true }))
  // a 16 KiB ring (the smallest) spills after ~370 frames: the outage really reaches the disk
  const args = [
    '--server',
    `127.0.0.1:${relay.port}`,
    '--channel',
    IFACE,
    '--edge-id',
    edgeId,
    '--ring-bytes',
    '16K',
    '--spool-dir',
    spoolDir,
    '--spool-bytes',
    '4M',
    '--stats-interval',
    '200ms',
    '--log-level',
    'info',
  ]
  const startEdge = async (): Promise<EdgeProcess> => {
    const edge = new EdgeProcess(args, {}, DIST_MAIN)
    cleanups.push(() => edge.stop('SIGKILL'))
    const opened = edge.waitForMsg('spool opened', 60_000)
    opened.catch(() => {}) // raced below: an edge that exits first fails the start at once
    const first = await Promise.race([opened, edge.exited().then((code) => ({ exitedWith: code }))])
    if ('exitedWith' in first)
      throw new Error(`the edge exited (${first.exitedWith}): ${edge.stderr}`)
    return edge
  }
  await new Promise((resolve) => setTimeout(resolve, 300)) // candump's socket is open
  return { bus, relay, dump, received, gaps, startEdge, channel: `${edgeId}/${IFACE}` }
}

/** `count` frames of id `id` with a counting payload, one per ms (cangen's pace under UML). */
async function cangen(id: string, count: number): Promise<void> {
  const child = spawn(
    'cangen',
    [IFACE, '-g', '1', '-I', id, '-L', '8', '-D', 'i', '-n', `${count}`],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  )
  const code = await new Promise((resolve) => child.once('exit', resolve))
  expect(code).toBe(0)
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * The edge's statistics once it has read `framesRead` frames and nothing moves any more
 * (three stats lines in a row alike): the ring and spool levels at that moment.
 */
async function settledStats(edge: EdgeProcess, framesRead: number): Promise<ChannelStatsLine> {
  const key = (s: ChannelStatsLine) => `${s.framesRead}/${s.ringBytes}/${s.spoolFrames}`
  await until(
    () => {
      const last = edge.logs
        .filter((l) => l.msg === 'stats')
        .slice(-3)
        .map(channelStats)
      return (
        last.length === 3 && last[0]!.framesRead === framesRead && new Set(last.map(key)).size === 1
      )
    },
    30_000,
    `the edge's stats to settle at ${framesRead} frames read`,
  )
  return channelStats(edge.lastStats()!)
}

/**
 * Frames held only by the memory ring: read, neither acknowledged nor spooled. Checked
 * against the ring's fill in bytes, which may also hold the padding of one wrap (< 1 record).
 */
function framesInRing(s: ChannelStatsLine): number {
  const frames = s.framesRead - s.framesAcked - s.spoolFrames
  const padding = s.ringBytes - frames * RECORD_BYTES
  expect(
    padding >= 0 && padding < RECORD_BYTES,
    `ring ${s.ringBytes} bytes for ${frames} frames`,
  ).toBe(true)
  return frames
}

/** Waits until the edge has handed everything over: ring and spool empty, nothing new. */
async function drained(edge: EdgeProcess, received: CanMessage[]): Promise<void> {
  let last = -1
  let stableSince = Date.now()
  await until(
    () => {
      if (received.length !== last) {
        last = received.length
        stableSince = Date.now()
      }
      const s = channelStats(edge.lastStats()!)
      return s.ringBytes === 0 && s.spoolFrames === 0 && Date.now() - stableSince > 1500
    },
    60_000,
    'the edge to hand over its ring and spool',
  )
}

/**
 * `got` (received, as candump lines) must be `want` line for line, timestamps to the µs,
 * the first frame each edge process read included (the kernel's stamp, SO_TIMESTAMPNS).
 */
function expectSameFrames(got: string[], want: string[]): void {
  expect(got.map(withoutTime)).toEqual(want.map(withoutTime))
  const mismatched = got.filter((line, i) => line !== want[i])
  expect(mismatched).toEqual([])
}

/**
 * Before the outage: the edge streams BEFORE frames to the server; then the server is cut off
 * while DURING frames arrive. The traffic pauses there, so the edge's figures are final.
 */
async function throughOutage(
  r: Rig,
): Promise<{ edge: EdgeProcess; stats: ChannelStatsLine; inRing: number }> {
  const edge = await r.startEdge()
  await edge.waitForMsg('connected to the server', 60_000)
  await cangen('100', BEFORE)
  await until(() => r.received.length === BEFORE, 30_000, `${BEFORE} frames before the outage`)
  await r.relay.close()
  await edge.waitForMsg('server connection lost; reconnecting', 10_000)
  await cangen('200', DURING)
  const stats = await settledStats(edge, BEFORE + DURING)
  expect(stats.spoolFrames, 'frames in the spool').toBeGreaterThan(0)
  expect(stats.spoolBytes).toBeGreaterThan(0)
  const inRing = framesInRing(stats)
  expect(inRing, 'frames only in the memory ring').toBeGreaterThan(0)
  expect(stats.dropsRingFull + stats.dropsSpoolFull).toBe(0)
  return { edge, stats, inRing }
}

/**
 * After the first edge is gone: a new one on the same spool, the server back, AFTER frames,
 * until everything is handed over. Returns the new edge's `spool opened` line, candump's log
 * and what the server received, as candump lines.
 */
async function afterRestart(r: Rig): Promise<{ opened: LogLine; want: string[]; got: string[] }> {
  const edge = await r.startEdge()
  const opened = await edge.waitForMsg('spool opened')
  // SIGKILL tears nothing either: each append was one completed write
  expect(opened['problems']).toEqual([])
  await r.relay.listen()
  await edge.waitForMsg('connected to the server', 60_000)
  await cangen('300', AFTER)
  await drained(edge, r.received)
  const want = await r.dump.stop()
  expect(r.dump.dropReports).toEqual([])
  expect(want.length).toBe(BEFORE + DURING + AFTER)
  return { opened, want, got: r.received.map((m) => candumpLine(m, IFACE)) }
}

// Needs real SocketCAN: collected only by vitest.kernel.config.ts inside the kernel harness;
// the guard keeps a stray run elsewhere from reporting kernel failures.
describe.skipIf(!inKernel)('edge restarted with its spool during an outage (kernel tests)', () => {
  it('SIGKILL: what reached the spool is replayed once, in order; what the ring held is lost and counted as a gap', async () => {
    const r = await rig('spool-kill')
    const { edge: first, stats: atKill, inRing } = await throughOutage(r)
    first.child.kill('SIGKILL')
    expect(await first.exited()).toBe(null)
    const { opened, want, got } = await afterRestart(r)

    // everything the dead edge read arrived (acknowledged before the outage, or replayed
    // from its spool) except its ring's content; then the new edge's frames
    const durable = BEFORE + DURING - inRing
    // the spool the new edge recovered ends exactly where the frames from before the kill end
    expect(Number(opened['firstSeq']) + Number(opened['frames'])).toBe(durable)
    expectSameFrames(got, [...want.slice(0, durable), ...want.slice(BEFORE + DURING)])
    // the frames lost with the ring are not silent: the server counts them in one gap right
    // where the spool ended. The restarted edge numbers from past the dead one's sequence
    // lease, so the gap may hold up to a lease of numbers no frame ever had.
    const stats = r.bus.stats().channels[r.channel]!
    expect(r.gaps.map((g) => g.expectedSeq)).toEqual([durable])
    expect(stats.gaps).toBeGreaterThanOrEqual(inRing)
    expect(stats.gaps).toBeLessThanOrEqual(inRing + SEQ_LEASE)
    expect(stats.framesIn).toBe(got.length)
    console.log(
      `spool-kill: ${want.length} frames on the bus; ${durable} delivered from before the kill (${atKill.spoolFrames} of them from the spool), ${inRing} lost in the ring, server gap ${stats.gaps}, duplicates discarded ${stats.duplicates}`,
    )
  })

  it('SIGTERM: the ring goes to the spool, and after the restart nothing at all is lost', async () => {
    const r = await rig('spool-term')
    const { edge: first, stats: atStop, inRing } = await throughOutage(r)
    expect(await first.stop('SIGTERM')).toBe(0)
    const flushed = await first.waitForMsg('flushed')
    expect({ spooled: flushed['spooled'], lost: flushed['lost'] }).toEqual({
      spooled: inRing,
      lost: 0,
    })
    const { opened, want, got } = await afterRestart(r)

    expect(opened['frames']).toBe(atStop.spoolFrames + inRing)
    expect(Number(opened['firstSeq']) + Number(opened['frames'])).toBe(BEFORE + DURING)
    expect(opened['nextSeq']).toBe(BEFORE + DURING) // exact: no reservation after a clean stop
    expectSameFrames(got, want)
    const stats = r.bus.stats().channels[r.channel]!
    expect(r.gaps).toEqual([])
    expect(stats.gaps).toBe(0)
    expect(stats.edgeDrops).toEqual({})
    console.log(
      `spool-term: ${want.length} frames, all delivered; ${flushed['spooled']} spooled at SIGTERM, ${atStop.spoolFrames} before; duplicates discarded ${stats.duplicates}`,
    )
  })
})
