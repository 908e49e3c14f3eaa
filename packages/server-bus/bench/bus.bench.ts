// `pnpm bench`: runs bench-server.ts (a TCPBus) in its own process, fed over loopback TCP by
// synthetic-edge.ts in another, and prints the figures. Last line: one JSON object. Twice:
// a process for the link on the application's thread, then one for `worker: true`, so that
// each mode's peak RSS is that of an application using it alone.
//
// The measured process runs as plain JavaScript: its TypeScript is stripped here, with
// Node's own module.stripTypeScriptTypes, so that it measures the library as a compiled
// application runs it, without Node's in-process TypeScript loader (about 20 MB of RSS).
// It runs with V8's young generation capped at 4 MB semi-spaces (--max-semi-space-size=4), the
// setting the README recommends for a receiving process: left alone, V8 grows the young
// generation far more under a sustained flat-out stream (more RSS, longer scavenges).
// BENCH_V8_DEFAULTS=1 runs without the cap.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import module from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makePki } from '../test/security/openssl-pki.ts'

type Figures = Record<string, unknown>
const here = (name: string) => new URL(name, import.meta.url)
const V8_FLAGS = process.env['BENCH_V8_DEFAULTS'] === '1' ? [] : ['--max-semi-space-size=4']
// Extra node flags for the measured process, e.g. BENCH_NODE_FLAGS='--cpu-prof --trace-gc'.
const EXTRA_FLAGS = (process.env['BENCH_NODE_FLAGS'] ?? '').split(' ').filter(Boolean)

// The stripping API is still marked experimental; its one warning would only add noise.
process.removeAllListeners('warning')
const source = readFileSync(here('./bench-server.ts'), 'utf8')
const dir = mkdtempSync(join(tmpdir(), 'server-bus-bench-'))
const server = join(dir, 'bench-server.mjs')
writeFileSync(server, module.stripTypeScriptTypes(source))
// The TLS phase's certificates (a CA and a server certificate for localhost and 127.0.0.1).
const pki = await makePki([])
const pkiDir = dirname(pki.layout.caCert)
try {
  const inline = measure('inline')
  const worker = measure('worker')
  const num = (figures: Figures, key: string) => figures[key] as number
  // one JSON object as before: the two processes' figures side by side
  const merged: Figures = {
    ...inline,
    ...worker,
    edgeRingFrames: inline['edgeRingFrames'],
    rssMb: Math.max(num(inline, 'peakRssMb'), num(worker, 'peakRssMb')),
    peakRssMb: inline['peakRssMb'],
    peakRssMbWorker: worker['peakRssMb'],
    peakRssMbAfter: {
      ...(inline['peakRssMbAfter'] as object),
      ...(worker['peakRssMbAfter'] as object),
    },
    memoryAfter: { ...(inline['memoryAfter'] as object), ...(worker['memoryAfter'] as object) },
    loadAvg1m: Math.max(num(inline, 'loadAvg1m'), num(worker, 'loadAvg1m')),
    framesIn: inline['framesIn'],
    gaps: num(inline, 'gaps') + num(worker, 'gaps'),
    duplicates: num(inline, 'duplicates') + num(worker, 'duplicates'),
    checksum: (num(inline, 'checksum') + num(worker, 'checksum')) % 1000,
  }
  const r = merged as Record<string, number>
  const last = JSON.stringify(merged)
  const n = (value: number | undefined) => (value ?? 0).toLocaleString('en-US')
  const pct = (ratio: number | undefined) => `${Math.round((ratio ?? 0) * 100)}%`
  console.log(`batches():        ${n(r['batchFps'])} frames/s   (target >= 1,500,000)`)
  console.log(`for await:        ${n(r['iterFps'])} frames/s   (target >= 500,000)`)
  console.log(`recv():           ${n(r['recvFps'])} frames/s   (target >= 300,000)`)
  console.log(
    `latency @1k/s:    p50 ${r['p50Ms1k']} ms, p99 ${r['p99Ms1k']} ms (target <= 1), max ${r['maxMs1k']} ms`,
  )
  console.log(
    `latency @10k/s:   p50 ${r['p50Ms10k']} ms, p99 ${r['p99Ms10k']} ms (target <= 2), max ${r['maxMs10k']} ms`,
  )
  console.log(
    `TLS 1.3 + token: batches() ${n(r['tlsBatchFps'])} frames/s (${pct(r['tlsBatchRatio'])} of plain, target >= 70%), latency @1k/s p50 ${r['tlsP50Ms1k']} ms, p99 ${r['tlsP99Ms1k']} ms (${r['tlsP99Ratio1k']}x plain)`,
  )
  console.log(
    `floor @1k/s:      p50 ${r['floorP50Ms1k']} ms, p99 ${r['floorP99Ms1k']} ms (plain TCP between the same processes, no protocol or bus)`,
  )
  console.log(
    `blocked app:      the app's thread busy 200 ms of every second, an edge at 10,000 frames/s (ring of ${n(r['edgeRingFrames'])} frames before it spools)`,
  )
  console.log(
    `  on its thread:  ACK p99 ${r['ackP99MsBlocked']} ms, max ${r['ackMaxMsBlocked']} ms; spooled ${n(r['spooledBlocked'])} frames; heartbeat timeouts ${r['heartbeatTimeoutsBlocked']}`,
  )
  console.log(
    `  worker: true:   ACK p99 ${r['ackP99MsBlockedWorker']} ms (target <= 5), max ${r['ackMaxMsBlockedWorker']} ms; spooled ${n(r['spooledBlockedWorker'])} frames (target 0); heartbeat timeouts ${r['heartbeatTimeoutsBlockedWorker']}`,
  )
  console.log(
    `worker recvBatch: ${n(r['workerBatchFps'])} frames/s across the thread boundary (target >= 3,000,000)`,
  )
  console.log(
    `server peak RSS:  link on the app's thread ${r['peakRssMb']} MB, worker: true ${r['peakRssMbWorker']} MB (target <= 120, each a process of its own); 1-min load average ${r['loadAvg1m']}`,
  )
  console.log(last)
} finally {
  rmSync(dir, { recursive: true, force: true })
  await pki.remove()
}

/** Runs the measured process for one mode; its figures (its last line, one JSON object). */
function measure(mode: 'inline' | 'worker'): Figures {
  const run = spawnSync(
    process.execPath,
    [
      ...V8_FLAGS,
      ...EXTRA_FLAGS,
      server,
      here('../dist/index.js').href,
      fileURLToPath(here('./synthetic-edge.ts')),
      pkiDir,
      mode,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' },
  )
  const lines = run.stdout.trim().split('\n')
  if (EXTRA_FLAGS.length > 0) console.log(lines.slice(0, -1).join('\n'))
  const last = lines.at(-1) ?? ''
  if (run.status !== 0 || !last.startsWith('{')) {
    console.error(run.stdout)
    throw new Error(`bench server (${mode}) failed (exit ${run.status})`)
  }
  return JSON.parse(last) as Figures
}
