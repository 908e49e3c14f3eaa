// A server for tests, built from @canbridge/protocol over real sockets: accepts an edge,
// answers WELCOME (resuming from what it holds), records every frame by sequence number,
// ACKs, sends heartbeats, and can pause reading or go silent on command. Optionally over
// TLS 1.3 (with client certificates) and with token authentication (PROTOCOL.md §5.13),
// whose proofs it computes from the spec's text, not with the edge's code; and it can break
// the handshake on purpose.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { createServer, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer, TLSSocket } from 'node:tls'
import {
  type ControlBodies,
  type ControlTypeName,
  type DecodedMessage,
  Decoder,
  type Drops,
  encodeControl,
  encodePreamble,
  type Hello,
  ROLE,
} from '@canbridge/protocol'

export interface ReceivedFrame {
  seq: number
  id: number
  flags: number
  len: number
  data: Uint8Array
  timestampNs: bigint
}

/** What a server holds per channel; survives a server restart when passed to the next one. */
export class ServerState {
  /** per channel index: frames by arrival, without duplicates */
  frames: ReceivedFrame[][] = []
  /** next sequence expected per channel (null: no history) */
  nextSeq: (number | null)[] = []
  duplicates = 0
  /** sequence ranges missing from the stream (gaps between batches) */
  gaps: { channel: number; fromSeq: number; count: number }[] = []
  drops: Drops[] = []
  hellos: Hello[] = []
  messages: { type: string; body: unknown }[] = []
  /** application bytes received on each connection, in order (after TLS decryption) */
  connectionBytes: number[] = []
  /** TLS handshakes that failed at this server (code, e.g. a plain edge) */
  tlsErrors: string[] = []
  /** the CN of each client certificate presented */
  clientNames: string[] = []
  /** the SNI of each TLS connection accepted (null: none, as for an IP address) */
  servernames: (string | null)[] = []
  /** connections that completed the token proofs */
  authenticated = 0

  channel(i: number): ReceivedFrame[] {
    this.frames[i] ??= []
    return this.frames[i]
  }

  count(i = 0): number {
    return this.frames[i]?.length ?? 0
  }

  /** The counters of channel `i` in the latest STATS (empty before the first). */
  statsCounters(i = 0): Record<string, number> {
    const stats = this.messages.filter((m) => m.type === 'STATS').at(-1)
    const body = stats?.body as { channels: { counters: Record<string, number> }[] } | undefined
    return body?.channels[i]?.counters ?? {}
  }
}

export interface ScriptedServerOptions {
  heartbeatMs?: number
  capabilities?: string[]
  /** false: ACK only when ack() is called */
  autoAck?: boolean
  /** send heartbeats (false: a silent server, for half-open tests) */
  heartbeats?: boolean
  /** forget history on WELCOME (a fresh server) */
  resume?: boolean
  state?: ServerState
  /** TLS 1.3 with this certificate and key (PEM); `clientCa`: require client certificates */
  tls?: { cert: string; key: string; clientCa?: string }
  auth?: ScriptedAuth
  /** messages written after HELLO, before anything else (the edge must not act on them) */
  beforeWelcome?: { type: ControlTypeName; body: unknown }[]
}

export interface ScriptedAuth {
  /** the token the server holds for each edge id */
  tokens: Record<string, string>
  /**
   * challenge: as the spec says; skip: WELCOME without AUTH_CHALLENGE (a server that does
   * not prove itself); reject: ERROR AUTH_FAILED even for a right proof; challenge-anyway:
   * AUTH_CHALLENGE even to a HELLO without authNonce (with a nonce of zeros)
   */
  behaviour?: 'challenge' | 'skip' | 'reject' | 'challenge-anyway'
}

/** PROTOCOL.md §5.13, written from the text: HMAC-SHA-256 over the domain, role and fields. */
export function specProof(
  role: 1 | 2,
  token: string,
  edgeId: string,
  edgeNonce: Uint8Array,
  serverNonce: Uint8Array,
  binding: Uint8Array,
): Buffer {
  const hmac = createHmac('sha256', Buffer.from(token, 'utf8'))
  hmac.update(Buffer.from('canbridge-auth-v1', 'ascii'))
  hmac.update(Buffer.from([0, role]))
  for (const field of [Buffer.from(edgeId, 'utf8'), edgeNonce, serverNonce, binding]) {
    hmac.update(Buffer.from([field.length]))
    hmac.update(field)
  }
  return hmac.digest()
}

function tlsBinding(socket: Socket): Uint8Array {
  return socket instanceof TLSSocket
    ? socket.exportKeyingMaterial(32, 'EXPORTER-canbridge-auth-v1', Buffer.alloc(0))
    : new Uint8Array(0)
}

interface PendingProof {
  hello: Hello
  expected: Buffer
}

export class ScriptedServer {
  readonly state: ServerState
  readonly options: Required<
    Omit<ScriptedServerOptions, 'state' | 'tls' | 'auth' | 'beforeWelcome'>
  > &
    Pick<ScriptedServerOptions, 'tls' | 'auth' | 'beforeWelcome'>
  #server: Server
  #proofs = new WeakMap<Socket, PendingProof>()
  #sockets = new Set<Socket>()
  #current: Socket | undefined
  #heartbeat: NodeJS.Timeout | undefined
  connections = 0
  #waiters: { check: () => boolean; resolve: () => void }[] = []

  constructor(options: ScriptedServerOptions = {}) {
    this.state = options.state ?? new ServerState()
    this.options = {
      heartbeatMs: options.heartbeatMs ?? 1000,
      capabilities: options.capabilities ?? [],
      autoAck: options.autoAck ?? true,
      heartbeats: options.heartbeats ?? true,
      resume: options.resume ?? true,
      tls: options.tls,
      auth: options.auth,
      beforeWelcome: options.beforeWelcome,
    }
    const tls = options.tls
    if (tls) {
      const server = createTlsServer(
        {
          cert: tls.cert,
          key: tls.key,
          minVersion: 'TLSv1.3',
          ...(tls.clientCa
            ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true }
            : {}),
        },
        (socket) => this.#accept(socket),
      )
      server.on('tlsClientError', (error: NodeJS.ErrnoException) => {
        this.state.tlsErrors.push(error.code ?? error.message)
        this.#notify()
      })
      this.#server = server
    } else {
      this.#server = createServer((socket) => this.#accept(socket))
    }
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(port, host, () => resolve())
    })
    const address = this.#server.address()
    return typeof address === 'object' && address ? address.port : port
  }

  async listenUnix(path: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(path, () => resolve())
    })
  }

  /** Stops listening and cuts every connection (a killed server). */
  async close(): Promise<void> {
    clearInterval(this.#heartbeat)
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  get connected(): boolean {
    return this.#current !== undefined && !this.#current.destroyed
  }

  send<K extends ControlTypeName>(type: K, body: ControlBodies[K]): void {
    this.#current?.write(encodeControl(type, body))
  }

  /** Stops reading from the edge (TCP backpressure builds up). */
  pause(): void {
    this.#current?.pause()
  }

  resume(): void {
    this.#current?.resume()
  }

  /** Stops sending anything (heartbeats, ACKs) while keeping the connection open. */
  goSilent(): void {
    clearInterval(this.#heartbeat)
    this.options.autoAck = false
  }

  ack(channel = 0): void {
    const next = this.state.nextSeq[channel]
    if (next !== null && next !== undefined) this.send('ACK', { channel, nextSeq: next })
  }

  /** Resolves once `check` holds (tested after every message), or rejects after `timeoutMs`. */
  waitFor(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    if (check()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const waiter = { check, resolve: () => {} }
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter)
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))
      }, timeoutMs)
      waiter.resolve = () => {
        clearTimeout(timer)
        resolve()
      }
      this.#waiters.push(waiter)
    })
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) {
      if (waiter.check()) {
        this.#waiters = this.#waiters.filter((w) => w !== waiter)
        waiter.resolve()
      }
    }
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket)
    this.connections++
    socket.setNoDelay(true)
    if (socket instanceof TLSSocket) {
      // on the server side: the SNI the client sent, or false
      this.state.servernames.push(socket.servername || null)
      const cn = socket.getPeerCertificate().subject?.CN
      if (typeof cn === 'string') this.state.clientNames.push(cn)
    }
    const index = this.state.connectionBytes.push(0) - 1
    const decoder = new Decoder({ peerRole: ROLE.EDGE })
    socket.write(encodePreamble(ROLE.SERVER))
    socket.on('data', (chunk: Buffer) => {
      this.state.connectionBytes[index]! += chunk.length
      try {
        decoder.write(chunk, (message) => this.#onMessage(socket, message))
      } catch (error) {
        socket.destroy(error as Error)
      }
      this.#notify()
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      this.#sockets.delete(socket)
      if (this.#current === socket) {
        this.#current = undefined
        clearInterval(this.#heartbeat)
      }
      this.#notify()
    })
  }

  #onMessage(socket: Socket, message: DecodedMessage): void {
    const state = this.state
    if (message.type === 'DATA') {
      const batch = message.batch
      const channel = batch.channel
      const list = state.channel(channel)
      const reader = batch.reader()
      let next = state.nextSeq[channel] ?? null
      while (reader.next()) {
        if (next !== null && reader.seq < next) {
          state.duplicates++
          continue
        }
        if (next !== null && reader.seq > next)
          state.gaps.push({ channel, fromSeq: next, count: reader.seq - next })
        list.push({
          seq: reader.seq,
          id: reader.id,
          flags: reader.flags,
          len: reader.len,
          data: reader.data().slice(),
          timestampNs: reader.timestampNs(),
        })
        next = reader.seq + 1
      }
      state.nextSeq[channel] = next
      if (this.options.autoAck && next !== null) {
        socket.write(encodeControl('ACK', { channel, nextSeq: next }))
      }
      return
    }
    state.messages.push({ type: message.type, body: message.body })
    switch (message.type) {
      case 'HELLO': {
        const hello = message.body
        state.hellos.push(hello)
        for (const m of this.options.beforeWelcome ?? []) {
          socket.write(encodeControl(m.type, m.body as never))
        }
        if (this.#challenge(socket, hello)) return
        this.#welcome(socket, hello)
        return
      }
      case 'AUTH_RESPONSE': {
        const pending = this.#proofs.get(socket)
        this.#proofs.delete(socket)
        const proof = Buffer.from(message.body.proof)
        if (
          !pending ||
          this.options.auth?.behaviour === 'reject' ||
          proof.length !== 32 ||
          !timingSafeEqual(proof, pending.expected)
        ) {
          this.#refuse(socket, 'AUTH_FAILED', 'authentication failed')
          return
        }
        state.authenticated++
        this.#welcome(socket, pending.hello)
        return
      }
      case 'DROPS':
        state.drops.push(message.body)
        return
      default:
        return
    }
  }

  #refuse(socket: Socket, code: string, message: string): void {
    socket.end(encodeControl('ERROR', { code, message, fatal: true }))
  }

  /** Token authentication: true when the HELLO is answered here (challenge or refusal). */
  #challenge(socket: Socket, hello: Hello): boolean {
    const auth = this.options.auth
    if (!auth || auth.behaviour === 'skip') return false
    const edgeNonce =
      hello.authNonce ?? (auth.behaviour === 'challenge-anyway' ? new Uint8Array(32) : undefined)
    if (edgeNonce === undefined) {
      this.#refuse(socket, 'AUTH_REQUIRED', 'this server requires a token')
      return true
    }
    // an unknown edge gets a proof under a random key: it looks like a wrong token (§5.13)
    const token = auth.tokens[hello.edgeId] ?? randomBytes(24).toString('hex')
    const serverNonce = randomBytes(32)
    const binding = tlsBinding(socket)
    const proof = specProof(2, token, hello.edgeId, edgeNonce, serverNonce, binding)
    this.#proofs.set(socket, {
      hello,
      expected: specProof(1, token, hello.edgeId, edgeNonce, serverNonce, binding),
    })
    socket.write(encodeControl('AUTH_CHALLENGE', { nonce: serverNonce, proof }))
    return true
  }

  #welcome(socket: Socket, hello: Hello): void {
    const state = this.state
    this.#current = socket
    if (!this.options.resume) state.nextSeq = []
    socket.write(
      encodeControl('WELCOME', {
        serverId: 'scripted',
        heartbeatMs: this.options.heartbeatMs,
        channels: hello.channels.map((c, i) => ({
          name: c.name,
          nextSeq: state.nextSeq[i] ?? null,
        })),
        capabilities: this.options.capabilities,
      }),
    )
    if (this.options.heartbeats) {
      clearInterval(this.#heartbeat)
      this.#heartbeat = setInterval(() => {
        if (!socket.destroyed) socket.write(encodeControl('HEARTBEAT', { timeMs: Date.now() }))
      }, this.options.heartbeatMs)
    }
  }
}

/** The counter a virtual `counter`/`mixed` frame carries in its first 4 data bytes. */
export function frameNumber(frame: ReceivedFrame): number {
  const d = frame.data
  return (d[0]! | (d[1]! << 8) | (d[2]! << 16)) + d[3]! * 0x1000000
}
