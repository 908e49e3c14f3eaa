// The whole pipeline, virtual backend → poll worker → ring → socket-write worker → TCP →
// a counting server on loopback. Prints frames/s delivered, the edge's CPU ms per 1,000
// frames (process.cpuUsage of the edge process, all threads) and its RSS; the last line is
// JSON: { virtualFps, cpuMsPer1k, rssMb, ... }. Targets: ≥ 500,000 frames/s, ≤ 5 ms, ≤ 80 MB.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { Decoder, encodeControl, encodePreamble, ROLE } from '@canbridge/protocol'

const FRAMES = Number(process.env['BENCH_FRAMES'] ?? 5_000_000)
/** frames/s the virtual channel generates (`max`: as fast as the poll worker can) */
const RATE = process.env['BENCH_RATE'] ?? '1000000'
/** traffic starts once the edge is connected and idle */
const DELAY_MS = 2000
const dist = fileURLToPath(new URL('../dist/main.js', import.meta.url))
const main = existsSync(dist) ? dist : fileURLToPath(new URL('../src/main.ts', import.meta.url))

interface Stats {
  msg: string
  cpuUserMs: number
  cpuSystemMs: number
  rssBytes: number
  channels: { framesRead: number; dropsRingFull: number; dropsRingOldest: number }[]
}

let received = 0
let idle: NodeJS.Timeout | undefined
let expected = 0
let gaps = 0
let firstAt = 0
let lastAt = 0
let done: () => void = () => {}
const finished = new Promise<void>((resolve) => {
  done = resolve
})

const server = createServer((socket: Socket) => {
  socket.setNoDelay(true)
  const decoder = new Decoder({ peerRole: ROLE.EDGE })
  socket.write(encodePreamble(ROLE.SERVER))
  socket.on('error', () => {})
  socket.on('data', (chunk: Buffer) => {
    decoder.write(chunk, (message) => {
      if (message.type === 'HELLO') {
        socket.write(
          encodeControl('WELCOME', {
            serverId: 'bench',
            heartbeatMs: 5000,
            channels: message.body.channels.map((c) => ({ name: c.name, nextSeq: null })),
            capabilities: [],
          }),
        )
      } else if (message.type === 'DATA') {
        const { batch } = message
        if (received === 0) firstAt = performance.now()
        if (batch.firstSeq !== expected) gaps += batch.firstSeq - expected
        expected = batch.firstSeq + batch.count
        received += batch.count
        lastAt = performance.now()
        socket.write(
          encodeControl('ACK', { channel: batch.channel, nextSeq: batch.firstSeq + batch.count }),
        )
        if (batch.firstSeq + batch.count >= FRAMES) done()
        clearTimeout(idle)
        // the newest frames may have been dropped: stop once the stream has been quiet
        idle = setTimeout(done, 2000)
      }
    })
  })
})
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const address = server.address()
const port = typeof address === 'object' && address ? address.port : 0

const edge = spawn(
  process.execPath,
  [
    main,
    '--server',
    `127.0.0.1:${port}`,
    '--channel',
    `virtual:bench?rate=${RATE}&count=${FRAMES}&delay=${DELAY_MS}`,
    '--stats-interval',
    '250ms',
    '--log-level',
    'info',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
)
const stats: Stats[] = []
let connectedStats: Stats | undefined
let rest = ''
edge.stdout.setEncoding('utf8').on('data', (chunk: string) => {
  const lines = (rest + chunk).split('\n')
  rest = lines.pop()!
  for (const line of lines) {
    if (!line.startsWith('{')) continue
    const entry = JSON.parse(line) as Stats
    if (entry.msg === 'stats') {
      stats.push(entry)
      if (entry.channels[0]!.framesRead === 0 || connectedStats === undefined)
        connectedStats ??= entry
    }
  }
})

const timeout = setTimeout(() => {
  console.error(`bench: timed out with ${received} of ${FRAMES} frames`)
  done()
}, 120_000)
// CPU is measured between the last stats line before traffic and the first after it ends
const baseline = await new Promise<Stats>((resolve) => {
  const poll = setInterval(() => {
    const s = stats.at(-1)
    if (s) {
      clearInterval(poll)
      resolve(s)
    }
  }, 10)
})
await finished
clearTimeout(timeout)
clearTimeout(idle)
const seenBefore = stats.length
await new Promise<void>((resolve) => {
  const poll = setInterval(() => {
    if (stats.length > seenBefore) {
      clearInterval(poll)
      resolve()
    }
  }, 10)
})
const final = stats.at(-1)!
edge.kill('SIGTERM')
await new Promise((resolve) => edge.once('exit', resolve))
server.close()

const seconds = (lastAt - firstAt) / 1000
const read = final.channels[0]!.framesRead - baseline.channels[0]!.framesRead
const drops = final.channels[0]!.dropsRingFull + final.channels[0]!.dropsRingOldest
const cpuMs = final.cpuUserMs + final.cpuSystemMs - (baseline.cpuUserMs + baseline.cpuSystemMs)
const peakRss = Math.max(...stats.map((s) => s.rssBytes))
const result = {
  virtualFps: Math.round(received / seconds),
  cpuMsPer1k: Number(((cpuMs / Math.max(1, read)) * 1000).toFixed(3)),
  rssMb: Number((peakRss / 1024 / 1024).toFixed(1)),
  frames: received,
  dropped: drops,
  seconds: Number(seconds.toFixed(3)),
  rate: RATE,
  node: process.version,
}
console.log(
  `frames delivered: ${received} of ${FRAMES} in ${seconds.toFixed(2)} s (dropped at the edge: ${drops}, sequence gaps: ${gaps})`,
)
console.log(
  `throughput:       ${result.virtualFps.toLocaleString('en')} frames/s (target ≥ 500,000)`,
)
console.log(`edge CPU:         ${result.cpuMsPer1k} ms per 1,000 frames (target ≤ 5)`)
console.log(`edge peak RSS:    ${result.rssMb} MB (target ≤ 80)`)
console.log(JSON.stringify(result))
