// The workstation end of the Pi quickstart: a TCPBus (@canbridge/server-bus) that accepts
// canbridge-edge connections and prints every frame (python-can's format), or with
// --count a line per second with the frame rate. Run from a checkout after `pnpm build`:
//   node packaging/edge/receive.ts [--port 29536] [--host 0.0.0.0] [--count] [--frames N]
//       (--frames N: stop once N frames have come; scripts/bridge-demo.sh waits for them)
//       (--pki <dir>: TLS with the files of `canbridge keys init`, edges need their certificate;
//        or --insecure on a closed lab network: TCPBus refuses 0.0.0.0 with neither)
import * as path from 'node:path'
import { parseArgs } from 'node:util'
import { REPO } from './targets.ts'

type TCPBusModule = typeof import('../../packages/server-bus/dist/index.js')
const { TCPBus } = (await import(
  path.join(REPO, 'packages', 'server-bus', 'dist', 'index.js')
)) as TCPBusModule

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '29536' },
    host: { type: 'string', default: '0.0.0.0' },
    count: { type: 'boolean', default: false },
    pki: { type: 'string' },
    insecure: { type: 'boolean', default: false },
    frames: { type: 'string' },
  },
})
const wanted = values.frames === undefined ? Number.POSITIVE_INFINITY : Number(values.frames)
if (!(wanted > 0)) throw new RangeError(`--frames must be a number > 0, got ${values.frames}`)
const bus = await TCPBus.listen({
  port: Number(values.port),
  host: values.host,
  insecure: values.insecure,
  ...(values.pki === undefined
    ? {}
    : {
        tls: {
          certFile: path.join(values.pki, 'server.crt'),
          keyFile: path.join(values.pki, 'server.key'),
          clientCaFile: path.join(values.pki, 'ca.crt'),
        },
      }),
})
const address = bus.address as { host: string; port: number }
process.stderr.write(`receive: listening on ${address.host}:${address.port}; Ctrl-C stops\n`)
bus.on('edgeConnected', (edge) =>
  process.stderr.write(`receive: edge connected: ${JSON.stringify(edge)}\n`),
)
bus.on('edgeDisconnected', (edge, reason) =>
  process.stderr.write(`receive: edge ${JSON.stringify(edge)} disconnected: ${reason}\n`),
)
bus.on('gap', (gap) => process.stderr.write(`receive: GAP ${JSON.stringify(gap)}\n`))
bus.on('drops', (drops) => process.stderr.write(`receive: edge dropped ${JSON.stringify(drops)}\n`))

const stop = new AbortController()
process.once('SIGINT', () => stop.abort())
process.once('SIGTERM', () => stop.abort())
let total = 0
let window = 0
const timer = values.count
  ? setInterval(() => {
      process.stdout.write(`${new Date().toISOString()} ${window} frames/s, ${total} in all\n`)
      window = 0
    }, 1000)
  : undefined
try {
  for await (const batch of bus.batches({ signal: stop.signal })) {
    total += batch.length
    window += batch.length
    if (!values.count) for (const message of batch) process.stdout.write(`${message.toString()}\n`)
    if (total >= wanted) stop.abort()
  }
} catch (error) {
  if (!stop.signal.aborted) throw error
}
clearInterval(timer)
await bus.shutdown()
process.stderr.write(`receive: ${total} frames\n`)
