// End-to-end check of a built canbridge-edge executable over the virtual CAN backend: a
// TCPBus (the workstation library, @canbridge/server-bus) listens on loopback, the
// executable (natively, or under qemu-user for another architecture) streams a virtual
// channel to it, and the frames are counted as they arrive: every generated frame, in
// order (each frame's payload carries its number), no gap and no drop reported. Also measures cold start (spawn to first frame
// received) and, natively, the process's RSS idle and under load.
//
//   node packaging/edge/e2e.ts --binary dist/.../canbridge-edge [--arch arm64]
//        [--frames 2000] [--rate 1000] [--rss-rate 5000] [--rss-seconds 10] [--json]
import { type ChildProcess, spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { parseArgs } from 'node:util'
import { ARCHES, type Arch, hostArch, REPO, TARGETS } from './targets.ts'

type TCPBusModule = typeof import('../../packages/server-bus/dist/index.js')
const { TCPBus, silentLogger } = (await import(
  path.join(REPO, 'packages', 'server-bus', 'dist', 'index.js')
)) as TCPBusModule
type Bus = Awaited<ReturnType<TCPBusModule['TCPBus']['listen']>>

interface Edge {
  child: ChildProcess
  started: number
  output: string
  exited: Promise<number | null>
}

function startEdge(binary: string, arch: Arch, args: string[], home: string): Edge {
  const target = TARGETS[arch]
  const [command, prefix] =
    arch === hostArch() ? [binary, []] : [target.qemu, ['-L', target.sysroot, binary]]
  const started = performance.now()
  const child = spawn(command, [...prefix, ...args], {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const edge: Edge = {
    child,
    started,
    output: '',
    exited: new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))),
    ),
  }
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    edge.output = (edge.output + s).slice(-20_000)
  })
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    edge.output = (edge.output + s).slice(-20_000)
  })
  return edge
}

async function stopEdge(edge: Edge, timeoutMs = 30_000): Promise<number | null> {
  if (edge.child.exitCode !== null) return edge.child.exitCode
  edge.child.kill('SIGTERM')
  const timer = setTimeout(() => edge.child.kill('SIGKILL'), timeoutMs)
  const code = await edge.exited
  clearTimeout(timer)
  return code
}

/** RSS in KiB of a process (all its threads), from /proc. */
function rssKiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN)
}

function fail(message: string, edge?: Edge): never {
  throw new Error(edge ? `${message}\n--- edge output ---\n${edge.output.trim()}` : message)
}

async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  edge?: Edge,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `timed out after ${ms} ms: ${what}${edge ? `\n--- edge output ---\n${edge.output.trim()}` : ''}`,
          ),
        ),
      ms,
    )
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

interface Watch {
  gaps: unknown[]
  drops: unknown[]
}

function watch(bus: Bus): Watch {
  const w: Watch = { gaps: [], drops: [] }
  bus.on('gap', (gap) => w.gaps.push(gap))
  bus.on('drops', (drops) => w.drops.push(drops))
  return w
}

/** Streams `frames` frames at `rate`; checks they all arrive. */
async function frameRun(binary: string, arch: Arch, frames: number, rate: number, home: string) {
  const bus = await TCPBus.listen({ host: '127.0.0.1', port: 0, logger: silentLogger })
  const seen = watch(bus)
  const { port } = bus.address as { port: number }
  const edge = startEdge(
    binary,
    arch,
    [
      '--server',
      `127.0.0.1:${port}`,
      '--channel',
      `virtual:e2e?rate=${rate}&count=${frames}&pattern=counter`,
      // the disk spool as installed (edge.json's spoolDir): its code path loads too
      '--spool-dir',
      path.join(home, 'spool'),
      '--log-level',
      'warn',
    ],
    home,
  )
  try {
    let received = 0
    let firstFrameMs = 0
    // the counter pattern's payload starts with the frame's number (u32 little-endian)
    let expected = 0
    let outOfOrder = 0
    const deadline = 30_000 + (frames / rate) * 1000 * (arch === hostArch() ? 2 : 6)
    await withTimeout(
      (async () => {
        while (received < frames) {
          const batch = await bus.recvBatch({ maxFrames: 4096, timeoutMs: 1000 })
          if (batch.length > 0 && received === 0) firstFrameMs = performance.now() - edge.started
          for (const message of batch) {
            const d = message.data
            const n = (d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24)) >>> 0
            if (n !== expected) outOfOrder++
            expected = n + 1
          }
          received += batch.length
          if (edge.child.exitCode !== null && batch.length === 0)
            fail(`edge exited early (${edge.child.exitCode})`, edge)
        }
      })(),
      deadline,
      `${frames} frames (received so far: see edge output)`,
      edge,
    )
    const extra = await bus.recvBatch({ maxFrames: 4096, timeoutMs: 300 })
    const code = await stopEdge(edge)
    if (code !== 0) fail(`edge exited with ${code} after SIGTERM`, edge)
    if (extra.length > 0) fail(`${extra.length} frames more than the ${frames} generated`, edge)
    if (seen.gaps.length > 0 || seen.drops.length > 0) {
      fail(`gaps ${JSON.stringify(seen.gaps)} drops ${JSON.stringify(seen.drops)}`, edge)
    }
    if (outOfOrder > 0) fail(`${outOfOrder} frames out of sequence`, edge)
    return { frames: received, firstFrameMs, totalMs: performance.now() - edge.started }
  } finally {
    if (edge.child.exitCode === null) edge.child.kill('SIGKILL')
    await bus.shutdown()
  }
}

/** RSS connected and idle, then at `rate` frames/s for `seconds` (native only). */
async function rssRun(binary: string, arch: Arch, rate: number, seconds: number, home: string) {
  const bus = await TCPBus.listen({ host: '127.0.0.1', port: 0, logger: silentLogger })
  const seen = watch(bus)
  const { port } = bus.address as { port: number }
  const idleSeconds = 5
  const edge = startEdge(
    binary,
    arch,
    [
      '--server',
      `127.0.0.1:${port}`,
      '--channel',
      `virtual:rss?rate=${rate}&pattern=counter&delay=${idleSeconds * 1000}`,
      '--log-level',
      'warn',
    ],
    home,
  )
  try {
    const pid = edge.child.pid!
    await withTimeout(
      new Promise<void>((resolve) => bus.once('edgeConnected', () => resolve())),
      20_000,
      'the edge to connect',
      edge,
    )
    await new Promise((r) => setTimeout(r, (idleSeconds - 1) * 1000))
    const idleKiB = rssKiB(pid)
    let received = 0
    const samples: number[] = []
    const loadStart = performance.now()
    let windowStart = 0
    let windowFrames = 0
    while (performance.now() - loadStart < (seconds + 1) * 1000) {
      const batch = await bus.recvBatch({ maxFrames: 8192, timeoutMs: 200 })
      received += batch.length
      if (received > 0 && windowStart === 0) windowStart = performance.now()
      if (windowStart > 0) windowFrames += batch.length
      samples.push(rssKiB(pid))
      if (edge.child.exitCode !== null) fail(`edge exited (${edge.child.exitCode})`, edge)
    }
    const rateSeen = windowFrames / ((performance.now() - windowStart) / 1000)
    const code = await stopEdge(edge)
    if (code !== 0) fail(`edge exited with ${code} after SIGTERM`, edge)
    if (seen.gaps.length > 0 || seen.drops.length > 0) fail(`gaps or drops under load`, edge)
    const tail = samples.slice(Math.floor(samples.length / 2))
    return {
      idleRssMiB: idleKiB / 1024,
      loadRssMiB: Math.max(...tail) / 1024,
      loadRateFps: Math.round(rateSeen),
      loadFrames: received,
    }
  } finally {
    if (edge.child.exitCode === null) edge.child.kill('SIGKILL')
    await bus.shutdown()
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      binary: { type: 'string' },
      arch: { type: 'string', default: hostArch() ?? 'x64' },
      frames: { type: 'string', default: '2000' },
      rate: { type: 'string', default: '1000' },
      'rss-rate': { type: 'string', default: '5000' },
      'rss-seconds': { type: 'string', default: '10' },
      'no-rss': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  })
  if (!values.binary) throw new Error('--binary PATH is required')
  const arch = values.arch as Arch
  if (!ARCHES.includes(arch)) throw new Error(`--arch: one of ${ARCHES.join(', ')}`)
  const binary = path.resolve(values.binary)
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'canbridge-e2e-'))
  try {
    const run = await frameRun(binary, arch, Number(values.frames), Number(values.rate), home)
    const result: Record<string, unknown> = { arch, native: arch === hostArch(), ...run }
    if (arch === hostArch() && !values['no-rss']) {
      Object.assign(
        result,
        await rssRun(binary, arch, Number(values['rss-rate']), Number(values['rss-seconds']), home),
      )
    }
    if (values.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`)
    } else {
      process.stdout.write(
        `e2e ${arch}${arch === hostArch() ? '' : ' (qemu-user)'}: ${run.frames} frames arrived in order, no gap or drop; ` +
          `cold start to first frame ${run.firstFrameMs.toFixed(0)} ms` +
          (result['idleRssMiB'] !== undefined
            ? `; RSS idle ${(result['idleRssMiB'] as number).toFixed(1)} MiB, at ${result['loadRateFps']} frames/s ${(result['loadRssMiB'] as number).toFixed(1)} MiB`
            : '') +
          '\n',
      )
    }
  } finally {
    fs.rmSync(home, { recursive: true, force: true })
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`e2e: ${(error as Error).message}\n`)
    process.exit(1)
  },
)
