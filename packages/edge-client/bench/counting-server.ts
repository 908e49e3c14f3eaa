// The benchmarks' workstation end: a bare protocol server on loopback that welcomes one edge,
// counts the frames of every DATA batch (and the sequence numbers it skipped) and ACKs each
// at once. No TCPBus, so that only the edge's cost is measured.
import { readFileSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer } from 'node:tls'
import { Decoder, encodeControl, encodePreamble, ROLE } from '@canbridge/protocol'

export interface Counter {
  close: () => Promise<void>
  port: number
  received: number
  gaps: number
  connected: boolean
  /** performance.now() of the first and the latest batch */
  firstAt: number
  lastAt: number
}

export interface CountingServerOptions {
  /** the WELCOME's serverId */
  serverId: string
  /** after each batch is counted and ACKed, with the next sequence number expected */
  onBatch?: (nextSeq: number) => void
  /** TLS 1.3 with client certificates from this CA (PEM file paths), as a secured TCPBus asks */
  tls?: { certFile: string; keyFile: string; clientCaFile: string }
}

export async function countingServer(options: CountingServerOptions): Promise<Counter> {
  let server: Server | undefined
  const counter: Counter = {
    close: async () => {
      server?.close()
    },
    port: 0,
    received: 0,
    gaps: 0,
    connected: false,
    firstAt: 0,
    lastAt: 0,
  }
  let expected = 0
  const serve = (socket: Socket) => {
    socket.setNoDelay(true)
    const decoder = new Decoder({ peerRole: ROLE.EDGE })
    socket.write(encodePreamble(ROLE.SERVER))
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      decoder.write(chunk, (message) => {
        if (message.type === 'HELLO') {
          counter.connected = true
          socket.write(
            encodeControl('WELCOME', {
              serverId: options.serverId,
              heartbeatMs: 5000,
              channels: message.body.channels.map((c) => ({ name: c.name, nextSeq: null })),
              capabilities: [],
            }),
          )
        } else if (message.type === 'DATA') {
          const { batch } = message
          if (counter.received === 0) counter.firstAt = performance.now()
          if (batch.firstSeq !== expected) counter.gaps += batch.firstSeq - expected
          expected = batch.firstSeq + batch.count
          counter.received += batch.count
          counter.lastAt = performance.now()
          socket.write(encodeControl('ACK', { channel: batch.channel, nextSeq: expected }))
          options.onBatch?.(expected)
        }
      })
    })
  }
  const tls = options.tls
  server = tls
    ? createTlsServer(
        {
          cert: readFileSync(tls.certFile),
          key: readFileSync(tls.keyFile),
          ca: readFileSync(tls.clientCaFile),
          minVersion: 'TLSv1.3',
          requestCert: true,
          rejectUnauthorized: true,
        },
        serve,
      )
    : createServer(serve)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  counter.port = typeof address === 'object' && address ? address.port : 0
  return counter
}
