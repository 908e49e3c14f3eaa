// The benchmark's edge, run as a child process: connects to the TCPBus (plain TCP, or TLS 1.3
// with a token proof when given a CA file and a token), completes the handshake, then streams DATA batches on command over IPC, flat out or at a fixed rate with
// the send time (process.hrtime, a clock shared by both processes) in each frame's timestamp.
// At a fixed rate it also times the server's ACKs as an edge sees them, and counts the frames a
// real edge with a given ring would have moved to its spool (see `acked`).
import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { connect as connectTls, TLSSocket } from 'node:tls'
import {
  AUTH_TLS_EXPORTER_BYTES,
  AUTH_TLS_EXPORTER_LABEL,
  authProof,
  BatchEncoder,
  Decoder,
  encodeControl,
  encodePreamble,
  HEADER_BYTES,
  newAuthNonce,
  RECORD_HEADER_BYTES,
  ROLE,
} from '@canbridge/protocol'

export type EdgeCommand =
  | { cmd: 'stream'; count: number }
  | { cmd: 'rate'; fps: number; durationMs: number }
  /**
   * the same pacing, timing each frame from its write to the ACK that covers it; `ringFrames`:
   * unacknowledged frames the edge's ring keeps before it moves the next ones to its spool
   */
  | { cmd: 'acked'; fps: number; durationMs: number; ringFrames: number }
  /** the machine's floor: the same pacing, 8-byte timestamps over a plain TCP socket */
  | { cmd: 'raw'; port: number; fps: number; durationMs: number }
  | { cmd: 'exit' }

export type EdgeReport =
  | { event: 'ready' }
  | { event: 'done'; frames: number }
  | { event: 'acked'; frames: number; acks: AckReport }

/** What the edge saw of the server's ACKs during an `acked` run. */
export interface AckReport {
  /** ms from a frame's write to the ACK covering it, over every frame */
  p50Ms: number
  p99Ms: number
  maxMs: number
  /** frames written while `ringFrames` frames were unacknowledged: a real edge spools them */
  spooled: number
  /** most frames unacknowledged at once */
  maxUnacked: number
  /** the longest time nothing came from the server, and how often it reached 3 heartbeats */
  maxSilenceMs: number
  heartbeatTimeouts: number
}

const BATCH_FRAMES = Number(process.env['BENCH_BATCH_FRAMES'] ?? 4096)
const DATA_BYTES = 8
const RECORD_BYTES = RECORD_HEADER_BYTES + DATA_BYTES
const FIRST_SEQ_OFFSET = HEADER_BYTES + 4
const RECORDS_OFFSET = HEADER_BYTES + 12

const [portArg, caFile, token] = process.argv.slice(2)
const port = Number(portArg)
const socket: Socket =
  caFile === undefined
    ? connect({ port, host: '127.0.0.1' })
    : connectTls({ port, host: '127.0.0.1', ca: readFileSync(caFile), servername: 'localhost' })
socket.setNoDelay(true)
const authNonce = newAuthNonce()
const EDGE_ID = 'bench-edge'
let nextSeq = 0

// One pre-encoded batch: each send copies it and patches the sequence number (and times).
const encoder = new BatchEncoder({ maxFrames: BATCH_FRAMES })
encoder.begin(0, 0)
const payload = Uint8Array.of(0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88)
for (let i = 0; i < BATCH_FRAMES; i++) {
  encoder.addParts(1_700_000_000, i * 1000, 0x100 + (i % 0x600), 0, DATA_BYTES, payload)
}
const template = Buffer.from(encoder.finish())

const decoder = new Decoder({ peerRole: ROLE.SERVER })
let welcomed = false
let heartbeatMs = 1000
let lastFromServer = performance.now()

/** Frames written and not yet acknowledged, oldest first, with their write times. */
class AckTracker {
  #ends: number[] = []
  #sentAt: number[] = []
  #counts: number[] = []
  #head = 0
  #latencies: number[] = []
  #unacked = 0
  #ackedTo = 0
  ringFrames = Number.POSITIVE_INFINITY
  spooled = 0
  maxUnacked = 0
  active = false

  /** `count` frames written, ending (exclusive) at sequence `end`. */
  sent(end: number, count: number): void {
    if (!this.active) return
    const room = Math.max(0, this.ringFrames - this.#unacked)
    if (count > room) this.spooled += count - room
    this.#ends.push(end)
    this.#sentAt.push(performance.now())
    this.#counts.push(count)
    this.#unacked += count
    if (this.#unacked > this.maxUnacked) this.maxUnacked = this.#unacked
  }

  onAck(nextSeq: number): void {
    this.#ackedTo = Math.max(this.#ackedTo, nextSeq)
    const now = performance.now()
    while (this.#head < this.#ends.length && this.#ends[this.#head]! <= nextSeq) {
      const ms = now - this.#sentAt[this.#head]!
      const count = this.#counts[this.#head]!
      for (let i = 0; i < count; i++) this.#latencies.push(ms)
      this.#unacked -= count
      this.#head++
    }
  }

  /** Waits until everything written is acknowledged (at most 10 s), then reports. */
  async finish(): Promise<Omit<AckReport, 'maxSilenceMs' | 'heartbeatTimeouts'>> {
    const deadline = performance.now() + 10_000
    while (this.#unacked > 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    const sorted = Float64Array.from(this.#latencies).sort()
    const at = (q: number) =>
      sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
    const report = {
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      maxMs: sorted[sorted.length - 1] ?? 0,
      spooled: this.spooled,
      maxUnacked: this.maxUnacked,
    }
    this.active = false
    return report
  }

  get ackedTo(): number {
    return this.#ackedTo
  }
}
const acks = new AckTracker()
socket.on('data', (chunk) => {
  decoder.write(chunk, (message) => {
    if (message.type === 'AUTH_CHALLENGE' && token !== undefined) {
      const binding =
        socket instanceof TLSSocket
          ? socket.exportKeyingMaterial(
              AUTH_TLS_EXPORTER_BYTES,
              AUTH_TLS_EXPORTER_LABEL,
              Buffer.alloc(0),
            )
          : new Uint8Array(0)
      const input = {
        edgeId: EDGE_ID,
        edgeNonce: authNonce,
        serverNonce: message.body.nonce,
        channelBinding: binding,
      }
      socket.write(encodeControl('AUTH_RESPONSE', { proof: authProof(ROLE.EDGE, token, input) }))
    }
    lastFromServer = performance.now()
    if (message.type === 'ACK' && message.body.channel === 0) acks.onAck(message.body.nextSeq)
    if (message.type === 'WELCOME' && !welcomed) {
      heartbeatMs = message.body.heartbeatMs
      welcomed = true
      nextSeq = message.body.channels[0]?.nextSeq ?? 0
      acks.onAck(nextSeq)
      report({ event: 'ready' })
    }
  })
})
socket.on(caFile === undefined ? 'connect' : 'secureConnect', () => {
  socket.write(encodePreamble(ROLE.EDGE))
  socket.write(
    encodeControl('HELLO', {
      edgeId: EDGE_ID,
      instanceId: `pid-${process.pid}`,
      software: 'canbridge-bench/0',
      channels: [{ name: 'can0', fd: false, nextSeq: 0 }],
      capabilities: [],
      ...(token === undefined ? {} : { authNonce }),
    }),
  )
})
socket.on('error', (error) => {
  console.error('synthetic edge:', error.message)
  process.exit(1)
})

// Heartbeats as a real edge sends them, so that a long phase without data does not look dead.
let lastWrite = performance.now()
const write = socket.write.bind(socket)
socket.write = ((...args: Parameters<typeof socket.write>) => {
  lastWrite = performance.now()
  return write(...args)
}) as typeof socket.write
setInterval(() => {
  if (welcomed && performance.now() - lastWrite >= 500) {
    socket.write(encodeControl('HEARTBEAT', { timeMs: Date.now() }))
  }
}, 500).unref()

process.on('message', (command: EdgeCommand) => {
  if (command.cmd === 'stream') void stream(command.count)
  else if (command.cmd === 'rate') void paced(command.fps, command.durationMs)
  else if (command.cmd === 'acked') void acked(command.fps, command.durationMs, command.ringFrames)
  else if (command.cmd === 'raw') void raw(command.port, command.fps, command.durationMs)
  else {
    socket.end()
    process.disconnect()
  }
})

function report(message: EdgeReport): void {
  if (process.connected) process.send?.(message)
}

/**
 * A copy of `count` records of the template, header fixed up, numbered from nextSeq; with
 * `stamp`, every record carries the time of this call (taken after the allocation, so that a
 * garbage collection it may trigger does not count as latency).
 */
function batchOf(count: number, stamp: boolean): Buffer {
  const bytes = Buffer.allocUnsafe(RECORDS_OFFSET + count * RECORD_BYTES)
  template.copy(bytes, 0, 0, bytes.length)
  bytes.writeUInt32LE(bytes.length - HEADER_BYTES, 4)
  bytes.writeUInt16LE(count, HEADER_BYTES + 2)
  bytes.writeUInt32LE(nextSeq % 2 ** 32, FIRST_SEQ_OFFSET)
  bytes.writeUInt32LE(Math.floor(nextSeq / 2 ** 32), FIRST_SEQ_OFFSET + 4)
  if (stamp) {
    const timeNs = process.hrtime.bigint()
    for (let i = 0; i < count; i++) {
      bytes.writeBigUInt64LE(timeNs, RECORDS_OFFSET + i * RECORD_BYTES)
    }
  }
  nextSeq += count
  acks.sent(nextSeq, count)
  return bytes
}

async function stream(count: number): Promise<void> {
  let left = count
  while (left > 0) {
    const n = Math.min(BATCH_FRAMES, left)
    left -= n
    if (!socket.write(batchOf(n, false)))
      await new Promise((resolve) => socket.once('drain', resolve))
  }
  report({ event: 'done', frames: count })
}

/** Writes `due` frames in batches, each stamped when it is written. */
function writeStamped(due: number): void {
  let left = due
  while (left > 0) {
    const n = Math.min(BATCH_FRAMES, left)
    socket.write(batchOf(n, true))
    left -= n
  }
}

/** Sends `fps` frames per second for `durationMs`, each batch stamped when it is written. */
async function paced(fps: number, durationMs: number): Promise<void> {
  const sent = await pace(fps, durationMs, writeStamped)
  report({ event: 'done', frames: sent })
}

/**
 * The paced stream, every frame timed to its ACK, and the server's silences watched as an
 * edge watches them (3 heartbeat intervals without a byte is a heartbeat timeout).
 */
async function acked(fps: number, durationMs: number, ringFrames: number): Promise<void> {
  // what was written before this run is acknowledged first, so the run starts clean
  while (acks.ackedTo < nextSeq) await new Promise((resolve) => setTimeout(resolve, 5))
  acks.ringFrames = ringFrames
  acks.spooled = 0
  acks.maxUnacked = 0
  acks.active = true
  let maxSilenceMs = 0
  let heartbeatTimeouts = 0
  let silent = false
  lastFromServer = performance.now()
  const watch = setInterval(() => {
    const silence = performance.now() - lastFromServer
    maxSilenceMs = Math.max(maxSilenceMs, silence)
    if (silence >= 3 * heartbeatMs && !silent) heartbeatTimeouts++
    silent = silence >= 3 * heartbeatMs
  }, 5)
  const sent = await pace(fps, durationMs, writeStamped)
  const seen = await acks.finish()
  clearInterval(watch)
  report({ event: 'acked', frames: sent, acks: { ...seen, maxSilenceMs, heartbeatTimeouts } })
}

/** The same pacing, but bare 8-byte timestamps on a plain socket: no protocol, no bus. */
async function raw(port: number, fps: number, durationMs: number): Promise<void> {
  const plain: Socket = connect({ port, host: '127.0.0.1', noDelay: true })
  plain.on('error', (error) => console.error('synthetic edge (raw):', error.message))
  await new Promise((resolve) => plain.once('connect', resolve))
  const sent = await pace(fps, durationMs, (due) => {
    const bytes = Buffer.allocUnsafe(8 * due)
    const timeNs = process.hrtime.bigint()
    for (let i = 0; i < due; i++) bytes.writeBigUInt64LE(timeNs, 8 * i)
    plain.write(bytes)
  })
  plain.end()
  report({ event: 'done', frames: sent })
}

/** Calls `send(due)` with the frames due so far, waking about every millisecond. */
async function pace(fps: number, durationMs: number, send: (due: number) => void): Promise<number> {
  const start = performance.now()
  let sent = 0
  const total = Math.round((fps * durationMs) / 1000)
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * fps) / 1000)) - sent
    if (due > 0) {
      send(due)
      sent += due
    }
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  return sent
}
