// The benchmark, in two parts (`pnpm bench`, after a build):
// 1. On this machine, the whole pipeline: virtual backend → channel host → ring → senders
//    (the socket-write worker) → TCP → a counting server on loopback, node given the V8
//    settings of src/runtime-flags.ts. Frames/s delivered, the edge's CPU ms per 1,000
//    frames (process.cpuUsage of the edge process, all threads) and its peak RSS, in the
//    edge's default shape (one thread) and in the two-thread one (--threads 2, a worker that
//    restarts alone); then the runtime's floor (bench/runtime-floor.ts, a child): bare node
//    in the edge's shape, a main thread and no idle worker (1 with --threads 2, 2 with
//    --threads 3) with its WORKER_LIMITS.
// 2. Real SocketCAN in scripts/kernel-harness.sh (User-Mode Linux here): cangen at rising
//    rates on vcan0 while the built edge and candump read it at the same time
//    (bench/vcan-rates.ts), once with the kernel's default socket buffers and once with the
//    ones the packaging installs (net.core.rmem_default = rmem_max = 4 MiB); the highest
//    rate each reader keeps up with, and the losses of each at every rate. Then the CPU runs:
//    1,000 and 5,000 frames/s, default buffers, 5 trials of 5 s, in the shape measured and,
//    for the comparison, with --threads 2 (--threads 3 when 2 is the shape measured). Then the kernel test's
//    deterministic drop run (bench/kernel-drops.ts): the edge with a 4 KiB receive buffer,
//    stopped while cangen sends rounds of numbered frames, resumed.
// The last line is JSON: { virtualFps, cpuMsPer1k, rssMb, rssFloorMb (the runtime's floor in
// the edge's shape), rssOverFloorMb (rssMb − rssFloorMb), rssMbThreads2 and rssFloorMbThreads2
// (--threads 2, unless BENCH_THREADS or BENCH_RING_BYTES set the one measured), cpuPerFrameVsCandump (at 5,000
// frames/s), cpuPerFrameVsCandump1k, cpuPerFrameVsCandumpMax (the edge's CPU per frame over
// candump's in the same runs, default buffers), kernelDropsCounted (the kernel-overflow DROPS
// the edge reported), kernelDropsActual (frames sent minus those received, by cangen's
// numbers), vcanMaxLosslessFps, candumpMaxLosslessFps, ... }. Targets: ≥ 500,000 frames/s,
// ≤ 5 ms, ≤ 80 MB, ≤ 1.0 at 5,000 and ≤ 1.5 at 1,000, the edge lossless wherever candump is,
// and kernelDropsCounted == kernelDropsActual. cpuPerFrameVsCandumpThreads2 and
// ...1kThreads2: the same ratios for the two-thread shape (Threads3 when 2 is measured).
//
// BENCH_FRAMES, BENCH_RATE: part 1's frames and rate; BENCH_VCAN=0 skips part 2;
// BENCH_VCAN_RATES (e.g. 1000,4000,max), BENCH_VCAN_TRIALS, BENCH_VCAN_SECONDS tune it;
// BENCH_DROP_ROUNDS: rounds of 200 frames in the drop run (default 5); BENCH_EDGE_BIN: part 1
// runs this executable (the single executable) instead of node with dist/main.js;
// BENCH_VCAN_CPU: the host CPU the harness is pinned to (default the last one; `none`);
// BENCH_CPU_TRIALS, BENCH_CPU_SECONDS: the CPU runs at 1,000 and 5,000 frames/s, each shape
// (default 5 trials of 5 s);
// VCAN_BENCH_THREADS=1: the edge's CPU per frame by thread, under each row;
// BENCH_THREADS=2|3: measure that shape (--threads) throughout (default 1, the edge's);
// BENCH_RING_BYTES: the edge's --ring-bytes (default its own, 8M).
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { RUNTIME_FLAGS } from '../src/runtime-flags.ts'
import { countingServer } from './counting-server.ts'

const FRAMES = Number(process.env['BENCH_FRAMES'] ?? 5_000_000)
/** frames/s the virtual channel generates (`max`: as fast as the poll worker can) */
const RATE = process.env['BENCH_RATE'] ?? '1000000'
/** traffic starts once the edge is connected and idle */
const DELAY_MS = 2000
/** the edge's default shape: one thread (README: threads) */
const DEFAULT_THREADS = 1
/** the shape measured: the edge's default, or --threads 2 or 3 */
const THREADS = Number(process.env['BENCH_THREADS'] ?? DEFAULT_THREADS)
if (![1, 2, 3].includes(THREADS)) throw new Error('BENCH_THREADS: 1, 2 or 3')
const RING_BYTES = process.env['BENCH_RING_BYTES']
/** measured beside the default shape: a worker that restarts alone, for 17 MB more */
const ISOLATED_THREADS = 2
/** the CPU runs' second shape */
const OTHER_THREADS = THREADS === 2 ? 3 : 2
const OTHER_CPU = `cpu, --threads ${OTHER_THREADS}`
const dist = fileURLToPath(new URL('../dist/main.js', import.meta.url))
const main = existsSync(dist) ? dist : fileURLToPath(new URL('../src/main.ts', import.meta.url))
/** part 1 runs this executable (e.g. the single executable) instead of node with dist/main.js */
const EDGE_BIN = process.env['BENCH_EDGE_BIN']

interface Stats {
  msg: string
  cpuUserMs: number
  cpuSystemMs: number
  rssBytes: number
  channels: { framesRead: number; dropsRingFull: number; dropsRingOldest: number }[]
}

/** the edge's flags for a shape (one thread and its own ring size are its defaults) */
function shapeArgs(threads: number, ringBytes: string | undefined): string[] {
  return [
    ...(threads === DEFAULT_THREADS ? [] : ['--threads', String(threads)]),
    ...(ringBytes ? ['--ring-bytes', ringBytes] : []),
  ]
}
const SHAPE_ARGS = shapeArgs(THREADS, RING_BYTES)

/** `n noun`, with an s unless n is 1 */
function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`
}

function threadsLabel(threads: number): string {
  return counted(threads, 'thread')
}

/** MB figures as the JSON and the lines give them: one decimal */
function oneDecimal(value: number): number {
  return Number(value.toFixed(1))
}

/**
 * RSS as the kernel splits it, sampled with each stats line: anonymous (V8 heaps, rings,
 * malloc) and file-backed (the pages of the node executable and libraries it ran).
 */
function rssSplit(pid: number | undefined): { anon: number; file: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0)
    return { anon: kb('RssAnon') * 1024, file: (kb('RssFile') + kb('RssShmem')) * 1024 }
  } catch {
    return { anon: 0, file: 0 }
  }
}

/** Resolves once `ready()` holds, checked every 10 ms. */
function until(ready: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const poll = setInterval(() => {
      if (ready()) {
        clearInterval(poll)
        resolve()
      }
    }, 10)
  })
}

/**
 * One run of the whole pipeline in a shape: FRAMES virtual frames at RATE into a counting
 * server on loopback; the edge's stats lines (CPU, RSS) and its RSS split at each.
 */
async function pipelineRun(threads: number, ringBytes: string | undefined) {
  const args = shapeArgs(threads, ringBytes)
  let idle: NodeJS.Timeout | undefined
  let done: () => void = () => {}
  const finished = new Promise<void>((resolve) => {
    done = resolve
  })
  const server = await countingServer({
    serverId: 'bench',
    onBatch: (nextSeq) => {
      if (nextSeq >= FRAMES) done()
      clearTimeout(idle)
      // the newest frames may have been dropped: stop once the stream has been quiet
      idle = setTimeout(done, 2000)
    },
  })
  const edge = spawn(
    EDGE_BIN ?? process.execPath,
    [
      // the executable carries RUNTIME_FLAGS; node is given them, to measure what ships
      ...(EDGE_BIN ? [] : [...RUNTIME_FLAGS, main]),
      '--server',
      `127.0.0.1:${server.port}`,
      '--channel',
      `virtual:bench?rate=${RATE}&count=${FRAMES}&delay=${DELAY_MS}`,
      '--stats-interval',
      '250ms',
      '--log-level',
      'info',
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const stats: Stats[] = []
  const split: { anon: number; file: number }[] = []
  let rest = ''
  edge.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n')
    rest = lines.pop()!
    for (const line of lines) {
      if (!line.startsWith('{')) continue
      const entry = JSON.parse(line) as Stats
      if (entry.msg === 'stats') {
        stats.push(entry)
        split.push(rssSplit(edge.pid))
      }
    }
  })
  const timeout = setTimeout(() => {
    console.error(`bench: timed out with ${server.received} of ${FRAMES} frames`)
    done()
  }, 120_000)
  // CPU is measured between the last stats line before traffic and the first after it ends
  await until(() => stats.length > 0)
  const baseline = stats.at(-1)!
  await finished
  clearTimeout(timeout)
  clearTimeout(idle)
  const seenBefore = stats.length
  await until(() => stats.length > seenBefore)
  const final = stats.at(-1)!
  edge.kill('SIGTERM')
  await new Promise((resolve) => edge.once('exit', resolve))
  await server.close()

  const seconds = (server.lastAt - server.firstAt) / 1000
  const read = final.channels[0]!.framesRead - baseline.channels[0]!.framesRead
  const drops = final.channels[0]!.dropsRingFull + final.channels[0]!.dropsRingOldest
  const cpuMs = final.cpuUserMs + final.cpuSystemMs - (baseline.cpuUserMs + baseline.cpuSystemMs)
  const peakRss = Math.max(...stats.map((s) => s.rssBytes))
  const peakSplit = split[stats.findIndex((s) => s.rssBytes === peakRss)] ?? { anon: 0, file: 0 }
  const mb = (bytes: number) => oneDecimal(bytes / 1024 / 1024)
  return {
    virtualFps: Math.round(server.received / seconds),
    cpuMsPer1k: Number(((cpuMs / Math.max(1, read)) * 1000).toFixed(3)),
    rssMb: mb(peakRss),
    rssAnonMb: mb(peakSplit.anon),
    rssFileMb: mb(peakSplit.file),
    idleRssMb: mb(baseline.rssBytes),
    frames: server.received,
    gaps: server.gaps,
    dropped: drops,
    seconds: Number(seconds.toFixed(3)),
    rate: RATE,
    shape: `${threadsLabel(threads)}${args.length ? ` (${args.join(' ')})` : ''}`,
  }
}

// --- the runtime's floor: node alone in the edge's shape, measured with the edge gone ---

interface Floor {
  workers: number
  rssMb: number
  anonMb: number
  fileMb: number
}

/** bench/runtime-floor.ts as a child: idle node with 0, 1, 2 workers (the edge's limits) */
async function runtimeFloors(): Promise<Floor[] | string> {
  const script = fileURLToPath(new URL('./runtime-floor.ts', import.meta.url))
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [script])
    return (JSON.parse(stdout.trim().split('\n').at(-1)!) as { floors: Floor[] }).floors
  } catch (error) {
    return `bench/runtime-floor.ts failed: ${(error as Error).message}`
  }
}

const shaped = await pipelineRun(THREADS, RING_BYTES)
// the two-thread shape too, beside the default one
const isolated =
  THREADS === DEFAULT_THREADS && RING_BYTES === undefined
    ? await pipelineRun(ISOLATED_THREADS, undefined)
    : undefined
const floors = await runtimeFloors()
const floorMb = (threads: number): number | null => {
  const floor =
    typeof floors === 'string' ? undefined : floors.find((f) => f.workers === threads - 1)
  return floor ? oneDecimal(floor.rssMb) : null
}
const overFloor = (rssMb: number, floor: number | null) =>
  floor === null ? null : oneDecimal(rssMb - floor)
const THREADS_LABEL = threadsLabel(THREADS)
const rssFloorMb = floorMb(THREADS)
const host = {
  ...shaped,
  rssFloorMb,
  rssOverFloorMb: overFloor(shaped.rssMb, rssFloorMb),
  ...(isolated
    ? {
        rssMbThreads2: isolated.rssMb,
        rssFloorMbThreads2: floorMb(ISOLATED_THREADS),
      }
    : {}),
  node: process.version,
  runtimeFlags: EDGE_BIN ? 'the executable' : RUNTIME_FLAGS.join(' '),
}
console.log(
  `frames delivered: ${shaped.frames} of ${FRAMES} in ${shaped.seconds.toFixed(2)} s (dropped at the edge: ${shaped.dropped}, sequence gaps: ${shaped.gaps})`,
)
console.log(`throughput:       ${host.virtualFps.toLocaleString('en')} frames/s (target ≥ 500,000)`)
console.log(`edge CPU:         ${host.cpuMsPer1k} ms per 1,000 frames (target ≤ 5)`)
console.log(
  `edge peak RSS:    ${host.rssMb} MB (target ≤ 80), ${host.shape}: anonymous ${host.rssAnonMb} MB (V8 heaps of ${THREADS_LABEL}, the ring, malloc), file-backed ${host.rssFileMb} MB (pages of the node executable); idle before traffic ${host.idleRssMb} MB`,
)
if (isolated) {
  console.log(
    `edge peak RSS:    ${isolated.rssMb} MB in ${isolated.shape} (anonymous ${isolated.rssAnonMb}, file-backed ${isolated.rssFileMb}; idle ${isolated.idleRssMb}; ${isolated.virtualFps.toLocaleString('en')} frames/s, ${isolated.cpuMsPer1k} ms per 1,000 frames, ${isolated.dropped} dropped)`,
  )
}
if (typeof floors === 'string' || rssFloorMb === null) {
  console.log(`runtime floor:    not measured: ${floors}`)
} else {
  const shown = floors.map((f) => `${counted(f.workers, 'worker')} ${f.rssMb.toFixed(1)}`)
  console.log(
    `runtime floor:    ${rssFloorMb} MB (rssFloorMb): bare node in the edge's shape, a main thread and ${counted(THREADS - 1, 'idle worker')} with its WORKER_LIMITS, heaps collected, the same flags (bench/runtime-floor.ts: ${shown.join(', ')}); the edge's peak is ${host.rssOverFloorMb} MB over it (rssOverFloorMb: its ring, its code and heaps, buffers)`,
  )
}

// --- part 2: vcan in the kernel harness ---

interface VcanSummary {
  label: string
  kernel: string
  sysctl: string
  vcanMaxLosslessFps: number
  candumpMaxLosslessFps: number
  edgeWorseRuns: number
  candumpWorseRuns: number
  runs: number
  edgeFramesLost: number
  candumpFramesLost: number
  edgePeakRssMb: number
  steps: {
    requested: number | 'max'
    trial: number
    achievedFps: number
    sent: number
    candump: { lost: number }
    edge: { lost: number; cpuUsPerFrame: number }
    candumpCpuUsPerFrame: number
  }[]
}

/**
 * The edge's CPU per frame over candump's, same runs (same rate, same interface, read side
 * by side), the median over the trials (the higher middle one of an even number: the figure
 * never flatters) at `rate` (a number, or the highest requested rate
 * at which both lost nothing: 'maxLossless'); null when not measured or candump's CPU was
 * below the clock tick's resolution.
 */
function cpuRatio(summary: VcanSummary | undefined, rate: number | 'maxLossless'): number | null {
  if (summary === undefined) return null
  const lossless = (s: VcanSummary['steps'][number]) => s.edge.lost === 0 && s.candump.lost === 0
  let target: number | 'max' | undefined = rate === 'maxLossless' ? undefined : rate
  if (rate === 'maxLossless') {
    const rates = summary.steps.filter(lossless).map((s) => s.achievedFps)
    const best = summary.steps.find((s) => lossless(s) && s.achievedFps === Math.max(...rates))
    target = best?.requested
  }
  const ratios = cpuRatios(summary, target)
  if (ratios.length === 0) return null
  return ratios[Math.floor(ratios.length / 2)]!
}

/** Each trial's edge CPU per frame over candump's at `rate`, lowest first. */
function cpuRatios(summary: VcanSummary | undefined, rate: number | 'max' | undefined): number[] {
  if (summary === undefined) return []
  return summary.steps
    .filter((s) => s.requested === rate && s.candumpCpuUsPerFrame > 0)
    .map((s) => Number((s.edge.cpuUsPerFrame / s.candumpCpuUsPerFrame).toFixed(2)))
    .sort((a, b) => a - b)
}

const VCAN_CONFIGS = [
  { label: 'default', sysctl: [] as string[] },
  {
    label: 'rmem-4M',
    sysctl: ['net.core.rmem_default=4194304', 'net.core.rmem_max=4194304'],
  },
]

/**
 * Runs a guest script (beside this file) in the kernel harness with vcan0 and returns the
 * JSON it wrote to its `--out` file, or why there is none. Its other output is shown live.
 */
async function harnessRun<T>(
  title: string,
  guest: string,
  guestArgs: string[],
  harnessArgs: string[] = [],
): Promise<T | string> {
  const dir = mkdtempSync(join(tmpdir(), 'canbridge-vcan-bench-'))
  const out = join(dir, 'result.json')
  const harness = fileURLToPath(new URL('../../../scripts/kernel-harness.sh', import.meta.url))
  const args = [harness, '--quiet', '--vcan', 'vcan0', '--timeout', '1200', ...harnessArgs]
  // User-Mode Linux runs every guest system call as a ptrace round trip between host
  // processes: spread over idle host CPUs each one waits for a CPU to wake, and the guest
  // runs 5-8 times slower, more so for programs that make more system calls. One host CPU
  // for the whole (uniprocessor) guest makes its speed steady.
  const cpu = process.env['BENCH_VCAN_CPU'] ?? String(Math.max(0, availableParallelism() - 1))
  const pin = cpu !== 'none' && existsSync('/usr/bin/taskset')
  if (pin) args.unshift('-c', cpu, 'bash')
  args.push('--', process.execPath, fileURLToPath(new URL(guest, import.meta.url)))
  args.push(...guestArgs, '--out', out)
  console.log(`\n--- ${title}${pin ? `, kernel harness on host CPU ${cpu}` : ''} ---`)
  const child = spawn(pin ? '/usr/bin/taskset' : 'bash', args, {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let partial = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    // the guest's table, live; its JSON line (VCAN_RESULT, ...) is read from the file
    const lines = (partial + chunk).split('\n')
    partial = lines.pop()!
    for (const line of lines) if (!/^[A-Z_]+_RESULT /.test(line)) console.log(line)
  })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  try {
    if (code !== 0) return `kernel harness exited with ${code}`
    return JSON.parse(readFileSync(out, 'utf8')) as T
  } catch (error) {
    return `no result from the guest: ${(error as Error).message}`
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function vcanRun(
  label: string,
  sysctl: string[],
  edgeArgs: string[],
  rates = process.env['BENCH_VCAN_RATES'],
  timing: { trials?: string; seconds?: string } = {},
): Promise<VcanSummary | string> {
  const harnessArgs = sysctl.flatMap((s) => ['--sysctl', s])
  if (process.env['VCAN_BENCH_THREADS']) harnessArgs.push('--env', 'VCAN_BENCH_THREADS')
  const guestArgs = ['--label', label]
  // one token: a value starting with a dash is refused otherwise
  if (edgeArgs.length > 0) guestArgs.push(`--edge-args=${edgeArgs.join(' ')}`)
  const env = process.env
  if (rates) guestArgs.push('--rates', rates)
  const trials = timing.trials ?? env['BENCH_VCAN_TRIALS']
  const seconds = timing.seconds ?? env['BENCH_VCAN_SECONDS']
  if (trials) guestArgs.push('--trials', trials)
  if (seconds) guestArgs.push('--seconds', seconds)
  return harnessRun<VcanSummary>(
    `vcan, ${label} socket buffers${sysctl.length ? ` (${sysctl.join(' ')})` : ''}`,
    './vcan-rates.ts',
    guestArgs,
    harnessArgs,
  )
}

/** bench/kernel-drops.ts: the kernel test's deterministic drop run, as figures */
interface KernelDropSummary {
  kernel: string
  receiveBuffer: string
  rounds: number
  sent: number
  received: number
  counted: number
  actual: number
  otherDrops: number
  unaccountedRounds: number[]
}

/** the CPU runs: rates, and trials of seconds each (BENCH_CPU_TRIALS, BENCH_CPU_SECONDS) */
const CPU_RATES = '1000,5000'
const CPU_TIMING = {
  trials: process.env['BENCH_CPU_TRIALS'] ?? '5',
  seconds: process.env['BENCH_CPU_SECONDS'] ?? '5',
}

const vcan: Record<string, VcanSummary | string> = {}
let kernelDrops: KernelDropSummary | string | undefined
if (process.env['BENCH_VCAN'] !== '0') {
  for (const config of VCAN_CONFIGS)
    vcan[config.label] = await vcanRun(config.label, config.sysctl, SHAPE_ARGS)
  // CPU per frame against candump at ordinary rates: more and longer trials than the sweep's
  // (a UML guest's tick accounting varies by a third from trial to trial), each shape
  vcan['cpu'] = await vcanRun('cpu', [], SHAPE_ARGS, CPU_RATES, CPU_TIMING)
  // another shape: what a worker of its own costs per frame at ordinary rates
  vcan[OTHER_CPU] = await vcanRun(
    OTHER_CPU,
    [],
    ['--threads', String(OTHER_THREADS)],
    CPU_RATES,
    CPU_TIMING,
  )
  const rounds = process.env['BENCH_DROP_ROUNDS']
  kernelDrops = await harnessRun<KernelDropSummary>(
    'kernel drops: small receive buffer, the edge stopped while cangen sends',
    './kernel-drops.ts',
    rounds ? ['--rounds', rounds] : [],
  )
}
const dropRun = typeof kernelDrops === 'object' ? kernelDrops : undefined
const summaries = Object.values(vcan).filter((v): v is VcanSummary => typeof v !== 'string')
const headline = (vcan['rmem-4M'] ?? vcan['default']) as VcanSummary | string | undefined
const picked = typeof headline === 'object' ? headline : undefined

console.log('')
for (const s of summaries) {
  console.log(
    `vcan ${s.label} (${s.kernel}, ${s.sysctl}): edge lossless up to ${s.vcanMaxLosslessFps} frames/s, candump up to ${s.candumpMaxLosslessFps}; frames lost in ${s.runs} runs: edge ${s.edgeFramesLost}, candump ${s.candumpFramesLost} (edge lost more in ${s.edgeWorseRuns} runs, candump in ${s.candumpWorseRuns})`,
  )
}
for (const [label, v] of Object.entries(vcan)) {
  if (typeof v === 'string') console.log(`vcan (${label}): not measured: ${v}`)
}
if (dropRun) {
  const verdict =
    dropRun.counted === dropRun.actual
      ? 'every dropped frame accounted for'
      : `off by ${dropRun.counted - dropRun.actual}`
  console.log(
    `kernel drops (${dropRun.kernel}, --receive-buffer ${dropRun.receiveBuffer}, edge stopped for ${dropRun.rounds} rounds): ${dropRun.sent} sent, ${dropRun.received} received; lost ${dropRun.actual} by cangen's numbers (kernelDropsActual), reported by the edge as kernel-overflow ${dropRun.counted} (kernelDropsCounted): ${verdict}`,
  )
} else if (kernelDrops !== undefined) {
  console.log(`kernel drops: not measured: ${kernelDrops}`)
}
// at the kernel's default buffers: the setting a user who changed nothing has
const atDefaults = typeof vcan['default'] === 'object' ? vcan['default'] : picked
const cpuShape = vcan['cpu']
const cpuRun = typeof cpuShape === 'object' ? cpuShape : undefined
const otherShape = vcan[OTHER_CPU]
const otherRun = typeof otherShape === 'object' ? otherShape : undefined
const result = {
  ...host,
  cpuPerFrameVsCandump: cpuRatio(cpuRun, 5000),
  cpuPerFrameVsCandump1k: cpuRatio(cpuRun, 1000),
  // every trial's ratio, lowest first: the spread behind the medians above
  cpuRatioTrials: { 1000: cpuRatios(cpuRun, 1000), 5000: cpuRatios(cpuRun, 5000) },
  cpuPerFrameVsCandumpMax: cpuRatio(atDefaults, 'maxLossless'),
  [`cpuPerFrameVsCandumpThreads${OTHER_THREADS}`]: cpuRatio(otherRun, 5000),
  [`cpuPerFrameVsCandump1kThreads${OTHER_THREADS}`]: cpuRatio(otherRun, 1000),
  kernelDropsCounted: dropRun?.counted ?? null,
  kernelDropsActual: dropRun?.actual ?? null,
  vcanMaxLosslessFps: picked?.vcanMaxLosslessFps ?? null,
  candumpMaxLosslessFps: picked?.candumpMaxLosslessFps ?? null,
  vcanSysctl: picked?.sysctl ?? null,
  vcanKernel: picked?.kernel ?? null,
  vcan: Object.fromEntries(
    Object.entries(vcan).map(([label, v]) => [
      label,
      typeof v === 'string'
        ? { error: v }
        : {
            sysctl: v.sysctl,
            vcanMaxLosslessFps: v.vcanMaxLosslessFps,
            candumpMaxLosslessFps: v.candumpMaxLosslessFps,
            edgeFramesLost: v.edgeFramesLost,
            candumpFramesLost: v.candumpFramesLost,
            edgeWorseRuns: v.edgeWorseRuns,
            candumpWorseRuns: v.candumpWorseRuns,
            runs: v.runs,
            edgePeakRssMb: v.edgePeakRssMb,
            // [requested, achieved, sent, candump lost, edge lost] per run
            runsTable: v.steps.map((r) => [
              r.requested,
              r.achievedFps,
              r.sent,
              r.candump.lost,
              r.edge.lost,
            ]),
          },
    ]),
  ),
  kernelDrops:
    kernelDrops === undefined
      ? null
      : typeof kernelDrops === 'string'
        ? { error: kernelDrops }
        : kernelDrops,
}
console.log(
  `edge CPU per frame ÷ candump's, default buffers: ${result.cpuPerFrameVsCandump1k} at 1,000 frames/s (target ≤ 1.5), ${result.cpuPerFrameVsCandump} at 5,000 (target ≤ 1.0), ${result.cpuPerFrameVsCandumpMax} at the highest rate both kept up with`,
)
console.log(JSON.stringify(result))
