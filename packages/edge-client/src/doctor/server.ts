// The server: a connection (TCP, TLS or a Unix socket) and the protocol handshake, as the
// edge makes them: the server's certificate verified (TLS), both preambles, HELLO, the token
// proofs, and the server's WELCOME (PROTOCOL.md §1, §5.13); a failure names the step. The
// doctor says HELLO as edge `<edge id>.doctor` with one channel named `doctor`, so it never
// replaces the running edge's connection; the server logs it connecting and leaving. With a
// token or a client certificate the server checks the edge id, so the doctor then uses the
// edge's own id.
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
import { describeRefusal, LinkHandshake } from '../link/security/link-handshake.ts'
import {
  describeLinkSecurity,
  type LinkSecurity,
  PLAIN_LINK,
} from '../link/security/link-security.ts'
import { describeAddress } from '../link/server-address.ts'
import {
  describeTlsError,
  looksLikeTls,
  NOT_TLS_REASON,
  silentCloseReason,
  TLS_SERVER_REASON,
} from '../link/tls/tls-problems.ts'
import { channelBinding, openTransport, pinProblem } from '../link/tls/transport.ts'
import { peek } from '../server-answers.ts'
import { type CheckResult, fail, ok } from './report.ts'

export interface ServerCheckOptions {
  /** the edge's id (config edgeId); the doctor connects as `<edgeId>.doctor` */
  edgeId: string
  software: string
  /** for the connection and the handshake together */
  timeoutMs: number
  /** TLS and token, as the daemon would use them (link/security/link-security.ts) */
  security?: LinkSecurity
}

export function doctorEdgeId(edgeId: string): string {
  return `${edgeId.slice(0, 64 - '.doctor'.length)}.doctor`
}

/** What the server said, shown when it is not a canbridge server. */
type Outcome =
  | { kind: 'welcome'; welcome: Welcome; connectMs: number; handshakeMs: number }
  | { kind: 'refused'; code: string; message: string }
  | { kind: 'tls'; reason: string }
  | { kind: 'auth'; reason: string }
  | { kind: 'handshake'; reason: string }
  | { kind: 'protocol'; error: ProtocolError; firstBytes: Buffer }
  | { kind: 'socket'; code: string | undefined; message: string; connected: boolean }
  | { kind: 'closed'; connected: boolean; answered: boolean }
  | { kind: 'timeout'; connected: boolean; gotPreamble: boolean }

function handshake(
  address: ServerAddress,
  hello: Hello,
  timeoutMs: number,
  security: LinkSecurity,
): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = performance.now()
    let connectedAt: number | undefined
    let settled = false
    const received: Buffer[] = []
    const decoder = new Decoder({ peerRole: ROLE.SERVER })
    const tls = security.tls
    const auth = new LinkHandshake(security.token, hello.edgeId)
    const { socket, readyEvent } = openTransport(address, tls)
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
    socket.on(readyEvent, () => {
      connectedAt = performance.now()
      const pinned = pinProblem(socket, tls)
      if (pinned !== undefined) {
        finish({ kind: 'tls', reason: pinned })
        return
      }
      socket.write(
        Buffer.concat([encodePreamble(ROLE.EDGE), encodeControl('HELLO', auth.hello(hello))]),
      )
    })
    socket.on('data', (chunk: Buffer) => {
      if (settled) return
      if (received.length < 4) received.push(chunk)
      try {
        decoder.write(chunk, (message) => {
          if (settled || message.type === 'DATA') return
          if (message.type === 'ERROR') {
            finish({ kind: 'refused', code: message.body.code, message: message.body.message })
            return
          }
          const step = auth.onMessage(message, () => channelBinding(socket))
          if (step.action === 'respond') {
            socket.write(encodeControl('AUTH_RESPONSE', step.response))
          } else if (step.action === 'close') {
            finish({ kind: step.kind === 'auth' ? 'auth' : 'handshake', reason: step.reason })
          } else {
            const now = performance.now()
            finish(
              {
                kind: 'welcome',
                welcome: step.welcome,
                connectMs: (connectedAt ?? now) - started,
                handshakeMs: now - (connectedAt ?? now),
              },
              true,
            )
          }
        })
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error
        finish({ kind: 'protocol', error, firstBytes: Buffer.concat(received) })
      }
    })
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const host = address.kind === 'tcp' ? address.host : ''
      const tlsReason = tls ? describeTlsError(error, tls, host) : undefined
      if (tlsReason !== undefined) finish({ kind: 'tls', reason: tlsReason })
      else
        finish({
          kind: 'socket',
          code: error.code,
          message: error.message,
          connected: connectedAt !== undefined,
        })
    })
    socket.on('close', () =>
      finish({
        kind: 'closed',
        connected: connectedAt !== undefined,
        answered: received.length > 0,
      }),
    )
  })
}

/**
 * A TLS handshake the server answered with something else: a plain connection shows what it
 * is, so "does not speak TLS" becomes "speaks canbridge without TLS" when the preamble comes.
 */
async function confirmNotTls(
  address: ServerAddress,
  reason: string,
  timeoutMs: number,
): Promise<string> {
  if (reason !== NOT_TLS_REASON || address.kind !== 'tcp') return reason
  const first = await new Promise<Buffer | undefined>((resolve) => {
    const socket = connect({ host: address.host, port: address.port })
    const timer = setTimeout(() => done(undefined), Math.min(timeoutMs, 2000))
    const done = (bytes: Buffer | undefined): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(bytes)
    }
    socket.once('data', (chunk: Buffer) => done(chunk))
    socket.once('error', () => done(undefined))
    socket.once('close', () => done(undefined))
  })
  if (first === undefined) return reason
  return first.subarray(0, 4).toString('latin1') === 'CANB'
    ? 'the server does not speak TLS: it is a canbridge server without TLS (a plain connection gets its preamble "CANB"); turn TLS on at the server (TCPBus tls option) or, on loopback or a lab network, remove the --tls-* settings from this edge'
    : `${reason}; a plain connection got ${peek(first)}`
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
  const where = describeAddress(address)
  const security = options.security ?? PLAIN_LINK
  // the server checks the id of an edge with a token or certificate: the doctor is that edge
  const asItself = security.token !== null || security.tls?.cert != null
  const hello: Hello = {
    edgeId: asItself ? options.edgeId : doctorEdgeId(options.edgeId),
    instanceId: randomUUID(),
    software: options.software.slice(0, 128),
    channels: [{ name: 'doctor', fd: false, nextSeq: 0 }],
    capabilities: [],
  }
  const outcome = await handshake(address, hello, options.timeoutMs, security)
  const seconds = `${options.timeoutMs / 1000} s`
  const protectedBy =
    security.tls === null && security.token === null
      ? ''
      : `${describeLinkSecurity(security)}, all verified; `
  switch (outcome.kind) {
    case 'welcome':
      return ok(
        'server',
        `${where}: ${protectedBy}canbridge protocol ${PROTOCOL_VERSION}, server "${outcome.welcome.serverId}" answered HELLO with WELCOME (connect ${outcome.connectMs.toFixed(0)} ms, handshake ${outcome.handshakeMs.toFixed(0)} ms, heartbeat ${outcome.welcome.heartbeatMs} ms)${asItself ? ` as edge ${options.edgeId} (the server checks the id: a running edge of that id reconnects)` : ''}`,
      )
    case 'tls':
      return fail(
        'server',
        `${where}: TLS handshake: ${await confirmNotTls(address, outcome.reason, options.timeoutMs)}`,
        [
          'the reason says what to change; canbridge keys (server-bus) makes the CA, server and edge files',
        ],
      )
    case 'auth':
      return fail('server', `${where}: authentication: ${outcome.reason}`, [
        `see the server log for edge ${hello.edgeId}`,
      ])
    case 'handshake':
      return fail('server', `${where}: handshake: ${outcome.reason}`, [
        'run the same canbridge release on both ends',
      ])
    case 'refused': {
      const { kind, reason } = describeRefusal(outcome.code, outcome.message)
      return fail('server', `${where} refused the HELLO: ${outcome.code}: ${outcome.message}`, [
        ...(kind === 'auth' ? [reason] : []),
        `see the server log for this connection (edge id ${hello.edgeId})`,
      ])
    }
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
      if (code === 'BAD_MAGIC' && security.tls === null && looksLikeTls(outcome.firstBytes)) {
        return fail('server', `${where}: preamble: ${TLS_SERVER_REASON}`, [
          'the server sent a TLS record where the canbridge preamble belongs',
        ])
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
      if (outcome.connected && !outcome.answered) {
        const silent = silentCloseReason(security.tls)
        return fail(
          'server',
          `${where}: ${silent.kind === 'tls' ? 'TLS handshake' : 'preamble'}: ${silent.reason}`,
          ['see the server log for this connection'],
        )
      }
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

/**
 * Every server of --server's list, in order, one line each (`server 1`, `server 2`, …).
 * The edge fails over between them, so while one answers, the others' failures are
 * warnings; only when none answers is it a FAIL.
 */
export async function checkServers(
  addresses: readonly ServerAddress[] | undefined,
  options: ServerCheckOptions,
): Promise<CheckResult[]> {
  if (addresses === undefined || addresses.length <= 1)
    return [await checkServer(addresses?.[0], options)]
  const results: CheckResult[] = []
  for (const [i, address] of addresses.entries())
    results.push({ ...(await checkServer(address, options)), name: `server ${i + 1}` })
  if (!results.some((r) => r.status === 'OK')) return results
  return results.map((r) =>
    r.status === 'FAIL'
      ? {
          ...r,
          status: 'WARN',
          fix: [...(r.fix ?? []), 'the edge fails over to the servers that answer meanwhile'],
        }
      : r,
  )
}
