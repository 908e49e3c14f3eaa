// The protocol's own demo: an "edge" streams CAN / CAN FD frames over a real loopback TCP
// socket, the "server" decodes them whatever the TCP segmentation, acknowledges, and prints
// them as candump -L lines. Run: pnpm demo (at the repo root).
import { connect, createServer, type Socket } from 'node:net'
import { parseArgs } from 'node:util'
import {
  BatchEncoder,
  type CanFrame,
  Decoder,
  encodeControl,
  encodePreamble,
  FRAME_FLAG,
  ROLE,
  timestampNsFromParts,
} from '../src/index.ts'

// `pnpm demo -- --frames 20` hands the script a literal `--` first (npm's habit): skip it
const args = process.argv.slice(2)
if (args[0] === '--') args.shift()
const { values } = parseArgs({
  args,
  options: {
    frames: { type: 'string', default: '20' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (values.help) {
  console.log(
    'usage: pnpm demo [--frames N]\n\nStreams N mixed frames (classic, extended, RTR, CAN FD) over loopback TCP\nthrough the canbridge protocol and prints what the receiving side decoded.',
  )
  process.exit(0)
}
const total = Number(values.frames)
if (!Number.isInteger(total) || total < 1 || total > 1_000_000) {
  console.error(`--frames must be an integer in 1..1000000, got ${values.frames}`)
  process.exit(2)
}

function frameNumber(i: number): CanFrame {
  const kind = i % 4
  const now = Date.now()
  const timestampNs = timestampNsFromParts(
    Math.floor(now / 1000),
    (now % 1000) * 1_000_000 + i * 1000,
  )
  if (kind === 1)
    return {
      timestampNs,
      id: 0x18daf110 + i,
      flags: FRAME_FLAG.EXT,
      len: 3,
      data: Uint8Array.of(i, 0xbe, 0xef),
    }
  if (kind === 2)
    return { timestampNs, id: 0x7df, flags: FRAME_FLAG.RTR, len: 8, data: new Uint8Array(0) }
  if (kind === 3) {
    const data = Uint8Array.from({ length: 12 }, (_, j) => (i + j) & 0xff)
    return { timestampNs, id: 0x321, flags: FRAME_FLAG.FD | FRAME_FLAG.BRS, len: 12, data }
  }
  return {
    timestampNs,
    id: 0x123,
    flags: 0,
    len: 4,
    data: Uint8Array.of(0xde, 0xad, 0xbe, i & 0xff),
  }
}

function candumpLine(
  timestampNs: bigint,
  id: number,
  flags: number,
  len: number,
  data: Uint8Array,
): string {
  const seconds = timestampNs / 1_000_000_000n
  const micros = (timestampNs % 1_000_000_000n) / 1000n
  const idText =
    flags & FRAME_FLAG.EXT
      ? id.toString(16).toUpperCase().padStart(8, '0')
      : id.toString(16).toUpperCase().padStart(3, '0')
  const hex = Array.from(data, (b) => b.toString(16).toUpperCase().padStart(2, '0')).join('')
  let body = `${idText}#${hex}`
  if (flags & FRAME_FLAG.RTR) body = `${idText}#R${len}`
  if (flags & FRAME_FLAG.FD)
    body = `${idText}##${((flags & FRAME_FLAG.BRS ? 1 : 0) | (flags & FRAME_FLAG.ESI ? 2 : 0)).toString(16)}${hex}`
  return `(${seconds}.${micros.toString().padStart(6, '0')}) demo0 ${body}`
}

const server = createServer((socket: Socket) => {
  socket.setNoDelay(true)
  socket.write(encodePreamble(ROLE.SERVER))
  const decoder = new Decoder({ peerRole: ROLE.EDGE })
  let received = 0
  socket.on('data', (chunk) => {
    decoder.write(chunk, (message) => {
      if (message.type === 'HELLO')
        console.log(
          `server: HELLO from ${message.body.edgeId}, channels ${message.body.channels.map((c) => c.name).join(', ')}`,
        )
      if (message.type !== 'DATA') return
      const reader = message.batch.reader()
      while (reader.next()) {
        console.log(
          `seq ${String(reader.seq).padStart(4)}  ${candumpLine(reader.timestampNs(), reader.id, reader.flags, reader.len, reader.data())}`,
        )
        received++
      }
      socket.write(
        encodeControl('ACK', {
          channel: message.batch.channel,
          nextSeq: message.batch.firstSeq + message.batch.count,
        }),
      )
      if (received === total) {
        console.log(`server: ${received} frames decoded, ${decoder.offset} bytes, acknowledged`)
        socket.end()
        server.close()
      }
    })
  })
})

server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  const edge = connect(address.port, '127.0.0.1', () => {
    edge.setNoDelay(true)
    edge.write(encodePreamble(ROLE.EDGE))
    edge.write(
      encodeControl('HELLO', {
        edgeId: 'demo-edge',
        instanceId: String(process.pid),
        software: 'protocol-demo',
        channels: [{ name: 'demo0', fd: true, nextSeq: 0 }],
        capabilities: ['fd'],
      }),
    )
    const encoder = new BatchEncoder({ maxFrames: 7 })
    for (let first = 0; first < total; first += encoder.maxFrames) {
      encoder.begin(0, first)
      for (let i = first; i < Math.min(total, first + encoder.maxFrames); i++)
        encoder.add(frameNumber(i))
      const bytes = encoder.finish()
      // Cut every batch at an odd place so the receiver must reassemble records.
      const cut = Math.floor(bytes.length / 3)
      edge.write(bytes.slice(0, cut))
      edge.write(bytes.slice(cut))
    }
  })
  const acks = new Decoder({ peerRole: ROLE.SERVER })
  edge.on('data', (chunk) => acks.push(chunk))
  edge.on('end', () => edge.end())
})
