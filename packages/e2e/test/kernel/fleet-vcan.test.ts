// The fleet on real SocketCAN (kernel harness): cangen on vcan0 → a real canbridge-edge →
// `canbridge gateway` → JetStream (nats-server on loopback in the same kernel) → a FleetClient
// reader, compared frame for frame with `candump -L` on the same interface: id, flags (FD,
// BRS, ESI included), data and the kernel's receive time to the µs. What the stream holds is
// audited on its own, batch by batch with the NATS client: every sequence once, in order.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import {
  CandumpLog,
  canReceivers,
  DIST_MAIN,
  settled,
  startEdge,
  waitForNewReceiver,
} from '@canbridge/edge-client/testing'
import { FleetClient, type FleetFrame } from '@canbridge/fleet'
import { NatsServer } from '@canbridge/fleet/testing'
import { DataBatch, FRAME_FLAG } from '@canbridge/protocol'
import { formatCandumpLogLine, parseCandumpLogLine } from '@canbridge/server-bus'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterAll, describe, expect, it } from 'vitest'
import { audit, startGateway } from '../support/fleet-rig.ts'

const inKernel = process.env['CANBRIDGE_KERNEL'] !== undefined
const fd = process.env['CANBRIDGE_VCAN_FD'] === '1'
const IFACE = 'vcan0'
const STREAM = 'KERNEL'
const EDGE_ID = 'bench-vcan'

// fixed counts (-n), 1 ms apart (-g 1; cangen's default is 200 ms): random standard ids,
// lengths and data; extended ids with growing lengths; remote frames; and on an FD interface
// FD frames of every length with and without BRS and ESI
const CLASSIC = [
  ['-n', '400'],
  ['-n', '300', '-e', '-L', 'i', '-D', 'i'],
  ['-n', '100', '-R'],
]
const CAN_FD = [
  ['-n', '300', '-f'],
  ['-n', '200', '-f', '-b'],
  ['-n', '200', '-f', '-b', '-E', '-e'],
]

const run = promisify(execFile)

/** Waits until `check` holds; fails saying what it saw (a guard, not a speed budget). */
async function until(check: () => boolean, what: () => string, timeoutMs = 120_000) {
  const deadline = performance.now() + timeoutMs
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`gave up waiting: ${what()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const cleanups: (() => Promise<unknown> | unknown)[] = []
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/**
 * The edge sequence numbers the stream's raw messages carry, in stream order, read with the
 * NATS client and the batch header alone (not through FleetClient, which hides repeats).
 */
async function storedSequences(natsUrl: string): Promise<number[]> {
  const nc = await connect({ servers: natsUrl })
  try {
    const jsm = await jetstreamManager(nc)
    const info = await jsm.streams.info(STREAM)
    const seqs: number[] = []
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const message = await jsm.streams.getMessage(STREAM, { seq })
      if (message === null || !message.subject.includes('.raw.')) continue
      const batch = DataBatch.parse(message.data)
      for (let i = 0; i < batch.count; i++) seqs.push(batch.firstSeq + i)
    }
    return seqs
  } finally {
    await nc.close()
  }
}

// Needs real SocketCAN: collected only by vitest.kernel.config.ts inside the kernel harness
// (which sets CANBRIDGE_KERNEL); skipped anywhere else.
describe.skipIf(!inKernel)('fleet on vcan: cangen → edge → gateway → JetStream → reader', () => {
  it('the reader gets every frame candump saw, once and in order: id, flags, data, kernel time to the µs', async () => {
    const nats = await NatsServer.start()
    cleanups.push(() => nats.remove())
    const gateway = startGateway(nats.url, STREAM, 'gw-kernel')
    cleanups.push(() => gateway.kill())
    // every process start is slow under UML: more than CliProcess.port()'s default wait
    const port = Number((await gateway.waitForStderr(/listening on 127\.0\.0\.1:(\d+)/, 60_000))[1])

    const candump = new CandumpLog(IFACE)
    cleanups.push(() => candump.stop())
    await candump.listening()
    const before = canReceivers(IFACE)
    const edge = await startEdge(
      ['--server', `127.0.0.1:${port}`, '--channel', IFACE, '--edge-id', EDGE_ID],
      {},
      'connected to the server',
      DIST_MAIN,
      60_000,
    )
    cleanups.push(() => edge.stop('SIGKILL'))
    // the edge's socket is in the kernel's receive list before the first frame is sent
    await waitForNewReceiver(IFACE, before)

    const reader = await FleetClient.connect({ servers: nats.url }, { stream: STREAM })
    cleanups.push(() => reader.close())
    const events: unknown[] = []
    reader.on('gap', (gap) => events.push({ gap }))
    reader.on('drop', (drop) => events.push({ drop }))
    const got: FleetFrame[] = []
    let readError: unknown
    const reading = (async () => {
      for await (const frame of reader.frames({ edge: EDGE_ID, channel: IFACE, from: 'all' })) {
        got.push(frame)
      }
    })().catch((error: unknown) => {
      readError = error
    })

    const runs = fd ? [...CLASSIC, ...CAN_FD] : CLASSIC
    const sent = runs.reduce((sum, args) => sum + Number(args[1]), 0)
    // one shell for all of it: every process start is slow under UML
    const script = runs.map((args) => `cangen ${IFACE} -g 1 ${args.join(' ')}`).join('\n')
    // not execFileSync: the reader and candump's pipe are served by this event loop meanwhile
    await run('sh', ['-ec', script])

    // every frame at both ends (candump too can lag seconds behind on UML's one CPU), then a
    // quiet second in which a repeat would show
    await until(
      () => (candump.lines.length >= sent && got.length >= sent) || readError !== undefined,
      () => `candump ${candump.lines.length}, reader ${got.length} of ${sent} frames`,
    )
    await settled(() => got.length + candump.lines.length, 1000)
    const lines = await candump.stop()
    const want = lines.map((line) => {
      const parsed = parseCandumpLogLine(line)
      if (parsed?.kind !== 'frame') throw new Error(`not a candump frame line: ${line}`)
      return parsed
    })
    expect(candump.dropReports).toEqual([])
    expect(want.length).toBe(sent)
    expect(readError).toBeUndefined()
    expect(got.length, `frames read from the fleet of ${sent} sent`).toBe(sent)

    // each channel's sequence from 0, nothing missing, repeated or out of order
    expect(got.map((f) => f.seq)).toEqual([...want.keys()])
    expect(events).toEqual([])
    for (const frame of got) {
      expect(frame.edgeId).toBe(EDGE_ID)
      expect(frame.channel).toBe(`${EDGE_ID}/${IFACE}`)
      expect(frame.isRx).toBe(true)
    }
    // each frame as candump -L writes it (its time truncated to the µs, FD flags with FDF as
    // Linux >= 6.0 delivers them) against candump's own line for the same frame
    const mismatched = got
      .map((frame, i) => ({ i, got: formatCandumpLogLine(frame, IFACE, 0).trim(), want: lines[i] }))
      .filter((pair) => pair.got !== pair.want)
    expect(mismatched.slice(0, 5), `${mismatched.length} of ${sent} frames differ`).toEqual([])
    if (fd) {
      // the mix really holds what it is meant to test
      const count = (bits: number) => want.filter((w) => (w.flags & bits) === bits).length
      expect(count(FRAME_FLAG.FD)).toBe(700)
      expect(count(FRAME_FLAG.FD | FRAME_FLAG.BRS)).toBe(400)
      expect(count(FRAME_FLAG.FD | FRAME_FLAG.ESI)).toBe(200)
    }
    expect(want.filter((w) => w.flags & FRAME_FLAG.RTR).length).toBe(100)

    // the stream itself: each sequence number stored once, in order
    expect(audit(await storedSequences(nats.url), sent)).toEqual({
      missing: 0,
      duplicated: 0,
      reordered: 0,
    })
    await reader.close()
    await reading
  })
})
