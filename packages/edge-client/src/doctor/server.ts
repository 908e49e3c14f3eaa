// The server: a connection (TCP or Unix socket) and the protocol handshake, as the edge
// makes them: both preambles, HELLO, and the server's WELCOME (PROTOCOL.md §1). The doctor
// says HELLO as edge `<edge id>.doctor` with one channel named `doctor`, so it never
// replaces the running edge's connection; the server logs it connecting and leaving.
import { randomUUID } from 'node:crypto'
import { connect } from 'node:net'
import {
  Decoder,
  encodeControl,
  encodePreamble,
  type Hello,
  PROTOCOL_VERSION,
  ProtocolError,
  ROLE,
  type Welcome,
} from '@canbridge/protocol'
import type { ServerAddress } from '../config.ts'
import { type CheckResult, fail, ok } from './report.ts'

export interface ServerCheckOptions {
  /** the edge's id (config edgeId); the doctor connects as `<edgeId>.doctor` */
  edgeId: string
  software: string
  /** for the connection and the handshake together */
  timeoutMs: number
}

export function describeServer(address: ServerAddress): string {
  return address.kind === 'unix'
    ? `unix:${address.path}`
    : `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`
}

export function doctorEdgeId(edgeId: string): string {
  return `${edgeId.slice(0, 64 - '.doctor'.length)}.doctor`
}

/** What the server said, shown when it is not a canbridge server. */
function peek(bytes: Buffer): string {
  const head = bytes.subarray(0, 24)
  const text = head.toString('latin1')
  return /^[\x20-\x7e\r\n\t]+$/.test(text)
    ? JSON.stringify(text)
    : head.toString('hex').replace(/(..)/g, '$1 ').trim()
}

type Outcome =
  | { kind: 'welcome'; welcome: Welcome; connectMs: number; handshakeMs: number }
  | { kind: 'refused'; code: string; message: string }
  | { kind: 'protocol'; error: ProtocolError; firstBytes: Buffer }
  | { kind: 'socket'; code: string | undefined; message: string; connected: boolean }
  | { kind: 'closed'; connected: boolean }
  | { kind: 'timeout'; connected: boolean; gotPreamble: boolean }

function handshake(address: ServerAddress, hello: Hello, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = performance.now()
    let connectedAt: number | undefined
    let settled = false
    const received: Buffer[] = []
    const decoder = new Decoder({ peerRole: ROLE.SERVER })
    const socket =
      address.kind === 'unix'
        ? connect({ path: address.path })
        : connect({ host: address.host, port: address.port })
    const finish = (outcome: Outcome, graceful = false): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(outcome)
      if (!graceful) {
        socket.destroy()
        return
      }
      // leave like an edge that stops: FIN, then close once the server closes too
      socket.end()
      setTimeout(() => socket.destroy(), 500).unref()
    }
    const timer = setTimeout(
      () =>
        finish({
          kind: 'timeout',
          connected: connectedAt !== undefined,
          gotPreamble: decoder.peer !== undefined,
        }),
      timeoutMs,
    )
    socket.on('connect', () => {
      connectedAt = performance.now()
      socket.write(Buffer.concat([encodePreamble(ROLE.EDGE), encodeControl('HELLO', hello)]))
    })
    socket.on('data', (chunk: Buffer) => {
      if (settled) return
      if (received.length < 4) received.push(chunk)
      try {
        decoder.write(chunk, (message) => {
          if (message.type === 'WELCOME') {
            const now = performance.now()
            finish(
              {
                kind: 'welcome',
                welcome: message.body,
                connectMs: (connectedAt ?? now) - started,
                handshakeMs: now - (connectedAt ?? now),
              },
              true,
            )
          } else if (message.type === 'ERROR') {
            finish({ kind: 'refused', code: message.body.code, message: message.body.message })
          }
        })
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error
        finish({ kind: 'protocol', error, firstBytes: Buffer.concat(received) })
      }
    })
    socket.on('error', (error: NodeJS.ErrnoException) =>
      finish({
        kind: 'socket',
        code: error.code,
        message: error.message,
        connected: connectedAt !== undefined,
      }),
    )
    socket.on('close', () => finish({ kind: 'closed', connected: connectedAt !== undefined }))
  })
}

function socketFix(code: string | undefined, address: ServerAddress): string[] {
  const port = address.kind === 'tcp' ? address.port : undefined
  const start = `start the workstation end: TCPBus.listen({ port: ${port ?? '...'} }) from @canbridge/server-bus, or node packaging/edge/receive.ts`
  switch (code) {
    case 'ECONNREFUSED':
      return [start, 'and check the address: --server or "server" in the config']
    case 'ENOENT':
      return [`no socket file ${address.kind === 'unix' ? address.path : ''}: ${start}`]
    case 'EACCES':
      return ['this user may not use that socket: check its owner and mode']
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return [
        'the host name does not resolve: use the workstation IP address, or fix DNS / mDNS (avahi for .local names)',
      ]
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return ['no route to the server: check the network (ip route, Wi-Fi) and the address']
    default:
      return [start, 'check the address, the network and the firewall']
  }
}

export async function checkServer(
  address: ServerAddress | undefined,
  options: ServerCheckOptions,
): Promise<CheckResult> {
  if (address === undefined) {
    return {
      status: 'WARN',
      name: 'server',
      summary: 'not checked: no server given',
      fix: ['give the server: --server host:port, or --config with "server" in it'],
    }
  }
  const where = describeServer(address)
  const hello: Hello = {
    edgeId: doctorEdgeId(options.edgeId),
    instanceId: randomUUID(),
    software: options.software.slice(0, 128),
    channels: [{ name: 'doctor', fd: false, nextSeq: 0 }],
    capabilities: [],
  }
  const outcome = await handshake(address, hello, options.timeoutMs)
  const seconds = `${options.timeoutMs / 1000} s`
  switch (outcome.kind) {
    case 'welcome':
      return ok(
        'server',
        `${where}: canbridge protocol ${PROTOCOL_VERSION}, server "${outcome.welcome.serverId}" answered HELLO with WELCOME (connect ${outcome.connectMs.toFixed(0)} ms, handshake ${outcome.handshakeMs.toFixed(0)} ms, heartbeat ${outcome.welcome.heartbeatMs} ms)`,
      )
    case 'refused':
      return fail('server', `${where} refused the HELLO: ${outcome.code}: ${outcome.message}`, [
        'see the server log for this connection (edge id ending in .doctor)',
      ])
    case 'protocol': {
      const code = outcome.error.code
      if (code === 'VERSION_MISMATCH') {
        return fail(
          'server',
          `${where} speaks another canbridge protocol version: ${outcome.error.message}`,
          [
            `this edge speaks protocol ${PROTOCOL_VERSION}: run the same canbridge release on both ends`,
          ],
        )
      }
      if (code === 'BAD_MAGIC' || code === 'BAD_ROLE' || code === 'BAD_PREAMBLE') {
        return fail(
          'server',
          `${where} is not a canbridge server (${outcome.error.message}; it sent ${peek(outcome.firstBytes)})`,
          ['check the port: another program listens there'],
        )
      }
      return fail('server', `${where} broke the protocol: ${outcome.error.message}`, [
        'run the same canbridge release on both ends',
      ])
    }
    case 'socket':
      return fail(
        'server',
        `${where}: ${outcome.connected ? 'connection lost during the handshake' : 'cannot connect'}: ${outcome.message}`,
        socketFix(outcome.code, address),
      )
    case 'closed':
      return fail(
        'server',
        `${where}: the server closed the connection ${outcome.connected ? 'before WELCOME' : 'at once'}`,
        ['see the server log for this connection; is it a canbridge TCPBus?'],
      )
    case 'timeout':
      return fail(
        'server',
        outcome.connected
          ? `${where}: connected, but no ${outcome.gotPreamble ? 'WELCOME' : 'canbridge preamble'} within ${seconds}`
          : `${where}: no answer to the connection within ${seconds}`,
        outcome.connected
          ? ['is that port a canbridge TCPBus? (--timeout waits longer)']
          : [
              'a firewall drops the connection, or the address is wrong',
              `open TCP port ${address.kind === 'tcp' ? address.port : ''} on the workstation (ufw allow / firewall-cmd --add-port)`,
            ],
      )
  }
}
