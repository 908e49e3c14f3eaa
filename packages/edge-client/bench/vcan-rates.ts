// The vcan part of the benchmark, run where SocketCAN works (inside scripts/kernel-harness.sh,
// usually User-Mode Linux): `cangen` at rising rates on one vcan interface while the built
// edge (real socketcan backend) and `candump -L` read the same interface at the same time.
// Every frame carries its number (-I i -D i: incrementing id and 64-bit payload counter),
// so each reader's losses are counted exactly against what cangen put on the bus (the
// interface's tx_packets). The edge streams to a minimal counting server in this process.
//
//   node bench/vcan-rates.ts [--iface vcan0] [--rates 1000,2000,...,max] [--seconds 3]
//                            [--trials 2] [--label default] [--out result.json]
//                            [--edge path/to/main.js | path/to/canbridge-edge]
//                            [--edge-args="--threads 3 --max-read-delay 20ms"]
// (--edge: another build, e.g. the single executable; VCAN_BENCH_THREADS=1, passed into the
// harness with --env, adds the edge's CPU per frame by thread)
//
// Prints a table per rate and, last, one line `VCAN_RESULT {json}` (edge.bench.ts merges it).
import { type ChildProcess, spawn } from 'node:child_process'
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Decoder, encodeControl, encodePreamble, ROLE } from '@canbridge/protocol'
import { RUNTIME_FLAGS } from '../src/runtime-flags.ts'

const { values: options } = parseArgs({
  options: {
    iface: { type: 'string', default: 'vcan0' },
    rates: { type: 'string', default: '1000,2000,4000,5000,8000,12000,16000,24000,max' },
    seconds: { type: 'string', default: '3' },
    trials: { type: 'string', default: '2' },
    label: { type: 'string', default: '' },
    out: { type: 'string' },
    /** the edge to run: a .js/.ts entry for node (default: the built dist/main.js) or an executable */
    edge: { type: 'string' },
    /** more daemon flags, space-separated (e.g. --threads 3) */
    'edge-args': { type: 'string', default: '' },
  },
})
const IFACE = options.iface
const SECONDS = Number(options.seconds)
const TRIALS = Number(options.trials)
const RATES = options.rates.split(',').map((r) => (r === 'max' ? 'max' : Number(r)))
/** frames cangen sends flat out (`max`): about SECONDS of traffic at UML's ~30,000/s */
const MAX_FRAMES = Math.round(30_000 * SECONDS)
/** after cangen exits, wait at most this long for the edge and candump to catch up */
const DRAIN_TIMEOUT_MS = 20_000
/** ...and stop waiting once nothing arrived for this long */
const DRAIN_QUIET_MS = 1500
/**
 * cangen paces with nanosleep after every burst of `-c` frames. Under UML a sleep costs
 * ~0.3 ms more than asked and each frame ~0.03 ms, so rates above ~2,500/s need bursts:
 * bursts of c frames about every 2 ms. The rate achieved is measured, not assumed.
 */
const SLEEP_OVERHEAD_MS = 0.3
const FRAME_COST_MS = 0.03
const dist = options.edge ?? fileURLToPath(new URL('../dist/main.js', import.meta.url))
const viaNode = /\.[cm]?[jt]s$/.test(dist)

function cangenArgs(rate: number | 'max', frames: number): string[] {
  const common = [IFACE, '-n', String(frames), '-L', '8', '-I', 'i', '-D', 'i']
  if (rate === 'max') return [...common, '-g', '0']
  const burst = Math.max(1, Math.round(rate / 500))
  const gap = Math.max(0, (1000 * burst) / rate - SLEEP_OVERHEAD_MS - burst * FRAME_COST_MS)
  return [...common, '-g', gap.toFixed(3), '-c', String(burst)]
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function txPackets(): number {
  return Number(readFileSync(`/sys/class/net/${IFACE}/statistics/tx_packets`, 'utf8'))
}

/** user + system clock ticks of a process (USER_HZ, 100/s), 0 once it is gone */
function cpuTicks(pid: number | undefined): number {
  if (pid === undefined) return 0
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return 0
  }
}

/** CPU ticks per thread name of a process (the edge: MainThread, canbridge-poll, ...) */
function threadTicks(pid: number | undefined): Map<string, number> {
  const byName = new Map<string, number>()
  if (pid === undefined) return byName
  let tids: string[] = []
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return byName
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      byName.set(name, (byName.get(name) ?? 0) + Number(fields[11]) + Number(fields[12]))
    } catch {
      // the thread ended
    }
  }
  return byName
}

/** busy and total jiffies of the whole machine (one CPU under UML) */
function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!
  const v = line.trim().split(/\s+/).slice(1).map(Number)
  const idle = (v[3] ?? 0) + (v[4] ?? 0)
  const total = v.reduce((a, b) => a + b, 0)
  return { busy: total - idle, total }
}

// --- what one reader saw of one step: cangen's frame numbers (payload counter) ---

class Tally {
  seen: Uint8Array
  received = 0
  duplicates = 0
  outOfOrder = 0
  wrongId = 0
  last = -1
  /** kernel timestamps (s) and numbers of the first and last frame, for the achieved rate */
  firstT = 0
  firstN = -1
  lastT = 0
  lastN = -1

  constructor(frames: number) {
    this.seen = new Uint8Array(frames)
  }

  add(n: number, id: number, t: number): void {
    if (n >= this.seen.length || n < 0) return
    if (id !== (n & 0x7ff)) this.wrongId++
    if (this.seen[n]) {
      this.duplicates++
      return
    }
    this.seen[n] = 1
    this.received++
    if (n < this.last) this.outOfOrder++
    this.last = n
    if (this.firstN < 0 || n < this.firstN) {
      this.firstN = n
      this.firstT = t
    }
    if (n > this.lastN) {
      this.lastN = n
      this.lastT = t
    }
  }

  /** frames per second between the first and last frame seen, by their numbers */
  rate(): number {
    const dt = this.lastT - this.firstT
    return dt > 0 ? (this.lastN - this.firstN) / dt : 0
  }
}

// --- the counting server: decodes DATA, tallies the payload counters, ACKs ---

let tally: Tally | undefined
/** frames that arrived outside a step (warm-up) */
let stray = 0
let framesIn = 0
let lastArrival = 0
/** sequence numbers: the edge numbers every frame it read, kept or dropped in its ring */
let firstSeqOfStep = -1
let nextSeq = -1
let seqGaps = 0
let ackDue = false
const ACK_EVERY_MS = 50

const server = createServer((socket: Socket) => {
  socket.setNoDelay(true)
  socket.on('error', () => {})
  const decoder = new Decoder({ peerRole: ROLE.EDGE })
  socket.write(encodePreamble(ROLE.SERVER))
  const heartbeat = setInterval(
    () => socket.write(encodeControl('HEARTBEAT', { timeMs: Date.now() })),
    1000,
  )
  socket.on('close', () => clearInterval(heartbeat))
  socket.on('data', (chunk: Buffer) => {
    decoder.write(chunk, (message) => {
      if (message.type === 'HELLO') {
        socket.write(
          encodeControl('WELCOME', {
            serverId: 'vcan-bench',
            heartbeatMs: 1000,
            channels: message.body.channels.map((c) => ({ name: c.name, nextSeq: null })),
            capabilities: [],
          }),
        )
        return
      }
      if (message.type !== 'DATA') return
      const batch = message.batch
      if (nextSeq >= 0 && batch.firstSeq > nextSeq) seqGaps += batch.firstSeq - nextSeq
      if (tally && firstSeqOfStep < 0) firstSeqOfStep = batch.firstSeq
      nextSeq = batch.firstSeq + batch.count
      framesIn += batch.count
      lastArrival = performance.now()
      const reader = batch.reader()
      const bytes = reader.bytes
      while (reader.next()) {
        if (!tally) {
          stray++
          continue
        }
        const o = reader.dataOffset
        // cangen -D i: the frame number as a little-endian counter in the payload
        const n =
          bytes[o]! +
          bytes[o + 1]! * 0x100 +
          bytes[o + 2]! * 0x10000 +
          bytes[o + 3]! * 0x1000000 +
          bytes[o + 4]! * 0x100000000
        tally.add(n, reader.id, reader.timestampSeconds())
      }
      ackDue = true
    })
  })
  // ACKs coalesced to one per ACK_EVERY_MS, TCPBus's default ackIntervalMs: the server
  // shares the guest's one CPU with the edge, candump and cangen
  const acks = setInterval(() => {
    if (!ackDue) return
    ackDue = false
    socket.write(encodeControl('ACK', { channel: 0, nextSeq }))
  }, ACK_EVERY_MS)
  socket.on('close', () => clearInterval(acks))
})
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const address = server.address()
const port = typeof address === 'object' && address ? address.port : 0

// --- the edge ---

if (!existsSync(dist)) throw new Error(`${dist} is missing: run pnpm build first`)
interface EdgeStats {
  msg: string
  rssBytes: number
  channels: { framesRead: number; dropsRingFull: number }[]
}
const edgeLines: EdgeStats[] = []
let connected: () => void = () => {}
const edgeConnected = new Promise<void>((resolve) => {
  connected = resolve
})
const edge: ChildProcess = spawn(
  viaNode ? process.execPath : dist,
  [
    // the executable carries RUNTIME_FLAGS; node is given them, to measure what ships
    ...(viaNode ? [...RUNTIME_FLAGS, dist] : []),
    '--server',
    `127.0.0.1:${port}`,
    '--channel',
    IFACE,
    '--stats-interval',
    '500ms',
    '--log-level',
    'info',
    ...options['edge-args'].split(' ').filter((arg) => arg !== ''),
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
)
let rest = ''
edge.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
  const lines = (rest + chunk).split('\n')
  rest = lines.pop()!
  for (const line of lines) {
    if (!line.startsWith('{')) continue
    const entry = JSON.parse(line) as EdgeStats & { level: number }
    if (entry.msg === 'connected to the server') connected()
    else if (entry.msg === 'stats') edgeLines.push(entry)
    else if (entry.level >= 40) console.error(`edge: ${line}`)
  }
})
const edgeExited = new Promise<number | null>((resolve) => edge.once('exit', resolve))
const started = await Promise.race([
  edgeConnected.then(() => true),
  edgeExited.then(() => false),
  sleep(60_000).then(() => false),
])
if (!started) throw new Error('the edge did not connect within 60 s')

function rmem(): string {
  const read = (name: string) => readFileSync(`/proc/sys/net/core/${name}`, 'utf8').trim()
  return `rmem_default=${read('rmem_default')} rmem_max=${read('rmem_max')}`
}

function run(command: string, args: string[]): Promise<number | null> {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'] })
  return new Promise((resolve) => child.once('exit', resolve))
}

// warm-up: the edge's first frame enables kernel timestamps; its JIT gets going
await run('cangen', [IFACE, '-n', '200', '-g', '1', '-L', '8', '-I', 'i', '-D', 'i'])
await sleep(1000)

const work = mkdtempSync(join('/dev/shm', 'canbridge-vcan-bench-'))

interface StepResult {
  requested: number | 'max'
  trial: number
  frames: number
  cangen: string
  /** frames the interface transmitted (tx_packets): what cangen really sent */
  sent: number
  /** rate achieved on the bus, from the kernel timestamps of the frames received */
  achievedFps: number
  /** cangen's own rate, process start to exit */
  cangenWallFps: number
  candump: { received: number; lost: number }
  edge: {
    received: number
    lost: number
    /** frames the edge read from its socket (sequence numbers used); sent - read: lost in the kernel */
    read: number
    ringDrops: number
    duplicates: number
    outOfOrder: number
    /** edge process CPU (all threads) per frame read, µs */
    cpuUsPerFrame: number
    /** the same by thread: canbridge-poll (with the binding's reader thread), canbridge-socke(t-write), MainThread, V8 and libuv helpers */
    cpuUsPerFrameByThread: Record<string, number>
  }
  /** this process (the counting server) per frame received, µs */
  serverCpuUsPerFrame: number
  /** the machine's CPU busy while cangen ran (one CPU under UML), % */
  machineBusyPct: number
  candumpCpuUsPerFrame: number
}

console.log(
  `vcan ${IFACE} (${process.env['CANBRIDGE_KERNEL'] ?? 'kernel?'}), ${rmem()}; ~${SECONDS} s of traffic per rate`,
)
console.log(
  ' rate/s  trial  achieved    sent  candump rx/lost   edge rx/lost   ring  busy%  µs/frame: edge candump',
)
const steps: StepResult[] = []
for (const requested of RATES) {
  for (let trial = 1; trial <= TRIALS; trial++) steps.push(await step(requested, trial))
}

async function step(requested: number | 'max', trial: number): Promise<StepResult> {
  const frames = requested === 'max' ? MAX_FRAMES : Math.max(500, Math.round(requested * SECONDS))
  const dumpFile = join(work, `candump-${requested}.log`)
  const fd = openSync(dumpFile, 'w')
  const candump = spawn('candump', ['-L', IFACE], { stdio: ['ignore', fd, 'inherit'] })
  closeSync(fd)
  await sleep(500) // candump is bound once it has started (fork+exec is slow under UML)
  const edgeTally = new Tally(frames)
  tally = edgeTally
  firstSeqOfStep = -1
  const seqBefore = nextSeq
  const tx0 = txPackets()
  const edgeCpu0 = cpuTicks(edge.pid)
  const threads0 = threadTicks(edge.pid)
  const server0 = process.cpuUsage()
  const dumpCpu0 = cpuTicks(candump.pid)
  const machine0 = machineTicks()
  const args = cangenArgs(requested, frames)
  const t0 = performance.now()
  const code = await run('cangen', args)
  const wallS = (performance.now() - t0) / 1000
  const machine1 = machineTicks()
  if (code !== 0) console.error(`cangen ${args.join(' ')} exited with ${code}`)
  const sent = txPackets() - tx0
  // drain: until the edge delivered everything, or nothing came for a while
  const drainStart = performance.now()
  while (performance.now() - drainStart < DRAIN_TIMEOUT_MS) {
    if (edgeTally.received >= sent) break
    if (performance.now() - Math.max(lastArrival, drainStart) > DRAIN_QUIET_MS) break
    await sleep(100)
  }
  await sleep(300)
  const edgeCpu = cpuTicks(edge.pid) - edgeCpu0
  const threads1 = threadTicks(edge.pid)
  const serverCpu = process.cpuUsage(server0)
  const dumpCpu = cpuTicks(candump.pid) - dumpCpu0
  tally = undefined
  candump.kill('SIGINT')
  await new Promise((resolve) => candump.once('exit', resolve))

  const dumpTally = new Tally(frames)
  for (const line of readFileSync(dumpFile, 'utf8').split('\n')) {
    // (1700000000.123456) vcan0 123#0100000000000000
    const m = /^\((\d+\.\d+)\) \S+ ([0-9A-F]+)#([0-9A-F]*)$/i.exec(line)
    if (!m) continue
    const data = Buffer.from(m[3]!, 'hex')
    if (data.length < 5) continue
    const n = data.readUIntLE(0, 5)
    dumpTally.add(n, Number.parseInt(m[2]!, 16), Number(m[1]))
  }
  rmSync(dumpFile, { force: true })
  // sequence numbers the edge used for this step: frames it read, kept or dropped
  const edgeRead = firstSeqOfStep < 0 ? 0 : nextSeq - Math.max(firstSeqOfStep, seqBefore)
  const achieved = dumpTally.received > 1 ? dumpTally.rate() : edgeTally.rate()
  const result: StepResult = {
    requested,
    trial,
    frames,
    cangen: `cangen ${args.join(' ')}`,
    sent,
    achievedFps: Math.round(achieved),
    cangenWallFps: Math.round(sent / wallS),
    candump: { received: dumpTally.received, lost: sent - dumpTally.received },
    edge: {
      received: edgeTally.received,
      lost: sent - edgeTally.received,
      read: edgeRead,
      ringDrops: Math.max(0, edgeRead - edgeTally.received),
      duplicates: edgeTally.duplicates,
      outOfOrder: edgeTally.outOfOrder,
      cpuUsPerFrame: edgeRead > 0 ? Math.round((edgeCpu * 10_000) / edgeRead) : 0,
      cpuUsPerFrameByThread: Object.fromEntries(
        [...threads1]
          .map(([name, ticks]) => [name, ticks - (threads0.get(name) ?? 0)] as const)
          .filter(([, ticks]) => ticks > 0)
          .map(([name, ticks]) => [name, Math.round((ticks * 10_000) / Math.max(1, edgeRead))]),
      ),
    },
    serverCpuUsPerFrame: Math.round(
      (serverCpu.user + serverCpu.system) / Math.max(1, edgeTally.received),
    ),
    machineBusyPct: Math.round(
      (100 * (machine1.busy - machine0.busy)) / Math.max(1, machine1.total - machine0.total),
    ),
    candumpCpuUsPerFrame:
      dumpTally.received > 0 ? Math.round((dumpCpu * 10_000) / dumpTally.received) : 0,
  }
  console.log(
    [
      String(requested).padStart(7),
      String(trial).padStart(6),
      String(result.achievedFps).padStart(9),
      String(sent).padStart(7),
      `${result.candump.received}/${result.candump.lost}`.padStart(16),
      `${result.edge.received}/${result.edge.lost}`.padStart(14),
      String(result.edge.ringDrops).padStart(6),
      String(result.machineBusyPct).padStart(6),
      String(result.edge.cpuUsPerFrame).padStart(15),
      String(result.candumpCpuUsPerFrame).padStart(8),
    ].join(''),
  )
  if (process.env['VCAN_BENCH_THREADS'])
    console.log(
      `        edge µs/frame by thread: ${Object.entries(result.edge.cpuUsPerFrameByThread)
        .map(([name, us]) => `${name} ${us}`)
        .join(', ')}; counting server ${result.serverCpuUsPerFrame}`,
    )
  if (edgeTally.wrongId + dumpTally.wrongId > 0 || edgeTally.duplicates > 0)
    console.error(
      `  unexpected frames: edge wrong ids ${edgeTally.wrongId}, duplicates ${edgeTally.duplicates}; candump wrong ids ${dumpTally.wrongId}`,
    )
  return result
}

edge.kill('SIGTERM')
await edgeExited
server.close()
rmSync(work, { recursive: true, force: true })

/**
 * The highest achieved rate up to which the reader lost nothing: the fastest lossless run
 * slower than every run in which it lost frames (one lossy run caps it, however fast the
 * lossless ones around it were).
 */
function maxLossless(lost: (s: StepResult) => number): number {
  const lossy = steps.filter((s) => lost(s) > 0).map((s) => s.achievedFps)
  const cap = Math.min(Number.POSITIVE_INFINITY, ...lossy)
  let best = 0
  for (const s of steps) {
    if (lost(s) === 0 && s.sent > 0 && s.achievedFps < cap) best = Math.max(best, s.achievedFps)
  }
  return best
}
const peakRss = Math.max(0, ...edgeLines.map((l) => l.rssBytes))
const summary = {
  label: options.label,
  kernel: process.env['CANBRIDGE_KERNEL'] ?? 'unknown',
  sysctl: rmem(),
  seconds: SECONDS,
  vcanMaxLosslessFps: maxLossless((s) => s.edge.lost),
  candumpMaxLosslessFps: maxLossless((s) => s.candump.lost),
  /** runs in which the edge lost more than candump did, of all runs */
  edgeWorseRuns: steps.filter((s) => s.edge.lost > s.candump.lost).length,
  candumpWorseRuns: steps.filter((s) => s.candump.lost > s.edge.lost).length,
  runs: steps.length,
  edgeFramesLost: steps.reduce((a, s) => a + s.edge.lost, 0),
  candumpFramesLost: steps.reduce((a, s) => a + s.candump.lost, 0),
  edgePeakRssMb: Number((peakRss / 1024 / 1024).toFixed(1)),
  strayFrames: stray,
  seqGaps,
  framesIn,
  steps,
}
if (options.out) await writeFile(options.out, `${JSON.stringify(summary, null, 2)}\n`)
console.log(`VCAN_RESULT ${JSON.stringify(summary)}`)
process.exit(0)
