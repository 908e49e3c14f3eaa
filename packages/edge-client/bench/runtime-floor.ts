// The resident memory of the runtime alone, before any of the edge's code: `node` with 0, 1
// and 2 idle worker threads (the edge's architecture is a main thread plus a poll worker and
// a socket-write worker), each thread's heap collected, measured from /proc. Evidence for
// what `rssMb ≤ 80` (issue 4) leaves to the daemon on a given Node line.
//
//   node bench/runtime-floor.ts [--node PATH] [--flags="…" (default: src/runtime-flags.ts)] [--settle-ms 1500]
//
// Each count runs in a fresh process (`--expose-gc`); the last line is JSON.
import { execFileSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { RUNTIME_FLAGS } from '../src/runtime-flags.ts'
import { WORKER_LIMITS } from '../src/supervisor.ts'

const { values } = parseArgs({
  options: {
    node: { type: 'string', default: process.execPath },
    // the flags the edge runs with (the single executable carries them)
    flags: { type: 'string', default: RUNTIME_FLAGS.join(' ') },
    'settle-ms': { type: 'string', default: '1500' },
  },
})

// Runs inside the measured process: starts N workers with the edge's resourceLimits, lets
// them settle, collects every heap, then prints its /proc/self/status figures.
const PROBE = `
const { Worker } = require('node:worker_threads')
const { readFileSync } = require('node:fs')
const count = Number(process.argv[1])
const settleMs = Number(process.argv[2])
const resourceLimits = JSON.parse(process.argv[3])
const body = "const { parentPort } = require('node:worker_threads');" +
  "parentPort.on('message', () => { gc(); gc(); parentPort.postMessage('collected') });" +
  "parentPort.postMessage('ready')"
const reply = (worker) => new Promise((resolve) => worker.once('message', resolve))
;(async () => {
  const workers = []
  for (let i = 0; i < count; i++) {
    const worker = new Worker(body, { eval: true, resourceLimits })
    await reply(worker)
    workers.push(worker)
  }
  await new Promise((resolve) => setTimeout(resolve, settleMs))
  gc(); gc()
  for (const worker of workers) { worker.postMessage('collect'); await reply(worker) }
  await new Promise((resolve) => setTimeout(resolve, 300))
  const status = readFileSync('/proc/self/status', 'utf8')
  const mib = (key) => Number(new RegExp('^' + key + ':\\\\s+(\\\\d+) kB', 'm').exec(status)[1]) / 1024
  console.log(JSON.stringify({ workers: count, rssMb: mib('VmRSS'), anonMb: mib('RssAnon'), fileMb: mib('RssFile') }))
  process.exit(0)
})()
`

interface Floor {
  workers: number
  rssMb: number
  anonMb: number
  fileMb: number
}

const flags = values.flags.split(/\s+/).filter((flag) => flag.length > 0)
const version = execFileSync(values.node, ['--version'], { encoding: 'utf8' }).trim()
const floors: Floor[] = []
for (const workers of [0, 1, 2]) {
  const output = execFileSync(
    values.node,
    [
      '--expose-gc',
      ...flags,
      '-e',
      PROBE,
      String(workers),
      values['settle-ms'],
      JSON.stringify(WORKER_LIMITS),
    ],
    { encoding: 'utf8' },
  )
  const floor = JSON.parse(output.trim().split('\n').at(-1)!) as Floor
  floors.push(floor)
  console.log(
    `node ${version} ${flags.join(' ')}, ${workers} idle worker(s): RSS ${floor.rssMb.toFixed(1)} MiB ` +
      `(anonymous ${floor.anonMb.toFixed(1)}, file-backed ${floor.fileMb.toFixed(1)})`,
  )
}
console.log(JSON.stringify({ node: version, flags, floors }))
