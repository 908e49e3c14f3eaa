// Stand-in entry that exercises every mechanism the real edge needs inside a single
// executable, without the edge code: a bundled dependency (@canbridge/protocol, with
// msgpackr), a worker thread started from an embedded script (by virtual path, exactly as
// the edge's supervisor does with new URL('./poll.worker.js', import.meta.url)), the socketcan addon
// loaded in that worker through createRequire(import.meta.url)('socketcan/build/Release/can.node'),
// and an embedded package.json read with readFileSync(new URL(...)).
//   standin --version          version lines
//   standin selftest           starts the worker, round-trips a frame batch, prints JSON

import { BUILD } from 'canbridge-sea:embedded'
import { readFileSync } from 'node:fs'
import { Worker } from 'node:worker_threads'
import { PROTOCOL_VERSION } from '@canbridge/protocol'

const pkg = JSON.parse(
  readFileSync(new URL('../../../packages/edge-client/package.json', import.meta.url), 'utf8'),
) as {
  version: string
}
const argv = process.argv.slice(2)
if (argv[0] === '--version' || argv[0] === '-V') {
  process.stdout.write(
    `${[
      `canbridge-edge ${pkg.version}`,
      `protocol ${PROTOCOL_VERSION}`,
      `node ${process.version}`,
      `n-api ${process.versions.napi ?? 'unknown'}`,
      `addon socketcan ${BUILD.socketcan} n-api ${BUILD.addonNapi} (${BUILD.target}, glibc >= ${BUILD.glibc})`,
      `addon patch sha256 ${BUILD.socketcanPatch}`,
      `build ${BUILD.commit} ${BUILD.date} single-executable stand-in`,
    ].join('\n')}\n`,
  )
  process.exit(0)
}
if (argv[0] !== 'selftest') {
  process.stderr.write('usage: standin --version | selftest\n')
  process.exit(2)
}
const worker = new Worker(new URL('./standin.worker.js', import.meta.url), {
  workerData: { channel: 'vcan0' },
})
worker.once('message', (message: unknown) => {
  process.stdout.write(
    `${JSON.stringify({ ok: true, main: { node: process.version, arch: process.arch }, worker: message })}\n`,
  )
  void worker.terminate()
})
worker.once('error', (error: Error) => {
  process.stderr.write(`standin: worker failed: ${error.stack ?? error.message}\n`)
  process.exit(1)
})
