// The kernel drop part of the benchmark, run where SocketCAN works (inside
// scripts/kernel-harness.sh): the kernel test's deterministic run (test/helpers/kernel-drop-run.ts)
// as figures. The built edge with a small socket receive buffer, stopped (SIGSTOP) while cangen
// sends each round of frames numbered in their payload, then resumed. Counted: the frames the
// edge reported as `kernel-overflow` DROPS; actual: what the interface transmitted
// (tx_packets) minus the frames whose cangen numbers reached the server. Equal when the edge
// accounts for every frame the kernel dropped.
//
//   node bench/kernel-drops.ts [--iface vcan0] [--rounds 5] [--receive-buffer 4K] [--out result.json]
//
// Prints one line per round and, last, `KERNEL_DROPS_RESULT {json}` (edge.bench.ts merges it).
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { settled } from '../src/testing/can-receivers.ts'
import { KernelDropRun, PER_ROUND } from '../test/helpers/kernel-drop-run.ts'

const { values: options } = parseArgs({
  options: {
    iface: { type: 'string', default: 'vcan0' },
    rounds: { type: 'string', default: '5' },
    'receive-buffer': { type: 'string', default: '4K' },
    out: { type: 'string' },
  },
})
const ROUNDS = Number(options.rounds)
if (!Number.isInteger(ROUNDS) || ROUNDS < 1)
  throw new RangeError(`--rounds must be a whole number ≥ 1, got ${options.rounds}`)
/** the edge resumes at once; this only turns an edge that lost count into a figure */
const ACCOUNT_TIMEOUT_MS = 30_000

function txPackets(iface: string): number {
  return Number(readFileSync(`/sys/class/net/${iface}/statistics/tx_packets`, 'utf8'))
}

const run = await KernelDropRun.start(
  ['--receive-buffer', options['receive-buffer']],
  {},
  options.iface,
)
const tx0 = txPackets(run.iface)
console.log(
  `kernel drops: ${run.iface} (${process.env['CANBRIDGE_KERNEL'] ?? 'kernel?'}), edge --receive-buffer ${options['receive-buffer']}, stopped for each of ${ROUNDS} rounds of ${PER_ROUND} frames`,
)
const unaccounted: number[] = []
for (let round = 0; round < ROUNDS; round++) {
  run.sendRound()
  const complete = await run.accountedFor(ACCOUNT_TIMEOUT_MS)
  if (!complete) unaccounted.push(round)
  console.log(
    `  round ${round}: received ${run.server.state.count(0)}, reported kernel-overflow ${run.reportedLost()} of ${run.sent} sent${complete ? '' : ` (not all accounted for after ${ACCOUNT_TIMEOUT_MS / 1000} s)`}`,
  )
}
// a report after the last round would still count: wait until nothing more comes
await settled(() => run.server.state.count(0) + run.server.state.drops.length, 1000)
const sent = txPackets(run.iface) - tx0
const received = [...run.receivedNumbers()].filter((n) => n >= 0 && n < sent).length
const summary = {
  iface: run.iface,
  kernel: process.env['CANBRIDGE_KERNEL'] ?? 'unknown',
  receiveBuffer: options['receive-buffer'],
  rounds: ROUNDS,
  /** frames the interface transmitted: what cangen really sent */
  sent,
  /** distinct cangen frame numbers that reached the server */
  received,
  /** the kernel-overflow DROPS the edge reported */
  counted: run.reportedLost(),
  /** sent minus received, by cangen's numbers */
  actual: sent - received,
  /** other DROPS reasons (ring, spool): none expected */
  otherDrops: run.server.state.drops.filter((d) => d.reason !== 'kernel-overflow').length,
  /** rounds not accounted for within the time allowed */
  unaccountedRounds: unaccounted,
}
await run.close()
if (options.out) await writeFile(options.out, `${JSON.stringify(summary, null, 2)}\n`)
console.log(`KERNEL_DROPS_RESULT ${JSON.stringify(summary)}`)
