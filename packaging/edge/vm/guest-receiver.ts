// Runs inside the arm64 VM (bundled by vm-test.sh, run by the arm64 Node): a TCPBus on
// loopback that waits for an edge and for `count` frames from cangen (-I 123 -L 8 -D i:
// id 0x123, 8 bytes, payload incremented per frame), then prints one RESULT line as JSON.
import { TCPBus } from '@canbridge/server-bus'

const [portArg = '29536', countArg = '1000', timeoutArg = '240'] = process.argv.slice(2)
const count = Number(countArg)
const started = Date.now()
const bus = await TCPBus.listen({ host: '127.0.0.1', port: Number(portArg) })
process.stdout.write(`RECEIVER listening ${portArg}\n`)
let connectedMs = -1
bus.on('edgeConnected', (edge) => {
  connectedMs = Date.now() - started
  process.stdout.write(
    `RECEIVER edge connected ${JSON.stringify(edge.channels)} after ${connectedMs} ms\n`,
  )
})
const gaps: unknown[] = []
bus.on('gap', (gap) => gaps.push(gap))
bus.on('drops', (drops) => gaps.push(drops))
let received = 0
let badId = 0
let outOfOrder = 0
let previous: number | undefined
let channel = ''
const deadline = Date.now() + Number(timeoutArg) * 1000
while (received < count && Date.now() < deadline) {
  const batch = await bus.recvBatch({ maxFrames: 4096, timeoutMs: 1000 })
  for (const m of batch) {
    if (m.arbitrationId !== 0x123 || m.dlc !== 8) badId++
    // cangen -D i increments the payload as a little-endian counter: byte 0 steps by one
    const first = m.data[0]!
    if (previous !== undefined && first !== ((previous + 1) & 0xff)) outOfOrder++
    previous = first
    channel = m.channel ?? ''
  }
  received += batch.length
}
const result = {
  received,
  expected: count,
  badId,
  outOfOrder,
  gaps: gaps.length,
  channel,
  arch: process.arch,
  node: process.version,
}
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`)
await bus.shutdown()
process.exit(received === count && badId === 0 && outOfOrder === 0 && gaps.length === 0 ? 0 : 1)
