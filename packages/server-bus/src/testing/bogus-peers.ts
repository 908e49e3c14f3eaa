// Hostile connections for the flood test and benchmark: garbage bytes, handshakes that stall
// (in TCP, in TLS, or after HELLO) and failed authentication (a wrong token proof over TLS),
// opened `concurrency` at a time (at most `perSecond` new ones a second) until `total` have
// been made. Run as a child process (argv: port caFile total concurrency perSecond) it prints
// its tally as one JSON line.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { connect as connectTls } from 'node:tls'
import { Decoder, encodeControl, encodePreamble, newAuthNonce, ROLE } from '@canbridge/protocol'

export const BOGUS_KINDS = [
  'garbage',
  'stall-tcp',
  'stall-tls',
  'stall-hello',
  'wrong-token',
] as const
export type BogusKind = (typeof BOGUS_KINDS)[number]

export interface BogusOptions {
  port: number
  /** the server's CA (PEM): bogus TLS peers do verify the server, like a real edge would */
  ca: Buffer
  total: number
  concurrency: number
  /** new connections per second at most (0: as fast as they close) */
  perSecond?: number
  /** how long a stalling peer holds its connection before giving up itself */
  stallMs?: number
}

export interface BogusTally {
  opened: Record<BogusKind, number>
  /** closed by the server before the peer gave up */
  closedByServer: number
  /** connections that got a WELCOME (must stay 0) */
  welcomed: number
  elapsedMs: number
}

export async function runBogusPeers(options: BogusOptions): Promise<BogusTally> {
  const tally: BogusTally = {
    opened: Object.fromEntries(BOGUS_KINDS.map((k) => [k, 0])) as Record<BogusKind, number>,
    closedByServer: 0,
    welcomed: 0,
    elapsedMs: 0,
  }
  const started = performance.now()
  let next = 0
  const interval = options.perSecond ? 1000 / options.perSecond : 0
  const worker = async () => {
    while (next < options.total) {
      // paced: connection n opens no earlier than n / perSecond seconds after the start
      const wait = started + next * interval - performance.now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      if (next >= options.total) return
      const kind = BOGUS_KINDS[next++ % BOGUS_KINDS.length]!
      tally.opened[kind]++
      const outcome = await oneBogusPeer(kind, options)
      if (outcome === 'closed-by-server') tally.closedByServer++
      if (outcome === 'welcomed') tally.welcomed++
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, worker))
  tally.elapsedMs = Math.round(performance.now() - started)
  return tally
}

type Outcome = 'closed-by-server' | 'gave-up' | 'welcomed' | 'failed'

function oneBogusPeer(kind: BogusKind, options: BogusOptions): Promise<Outcome> {
  const stallMs = options.stallMs ?? 10_000
  return new Promise((resolve) => {
    let settled = false
    const done = (outcome: Outcome) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve(outcome)
    }
    const tls = kind !== 'garbage' && kind !== 'stall-tcp'
    const socket: Socket = tls
      ? connectTls({
          port: options.port,
          host: '127.0.0.1',
          ca: options.ca,
          servername: 'localhost',
        })
      : connect({ port: options.port, host: '127.0.0.1' })
    const timer = setTimeout(() => done('gave-up'), stallMs)
    socket.on('error', () => done('failed'))
    socket.on('close', () => done('closed-by-server'))
    const decoder = new Decoder({ peerRole: ROLE.SERVER })
    const nonce = newAuthNonce()
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.write(chunk, (message) => {
          if (message.type === 'WELCOME') done('welcomed')
          if (message.type === 'AUTH_CHALLENGE' && kind === 'wrong-token') {
            // a proof made without the token (stall-hello never answers)
            socket.write(encodeControl('AUTH_RESPONSE', { proof: randomBytes(32) }))
          }
        })
      } catch {
        done('failed')
      }
    })
    socket.once(tls ? 'secureConnect' : 'connect', () => {
      if (kind === 'garbage') socket.write(randomBytes(64))
      if (kind === 'stall-hello' || kind === 'wrong-token') {
        socket.write(encodePreamble(ROLE.EDGE))
        socket.write(
          encodeControl('HELLO', {
            edgeId: 'pi-flood',
            instanceId: `bogus-${process.pid}`,
            software: 'bogus/0',
            channels: [{ name: 'can0', fd: false, nextSeq: 0 }],
            capabilities: [],
            authNonce: nonce,
          }),
        )
      }
    })
  })
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  const [port, caFile, total, concurrency, perSecond] = process.argv.slice(2)
  const tally = await runBogusPeers({
    port: Number(port),
    ca: readFileSync(caFile!),
    total: Number(total),
    concurrency: Number(concurrency),
    perSecond: Number(perSecond ?? 0),
  })
  console.log(JSON.stringify(tally))
}
