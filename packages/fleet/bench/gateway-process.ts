// The benchmark's gateway, in a process of its own so its CPU time and memory are measured
// apart from the edges and the reader. Started with the NATS URL and stream; says its port
// on stdout; answers `stats` on stdin with its CPU ms and peak RSS.
import { Gateway } from '../src/gateway.ts'

const [natsUrl, stream, prefix] = process.argv.slice(2)
const gateway = await Gateway.start({
  port: 0,
  nats: { servers: natsUrl! },
  stream: { name: stream! },
  prefix: prefix!,
  maxEdges: 256,
  maxHandshakes: 256,
  maxHandshakesPerAddress: 256,
})
let peakRss = process.memoryUsage().rss
setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss)
}, 100).unref()
process.stdout.write(`${JSON.stringify({ port: (gateway.address as { port: number }).port })}\n`)
process.stdin.setEncoding('utf8').on('data', (text: string) => {
  if (text.includes('stats')) {
    const cpu = process.cpuUsage()
    peakRss = Math.max(peakRss, process.memoryUsage().rss)
    process.stdout.write(
      `${JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000, peakRssMb: peakRss / 1048576 })}\n`,
    )
  }
  if (text.includes('exit')) void gateway.close().then(() => process.exit(0))
})
