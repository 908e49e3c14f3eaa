// What the edge's resident memory is made of, and what brings it down (issue 4: rssMb ≤ 80).
// Evidence for the memory section of the README; `pnpm bench` keeps the headline figure.
//
//   node bench/rss-study.ts [--configs baseline,env,…|all] [--repeat 3]
//        [--rates 1000:20,10000:60] [--idle-seconds 25] [--load-seconds 20]
//        [--throughput 3000000 [--throughput-rate 1000000|max]] [--node PATH | --binary PATH]
//        [--tls PKI_DIR] [--probe] [--json FILE] [--list]
//
// For each configuration (--list prints them: glibc malloc settings in the environment, V8
// flags for the whole process, worker resourceLimits, stand-ins for modules, ring size) and
// each rate, it starts the built edge (`node [flags] dist/main.js`, another Node with --node,
// or a single executable with --binary, its flags then in NODE_OPTIONS) on a virtual channel
// into a counting server on loopback, and reads /proc of the edge process:
// - idle: connected, before any frame (the channel's `delay`), after --idle-seconds (V8's
//   memory reducer shrinks each isolate's heap ~20 s after start: measure later than that);
// - load: the channel at each rate (frames/s, `:seconds` for its own duration) for
//   --load-seconds: peak VmRSS, and the CPU time of all the edge's threads
//   (/proc/<pid>/task/*/schedstat) per second and per 1,000 frames delivered, counted from
//   the second second of traffic on;
// - RSS split the kernel's way (VmRSS = RssAnon + RssFile + RssShmem, /proc/<pid>/status),
//   and from /proc/<pid>/smaps by kind of mapping: the node executable's pages (file-backed:
//   shared with the page cache, dropped and re-read under memory pressure), other files,
//   malloc (brk heap and per-thread arenas), V8 heap pages, JIT code, the ring, stacks;
// - with --throughput N: N frames at --throughput-rate (as `pnpm bench`'s first part):
//   frames/s delivered, CPU per 1,000 frames, peak RSS with the ring wrapped.
// The ring is resident only where frames have been written (it wraps after its capacity:
// ~40 s at 10,000 frames/s for 8 MiB, minutes at 1,000): `ring` says how much of it was,
// `full` is the end's VmRSS with all of it resident, the steady state of a long run.
// --tls PKI_DIR: the server speaks TLS 1.3 and asks for client certificates (as the packaged
// config.example.json), from `canbridge keys init --dir PKI_DIR --edge rss-edge`.
// --probe preloads bench/rss-preload.mjs into every thread: each thread's V8 heap, spaces and
// loaded modules at idle and at the end of the load (the probe costs memory itself: use it
// to compare threads, not for the figures).
// Configurations run round-robin, --repeat times each; the table gives min–max. Figures are
// MiB, as `pnpm bench`'s rssMb. The last line is JSON with every run.
import { type ChildProcess, spawn } from 'node:child_process'
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { type Counter, countingServer } from './counting-server.ts'

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url))
const PRELOAD = fileURLToPath(new URL('./rss-preload.mjs', import.meta.url))
const MB = 1024 * 1024
const DEFAULT_RING_BYTES = 8 * MB

interface Config {
  name: string
  what: string
  /** node flags before dist/main.js (with --binary: NODE_OPTIONS, where Node allows them) */
  node?: string[]
  env?: Record<string, string>
  /** replaces WORKER_LIMITS (src/supervisor.ts) through bench/rss-preload.mjs */
  workerLimits?: Record<string, number>
  /** merged into one worker's resourceLimits, by worker name, through bench/rss-preload.mjs */
  limitsByWorker?: Record<string, Record<string, number>>
  /** stand-in modules (bench/rss-preload.mjs): what loading the real ones costs */
  shims?: string[]
  edge?: string[]
}

const BASE_LIMITS = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 256 }
const ARENA = { MALLOC_ARENA_MAX: '2' }

const CONFIGS: Config[] = [
  { name: 'baseline', what: 'as shipped: node dist/main.js, WORKER_LIMITS young 2 / old 256' },
  {
    name: 'preload',
    what: 'baseline + bench/rss-preload.mjs doing nothing (its own cost)',
    workerLimits: BASE_LIMITS,
  },
  { name: 'arena2', what: 'MALLOC_ARENA_MAX=2', env: ARENA },
  { name: 'arena1', what: 'MALLOC_ARENA_MAX=1', env: { MALLOC_ARENA_MAX: '1' } },
  {
    name: 'trim128k',
    what: 'MALLOC_TRIM_THRESHOLD_=131072 (fixed: no dynamic mmap threshold)',
    env: { MALLOC_TRIM_THRESHOLD_: '131072' },
  },
  {
    name: 'mmap64k',
    what: 'MALLOC_MMAP_THRESHOLD_=65536',
    env: { MALLOC_MMAP_THRESHOLD_: '65536' },
  },
  { name: 'uv1', what: 'UV_THREADPOOL_SIZE=1', env: { UV_THREADPOOL_SIZE: '1' } },
  {
    name: 'semi1',
    what: '--max-semi-space-size=1 (main thread young generation)',
    node: ['--max-semi-space-size=1'],
  },
  {
    name: 'old256',
    what: '--max-old-space-size=256 (main thread; no builtins remap)',
    node: ['--max-old-space-size=256'],
  },
  {
    name: 'nosbc',
    what: '--no-short-builtin-calls (no thread remaps the builtins)',
    node: ['--no-short-builtin-calls'],
  },
  { name: 'pool1', what: '--v8-pool-size=1', node: ['--v8-pool-size=1'] },
  { name: 'stgc', what: '--single-threaded-gc', node: ['--single-threaded-gc'] },
  {
    name: 'st',
    what: '--single-threaded (no background GC or compile tasks)',
    node: ['--single-threaded'],
  },
  { name: 'ofs', what: '--optimize-for-size', node: ['--optimize-for-size'] },
  { name: 'maxopt2', what: '--max-opt=2 (Maglev, no Turbofan)', node: ['--max-opt=2'] },
  { name: 'lite', what: '--lite-mode (no optimizing compilers)', node: ['--lite-mode'] },
  { name: 'jitless', what: '--jitless (interpreter only)', node: ['--jitless'] },
  {
    name: 'compact',
    what: 'CANBRIDGE_COMPACT_HEAP=1 (src/heap.ts, opt-in)',
    env: { CANBRIDGE_COMPACT_HEAP: '1' },
  },
  {
    name: 'w-young1',
    what: 'workers: maxYoungGenerationSizeMb 1',
    workerLimits: { ...BASE_LIMITS, maxYoungGenerationSizeMb: 1 },
  },
  {
    name: 'w-old32',
    what: 'workers: maxOldGenerationSizeMb 32',
    workerLimits: { ...BASE_LIMITS, maxOldGenerationSizeMb: 32 },
  },
  {
    name: 'w-code8',
    what: 'workers: codeRangeSizeMb 8',
    workerLimits: { ...BASE_LIMITS, codeRangeSizeMb: 8 },
  },
  {
    name: 'w-stack1',
    what: 'workers: stackSizeMb 1',
    workerLimits: { ...BASE_LIMITS, stackSizeMb: 1 },
  },
  {
    name: 'wr-young4',
    what: 'socket-write worker: maxYoungGenerationSizeMb 4',
    limitsByWorker: { 'canbridge-socket-write': { maxYoungGenerationSizeMb: 4 } },
  },
  {
    name: 'wr-young8',
    what: 'socket-write worker: maxYoungGenerationSizeMb 8',
    limitsByWorker: { 'canbridge-socket-write': { maxYoungGenerationSizeMb: 8 } },
  },
  { name: 'w-none', what: 'workers: no resourceLimits (Node defaults)', workerLimits: {} },
  {
    name: 'nonative',
    what: 'MSGPACKR_NATIVE_ACCELERATION_DISABLED=true (as the single executable)',
    env: { MSGPACKR_NATIVE_ACCELERATION_DISABLED: 'true' },
  },
  {
    name: 'main-frames',
    what: 'main thread without msgpackr (stand-in @canbridge/protocol: frames, auth, errors)',
    shims: ['main-frames'],
  },
  {
    name: 'no-tls',
    what: 'socket-write worker without node:tls (stand-in; plain TCP)',
    shims: ['no-tls'],
  },
  { name: 'ring2m', what: '--ring-bytes 2M', edge: ['--ring-bytes', '2M'] },
  {
    name: 'maxopt1',
    what: '--max-opt=1 (Sparkplug, no Maglev or Turbofan)',
    node: ['--max-opt=1'],
  },
  { name: 'memsaver', what: '--memory-saver-mode', node: ['--memory-saver-mode'] },
  {
    name: 'grow20',
    what: '--heap-growing-percent=20 (old generation grows by 1.2×)',
    node: ['--heap-growing-percent=20'],
  },
  {
    name: 'combo',
    what: 'MALLOC_ARENA_MAX=2, --max-semi-space-size=1 --max-old-space-size=256 --v8-pool-size=1 --single-threaded-gc',
    env: ARENA,
    node: [
      '--max-semi-space-size=1',
      '--max-old-space-size=256',
      '--v8-pool-size=1',
      '--single-threaded-gc',
    ],
  },
  {
    name: 'env',
    what: "MALLOC_ARENA_MAX=2, --max-old-space-size=256 (both settable from a unit's Environment=)",
    env: ARENA,
    node: ['--max-old-space-size=256'],
  },
  {
    name: 'env+opt2',
    what: 'env + --max-opt=2',
    env: ARENA,
    node: ['--max-old-space-size=256', '--max-opt=2'],
  },
  {
    name: 'env+opt2+src',
    what: 'env+opt2 + what src changes would give: main thread without msgpackr, no node:tls for plain TCP, no msgpackr native addon',
    env: { ...ARENA, MSGPACKR_NATIVE_ACCELERATION_DISABLED: 'true' },
    node: ['--max-old-space-size=256', '--max-opt=2'],
    shims: ['main-frames', 'no-tls'],
  },
  {
    name: 'env+opt2+ring2m',
    what: 'env+opt2 + --ring-bytes 2M',
    env: ARENA,
    node: ['--max-old-space-size=256', '--max-opt=2'],
    edge: ['--ring-bytes', '2M'],
  },
  {
    name: 'env+opt2+src+ring2m',
    what: 'env+opt2+src + --ring-bytes 2M',
    env: { ...ARENA, MSGPACKR_NATIVE_ACCELERATION_DISABLED: 'true' },
    node: ['--max-old-space-size=256', '--max-opt=2'],
    shims: ['main-frames', 'no-tls'],
    edge: ['--ring-bytes', '2M'],
  },
  {
    name: 'env+lite',
    what: 'env + --lite-mode',
    env: ARENA,
    node: ['--max-old-space-size=256', '--lite-mode'],
  },
]

const { values } = parseArgs({
  options: {
    configs: { type: 'string', default: 'baseline' },
    repeat: { type: 'string', default: '3' },
    rates: { type: 'string', default: '1000:20,10000:60' },
    'idle-seconds': { type: 'string', default: '25' },
    'load-seconds': { type: 'string', default: '20' },
    throughput: { type: 'string' },
    'throughput-rate': { type: 'string', default: '1000000' },
    node: { type: 'string', default: process.execPath },
    binary: { type: 'string' },
    probe: { type: 'boolean', default: false },
    tls: { type: 'string' },
    json: { type: 'string' },
    list: { type: 'boolean', default: false },
  },
})

if (values.list) {
  for (const c of CONFIGS) console.log(`${c.name.padEnd(10)} ${c.what}`)
  process.exit(0)
}
const names = values.configs === 'all' ? CONFIGS.map((c) => c.name) : values.configs.split(',')
const selected = names.map((name) => {
  const config = CONFIGS.find((c) => c.name === name)
  if (!config) throw new RangeError(`--configs: no configuration ${JSON.stringify(name)} (--list)`)
  return config
})
const REPEAT = Number(values.repeat)
const IDLE_MS = Number(values['idle-seconds']) * 1000
const LOAD_MS = Number(values['load-seconds']) * 1000
/** `--rates 1000,10000:60`: frames/s, each with its own load seconds after a colon */
const LOAD_MS_AT = new Map(
  values.rates
    .split(',')
    .filter(Boolean)
    .map((item) => {
      const [rate, seconds] = item.split(':')
      return [Number(rate), seconds === undefined ? LOAD_MS : Number(seconds) * 1000] as const
    }),
)
const RATES = [...LOAD_MS_AT.keys()]
const THROUGHPUT = values.throughput === undefined ? 0 : Number(values.throughput)
if (values.binary === undefined && !existsSync(MAIN)) throw new Error(`${MAIN}: build first`)

// --- /proc readers ---

/** kB fields of /proc/<pid>/status or smaps_rollup */
function kbFields(text: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const m of text.matchAll(/^(\w+):\s+(\d+) kB$/gm)) out[m[1]!] = Number(m[2])
  return out
}

interface Memory {
  rss: number
  anon: number
  file: number
  shmem: number
  pss: number
  pssAnon: number
  pssFile: number
  threads: number
}

function memory(pid: number): Memory {
  const status = kbFields(readFileSync(`/proc/${pid}/status`, 'utf8'))
  const rollup = kbFields(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))
  const threads = /^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return {
    rss: (status['VmRSS'] ?? 0) * 1024,
    anon: (status['RssAnon'] ?? 0) * 1024,
    file: (status['RssFile'] ?? 0) * 1024,
    shmem: (status['RssShmem'] ?? 0) * 1024,
    pss: (rollup['Pss'] ?? 0) * 1024,
    pssAnon: (rollup['Pss_Anon'] ?? 0) * 1024,
    pssFile: (rollup['Pss_File'] ?? 0) * 1024,
    threads: Number(threads?.[1] ?? 0),
  }
}

/** CPU time of every thread of the process, ns (schedstat: time on a CPU), by thread name */
function cpuByThread(pid: number): Map<string, number> {
  const out = new Map<string, number>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()
      out.set(name, (out.get(name) ?? 0) + ns)
    } catch (error) {
      // a thread that ended between the listing and the read
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
  }
  return out
}

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0)

/**
 * Resident bytes by kind of mapping, from /proc/<pid>/smaps. Anonymous mappings are told
 * apart by shape: glibc's per-thread malloc arenas are 64 MiB-aligned heaps (rw part, then
 * a reserved ---p rest), V8 allocates its heap in 256 KiB-aligned pages, its code ranges
 * are rwx, the ring is one mapping of its capacity plus a header page, and thread stacks sit
 * above a one-page guard.
 */
type Breakdown = Record<
  | 'nodeFile'
  | 'otherFiles'
  | 'brkHeap'
  | 'arenas'
  | 'v8Pages'
  | 'codeRange'
  | 'ring'
  | 'stacks'
  | 'otherAnon',
  number
>

function breakdown(pid: number, ringBytes: number, executable: string): Breakdown {
  const out: Breakdown = {
    nodeFile: 0,
    otherFiles: 0,
    brkHeap: 0,
    arenas: 0,
    v8Pages: 0,
    codeRange: 0,
    ring: 0,
    stacks: 0,
    otherAnon: 0,
  }
  const text = readFileSync(`/proc/${pid}/smaps`, 'utf8')
  const maps: { start: bigint; end: bigint; perm: string; path: string; rss: number }[] = []
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \d+\s*(.*)$/.exec(line)
    if (head) {
      maps.push({
        start: BigInt(`0x${head[1]}`),
        end: BigInt(`0x${head[2]}`),
        perm: head[3]!,
        path: head[4]!.trim(),
        rss: 0,
      })
    } else if (line.startsWith('Rss:')) maps.at(-1)!.rss = Number(line.split(/\s+/)[1]) * 1024
  }
  const ARENA = 64n * 1024n * 1024n
  const PAGE = 256n * 1024n
  for (const [i, m] of maps.entries()) {
    const size = m.end - m.start
    const prev = maps[i - 1]
    if (m.path === executable) out.nodeFile += m.rss
    else if (m.path.startsWith('/')) out.otherFiles += m.rss
    else if (m.path === '[heap]') out.brkHeap += m.rss
    else if (m.path.startsWith('[')) out.otherAnon += m.rss
    else if (m.perm.includes('x')) out.codeRange += m.rss
    // the ring: its capacity plus the header page (a mapping of its own: glibc mmaps it)
    else if (size === BigInt(ringBytes) + 4096n) out.ring += m.rss
    // thread stacks: right above a one-page guard
    else if (prev?.perm === '---p' && prev.end === m.start && prev.end - prev.start === 4096n)
      out.stacks += m.rss
    else if (
      m.start % ARENA === 0n &&
      (size === ARENA || (maps[i + 1]?.start === m.end && maps[i + 1]!.end - m.start === ARENA))
    )
      out.arenas += m.rss
    else if (m.start % PAGE === 0n && size % PAGE <= 4096n) out.v8Pages += m.rss
    else out.otherAnon += m.rss
  }
  return out
}

/**
 * --tls DIR: the workstation end speaks TLS 1.3 and asks for client certificates from the PKI
 * directory of `canbridge keys init --edge rss-edge` (as the packaged config.example.json sets
 * up the Pi), like a secured TCPBus; frames are counted as without TLS.
 */
function tlsServer(dir: string): Promise<Counter> {
  return countingServer({
    serverId: 'rss-study',
    tls: {
      certFile: join(dir, 'server.crt'),
      keyFile: join(dir, 'server.key'),
      clientCaFile: join(dir, 'ca.crt'),
    },
  })
}

// --- one run: one edge process, one rate ---

interface Run {
  config: string
  rate: number | 'throughput'
  repeat: number
  idle?: Memory & { breakdown: Breakdown }
  load?: Memory & { breakdown: Breakdown; peakRss: number }
  cpuMsPer1k?: number
  /** CPU ms per second of all threads: connected and idle, and under the load */
  idleCpuMsPerS?: number
  loadCpuMsPerS?: number
  cpuByThreadMsPer1k?: Record<string, number>
  fps?: number
  frames: number
  gaps: number
  threadsProbe?: { idle: unknown[]; load: unknown[] }
  error?: string
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function until(test: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = performance.now() + timeoutMs
  while (!test()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

function ringBytesOf(config: Config): number {
  const i = config.edge?.indexOf('--ring-bytes') ?? -1
  if (i < 0) return DEFAULT_RING_BYTES
  const m = /^(\d+)([KMG]?)$/i.exec(config.edge![i + 1]!)
  const unit = { '': 1, K: 1024, M: MB, G: 1024 * MB }[m![2]!.toUpperCase() as '' | 'K' | 'M' | 'G']
  return Number(m![1]) * unit
}

function readProbe(dir: string): unknown[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith('thread-'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as unknown)
}

async function runOnce(config: Config, rate: number | 'throughput', repeat: number): Promise<Run> {
  const counter =
    values.tls === undefined
      ? await countingServer({ serverId: 'rss-study' })
      : await tlsServer(values.tls)
  const throughput = rate === 'throughput'
  const delayMs = throughput ? 2000 : IDLE_MS + 4000
  const channel = throughput
    ? `virtual:rss?rate=${values['throughput-rate']}&count=${THROUGHPUT}&pattern=counter&delay=${delayMs}`
    : `virtual:rss?rate=${rate}&pattern=counter&delay=${delayMs}`
  const edgeArgs = ['--server', `127.0.0.1:${counter.port}`, '--channel', channel]
  if (values.tls !== undefined) {
    const edge = join(values.tls, 'edges', 'rss-edge')
    edgeArgs.push('--edge-id', 'rss-edge', '--tls-ca', join(values.tls, 'ca.crt'))
    edgeArgs.push('--tls-cert', `${edge}.crt`, '--tls-key', `${edge}.key`)
  }
  edgeArgs.push('--log-level', 'warn', ...(config.edge ?? []))
  const env: NodeJS.ProcessEnv = { ...process.env, ...config.env }
  delete env['NODE_OPTIONS']
  const nodeFlags = [...(config.node ?? [])]
  if (config.workerLimits || config.limitsByWorker || config.shims || values.probe) {
    nodeFlags.push('--import', PRELOAD)
    if (config.limitsByWorker)
      env['RSS_STUDY_LIMITS_BY_WORKER'] = JSON.stringify(config.limitsByWorker)
    if (config.workerLimits) env['RSS_STUDY_WORKER_LIMITS'] = JSON.stringify(config.workerLimits)
    if (config.shims) env['RSS_STUDY_SHIMS'] = config.shims.join(',')
  }
  const probeDir = values.probe ? mkdtempSync(join(tmpdir(), 'rss-study-')) : undefined
  if (probeDir) env['RSS_STUDY_PROBE_DIR'] = probeDir
  let child: ChildProcess
  let executable: string
  if (values.binary !== undefined) {
    if (config.workerLimits || config.limitsByWorker || config.shims || values.probe)
      throw new Error(`${config.name}: the preload needs dist/main.js, not --binary`)
    if (nodeFlags.length > 0) env['NODE_OPTIONS'] = nodeFlags.join(' ')
    executable = values.binary
    child = spawn(executable, edgeArgs, { env, stdio: ['ignore', 'ignore', 'pipe'] })
  } else {
    executable = values.node
    child = spawn(executable, [...nodeFlags, MAIN, ...edgeArgs], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
  }
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    stderr = (stderr + s).slice(-4000)
  })
  const pid = child.pid!
  const ringBytes = ringBytesOf(config)
  const run: Run = { config: config.name, rate, repeat, frames: 0, gaps: 0 }
  const real = realpathSync(executable)
  const snap = () => ({ ...memory(pid), breakdown: breakdown(pid, ringBytes, real) })
  try {
    await until(() => counter.connected, 30_000, 'the edge to connect')
    const connectedAt = performance.now()
    if (!throughput) {
      // idle CPU from the second half of the idle wait (startup's compilation done)
      await sleep(IDLE_MS / 2)
      const idleCpu0 = sum(cpuByThread(pid))
      const idleFrom = performance.now()
      await until(() => performance.now() - connectedAt >= IDLE_MS, IDLE_MS + 1000, 'idle')
      run.idleCpuMsPerS =
        (sum(cpuByThread(pid)) - idleCpu0) / 1e6 / ((performance.now() - idleFrom) / 1000)
      run.idle = snap()
      if (counter.received > 0) throw new Error('traffic began before the idle sample')
      if (probeDir) run.threadsProbe = { idle: readProbe(probeDir), load: [] }
    }
    await until(() => counter.received > 0, delayMs + 30_000, 'the first frame')
    // the first second of traffic warms the compilers up: CPU counts from the next one
    await sleep(throughput ? 0 : 1000)
    const cpu0 = cpuByThread(pid)
    const frames0 = counter.received
    const loadFrom = performance.now()
    let peakRss = 0
    const loadMs = throughput ? 120_000 : (LOAD_MS_AT.get(rate) ?? LOAD_MS)
    const end = performance.now() + loadMs
    while (performance.now() < end) {
      peakRss = Math.max(peakRss, memory(pid).rss)
      if (throughput && counter.received >= THROUGHPUT) break
      if (child.exitCode !== null) throw new Error(`the edge exited (${child.exitCode})`)
      await sleep(throughput ? 100 : 500)
    }
    const cpu1 = cpuByThread(pid)
    const frames = counter.received - frames0
    const last = snap()
    run.load = { ...last, peakRss: Math.max(peakRss, last.rss) }
    run.frames = counter.received
    run.gaps = counter.gaps
    run.cpuMsPer1k = ((sum(cpu1) - sum(cpu0)) / 1e6 / Math.max(1, frames)) * 1000
    run.loadCpuMsPerS = (sum(cpu1) - sum(cpu0)) / 1e6 / ((performance.now() - loadFrom) / 1000)
    run.cpuByThreadMsPer1k = Object.fromEntries(
      [...cpu1].map(([name, ns]) => [
        name,
        Number((((ns - (cpu0.get(name) ?? 0)) / 1e6 / Math.max(1, frames)) * 1000).toFixed(4)),
      ]),
    )
    if (throughput)
      run.fps = Math.round(counter.received / ((counter.lastAt - counter.firstAt) / 1000))
    else run.fps = Math.round(frames / ((performance.now() - loadFrom) / 1000))
    if (probeDir && run.threadsProbe) run.threadsProbe.load = readProbe(probeDir)
  } catch (error) {
    run.error = `${(error as Error).message}${stderr ? `: ${stderr.trim().slice(-500)}` : ''}`
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGTERM')
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await new Promise((resolve) => child.once('exit', resolve))
      clearTimeout(killer)
    }
    await counter.close()
    if (probeDir) rmSync(probeDir, { recursive: true, force: true })
  }
  return run
}

// --- the schedule and the table ---

const nodeVersion =
  values.binary === undefined
    ? await new Promise<string>((resolve) => {
        const p = spawn(values.node, ['--version'], { stdio: ['ignore', 'pipe', 'inherit'] })
        let out = ''
        p.stdout.setEncoding('utf8').on('data', (s: string) => {
          out += s
        })
        p.once('exit', () => resolve(out.trim()))
      })
    : 'single executable'
console.log(
  `rss-study: ${values.binary ?? `node ${nodeVersion} dist/main.js`}; ${REPEAT} × ${selected.map((c) => c.name).join(', ')}; rates ${values.rates}${THROUGHPUT ? `, throughput ${THROUGHPUT}` : ''}; idle ${IDLE_MS / 1000} s, load ${LOAD_MS / 1000} s unless given`,
)
const runs: Run[] = []
const kinds: (number | 'throughput')[] = [...RATES, ...(THROUGHPUT ? ['throughput' as const] : [])]
for (let r = 1; r <= REPEAT; r++) {
  for (const config of selected) {
    for (const rate of kinds) {
      const run = await runOnce(config, rate, r)
      runs.push(run)
      const mb = (n: number | undefined) => (n === undefined ? '-' : (n / MB).toFixed(1))
      console.log(
        `  #${r} ${config.name} ${rate}: ${run.error ? `ERROR ${run.error}` : `idle ${mb(run.idle?.rss)} MB, load peak ${mb(run.load?.peakRss)} MB (anon ${mb(run.load?.anon)}, file ${mb(run.load?.file)}), ${run.cpuMsPer1k?.toFixed(3)} ms/1k (CPU ms/s idle ${run.idleCpuMsPerS?.toFixed(1)}, load ${run.loadCpuMsPerS?.toFixed(1)}), ${run.fps} fps, threads ${run.load?.threads}`}`,
      )
      if (process.env['RSS_STUDY_THREADS'] === '1')
        console.log(`      CPU ms/1k by thread: ${JSON.stringify(run.cpuByThreadMsPer1k)}`)
      if (run.threadsProbe) printProbe(run.threadsProbe)
    }
  }
}

function printProbe(probe: { idle: unknown[]; load: unknown[] }): void {
  for (const [phase, threads] of Object.entries(probe)) {
    for (const t of threads as {
      name: string
      heap: Record<string, number>
      spaces: Record<string, number>
      code: Record<string, number>
      arrayBuffers: number
      modules: string[]
    }[]) {
      // the last node_modules/<package>/ of each URL (pnpm nests them under .pnpm)
      const packages = new Set(
        t.modules
          .map((u) => [...u.matchAll(/node_modules\/(@[^/]+\/[^/]+|[^/.@][^/]*)\//g)].at(-1)?.[1])
          .filter(Boolean),
      )
      const spaces = Object.entries(t.spaces)
        .filter(([, v]) => v > 0)
        .map(([k, v]) => `${k.replace('_space', '')} ${(v / MB).toFixed(2)}`)
        .join(', ')
      console.log(
        `      ${phase} ${t.name.padEnd(22)} heap physical ${(t.heap['total_physical_size']! / MB).toFixed(1)} MB (used ${(t.heap['used_heap_size']! / MB).toFixed(1)}), malloced ${(t.heap['malloced_memory']! / MB).toFixed(1)} (peak ${(t.heap['peak_malloced_memory']! / MB).toFixed(1)}), external ${(t.heap['external_memory']! / MB).toFixed(1)}; ${t.modules.length} modules, packages: ${[...packages].join(' ') || '-'}\n        spaces: ${spaces}`,
      )
    }
  }
}

/** min–max over the repeats, in MB or as given */
function range(xs: (number | undefined)[], scale = MB, digits = 1): string {
  const ok = xs.filter((x): x is number => x !== undefined && Number.isFinite(x))
  if (ok.length === 0) return '-'
  const lo = Math.min(...ok) / scale
  const hi = Math.max(...ok) / scale
  return lo.toFixed(digits) === hi.toFixed(digits)
    ? lo.toFixed(digits)
    : `${lo.toFixed(digits)}–${hi.toFixed(digits)}`
}

console.log(
  `\nMB, min–max of ${REPEAT} runs. idle: VmRSS = anon + file (of it the node executable) after ${IDLE_MS / 1000} s connected. ` +
    `Each rate: peak VmRSS; at the end RssAnon / RssFile, the ring's resident part, and "full": the end's VmRSS with the whole ring resident (steady state); ` +
    `CPU of all threads in ms per second and per 1,000 frames. Throughput: frames/s delivered at 1,000,000/s.`,
)
for (const config of selected) {
  const mine = runs.filter((r) => r.config === config.name && !r.error)
  const lines = [
    `${config.name.padEnd(10)} idle ${range(mine.map((r) => r.idle?.rss))} (anon ${range(mine.map((r) => r.idle?.anon))}, file ${range(mine.map((r) => r.idle?.file))}, node ${range(mine.map((r) => r.idle?.breakdown.nodeFile))}), CPU ${range(
      mine.map((r) => r.idleCpuMsPerS),
      1,
    )} ms/s`,
  ]
  const ringBytes = ringBytesOf(config)
  for (const rate of kinds) {
    const at = mine.filter((r) => r.rate === rate)
    const full = at.map((r) => r.load && r.load.rss - r.load.breakdown.ring + ringBytes)
    lines.push(
      `  ${String(rate).padEnd(10)} peak ${range(at.map((r) => r.load?.peakRss))} (anon ${range(at.map((r) => r.load?.anon))}, file ${range(at.map((r) => r.load?.file))}, ring ${range(at.map((r) => r.load?.breakdown.ring))}, full ${range(full)}); CPU ${range(
        at.map((r) => r.loadCpuMsPerS),
        1,
      )} ms/s, ${range(
        at.map((r) => r.cpuMsPer1k),
        1,
        3,
      )} ms/1k${
        rate === 'throughput'
          ? `, ${range(
              at.map((r) => r.fps),
              1000,
              0,
            )}k frames/s`
          : ''
      }`,
    )
  }
  const failed = runs.filter((r) => r.config === config.name && r.error).length
  if (failed) lines.push(`  ${failed} runs failed`)
  console.log(lines.join('\n'))
}
const idleBreakdown = runs.find((r) => r.idle)?.idle?.breakdown
if (idleBreakdown) {
  console.log(
    `\nsmaps of the first idle sample (MB): ${Object.entries(idleBreakdown)
      .map(([k, v]) => `${k} ${(v / MB).toFixed(1)}`)
      .join(', ')}`,
  )
}
const result = { node: nodeVersion, binary: values.binary ?? null, runs }
if (values.json !== undefined) writeFileSync(values.json, JSON.stringify(result, null, 1))
console.log(JSON.stringify(result))
