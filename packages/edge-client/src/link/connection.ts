// One connection to the server (TCP, TLS 1.3 or a Unix socket): the server verified (TLS),
// preamble and HELLO, token proofs, wait for WELCOME, then a decoded stream of server
// messages, heartbeats both ways, and writes that report backpressure (writableNeedDrain)
// instead of buffering without bound. Nothing but the handshake is acted on before WELCOME.
import type { Socket } from 'node:net'
import {
  type ControlBodies,
  type ControlMessage,
  type ControlTypeName,
  Decoder,
  encodeControl,
  encodePreamble,
  type Hello,
  ProtocolError,
  ROLE,
  type Welcome,
} from '@canbridge/protocol'
import type { ServerAddress } from '../config.ts'
import { foreignServerReason, PEEK_BYTES, silentServerReason } from '../server-answers.ts'
import { LinkHandshake, type LinkProblemKind } from './security/link-handshake.ts'
import type { LinkSecurity, TlsSettings } from './security/link-security.ts'
import {
  describeTlsError,
  looksLikeTls,
  silentCloseReason,
  TLS_SERVER_REASON,
} from './tls/tls-problems.ts'
import { channelBinding, openTransport, pinProblem, type Transport } from './tls/transport.ts'

export type { LinkProblemKind, Transport }

/**
 * What the sending side of the edge needs from a connection to the server: the seam between
 * the socket-write worker's logic and the socket, so that the sender runs in tests against a
 * scripted link (src/write/channel-sender.test.ts) and in the daemon against a ServerLink.
 */
export interface Link {
  /** WELCOME arrived: DATA may go */
  readonly welcomed: boolean
  /** the connection is gone (onClose has run) */
  readonly closed: boolean
  /** the link asks the writer to wait for onDrain */
  readonly needDrain: boolean
  /** coalesce the writes that follow, until uncork */
  cork(): void
  uncork(): void
  /**
   * Writes an encoded message (a DATA batch); `done` runs once the link no longer needs the
   * bytes (sent or failed). Returns false once the link needs a drain.
   */
  write(bytes: Uint8Array, done?: () => void): boolean
  /** Encodes and writes a control message. */
  send<K extends ControlTypeName>(type: K, body: ControlBodies[K]): boolean
  destroy(reason: string, kind?: LinkProblemKind): void
}

/** Opens a link to one server; the worker's wiring passes openServerLink. */
export type OpenLink = (
  address: ServerAddress,
  hello: Hello,
  handlers: LinkHandlers,
  options: LinkOptions,
) => Link

/** Opens the byte stream to a server (default openTransport: TCP, TLS or a Unix socket). */
export type ConnectTransport = (address: ServerAddress, tls: TlsSettings | null) => Transport

export interface LinkHandlers {
  onWelcome(welcome: Welcome): void
  /** every server message after WELCOME */
  onMessage(message: Exclude<ControlMessage, { type: 'WELCOME' }>): void
  /** the socket can take more after reporting backpressure */
  onDrain(): void
  /** the stream is up (with TLS: the server verified); the preamble and HELLO go now */
  onTransportReady?(): void
  /**
   * the connection is gone (called once); `welcomed` says whether it got that far, `kind`
   * what ended it (tls, auth: the server or this edge failed verification)
   */
  onClose(reason: string, welcomed: boolean, kind: LinkProblemKind): void
}

export interface LinkOptions {
  handshakeTimeoutMs: number
  /** TCP keepalive probe delay */
  keepAliveMs: number
  /** TLS, token; default: neither */
  security?: LinkSecurity
  /** how the byte stream is opened (default openTransport); tests may hand their own */
  connect?: ConnectTransport
}

/** The real link: a ServerLink over TCP, TLS or a Unix socket. */
export const openServerLink: OpenLink = (address, hello, handlers, options) =>
  new ServerLink(address, hello, handlers, options)

export class ServerLink implements Link {
  readonly address: ServerAddress
  readonly #handlers: LinkHandlers
  readonly #socket: Socket
  readonly #decoder = new Decoder({ peerRole: ROLE.SERVER })
  readonly #handshake: LinkHandshake
  readonly #security: LinkSecurity | undefined
  /** the transport is ready (TLS: verified) and our preamble went out */
  #ready = false
  /** TCP (or the Unix socket) is connected; with TLS, the handshake may still be going */
  #connected = false
  /** the first bytes from the server, to tell a TLS server from a canbridge one */
  #firstBytes: Buffer | undefined
  #welcome: Welcome | undefined
  #closed = false
  #handshakeTimer: NodeJS.Timeout | undefined
  #heartbeatTimer: NodeJS.Timeout | undefined
  #lastReceived = 0
  #lastSent = 0
  // set per write and per read, turned into times at the next heartbeat tick: a clock read
  // per batch is a system call where the kernel has no vDSO clock (User-Mode Linux)
  #sentSinceTick = false
  #receivedSinceTick = false
  #heartbeatMs = 0
  /** bytes handed to the socket (for statistics) */
  bytesWritten = 0

  constructor(address: ServerAddress, hello: Hello, handlers: LinkHandlers, options: LinkOptions) {
    this.address = address
    this.#handlers = handlers
    this.#security = options.security
    const tls = options.security?.tls ?? null
    this.#handshake = new LinkHandshake(options.security?.token ?? null, hello.edgeId)
    const { socket, readyEvent } = (options.connect ?? openTransport)(address, tls)
    this.#socket = socket
    socket.on(readyEvent, () => {
      // a server that fails the pin hears nothing from us, not even the preamble
      const pinned = pinProblem(socket, tls)
      if (pinned !== undefined) {
        this.destroy(pinned, 'tls')
        return
      }
      if (address.kind === 'tcp') {
        socket.setNoDelay(true)
        socket.setKeepAlive(true, options.keepAliveMs)
      }
      this.#ready = true
      handlers.onTransportReady?.()
      // Both preambles go at once (PROTOCOL.md §1); HELLO follows ours directly.
      socket.cork()
      this.#write(encodePreamble(ROLE.EDGE))
      this.#write(encodeControl('HELLO', this.#handshake.hello(hello)))
      socket.uncork()
    })
    socket.once('connect', () => {
      this.#connected = true
    })
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('drain', () => handlers.onDrain())
    socket.on('error', (error: NodeJS.ErrnoException) => this.#onSocketError(error))
    socket.on('close', () => this.#onPeerClosed('connection closed by the server'))
    socket.on('end', () => this.#onPeerClosed('the server ended the connection'))
    this.#handshakeTimer = setTimeout(
      () => this.#onHandshakeTimeout(options.handshakeTimeoutMs),
      options.handshakeTimeoutMs,
    )
  }

  /** No WELCOME in time: say how far it got, and what answered. */
  #onHandshakeTimeout(timeoutMs: number): void {
    if (!this.#connected) {
      this.destroy(`no connection within ${timeoutMs} ms`, 'socket')
    } else if (this.#firstBytes === undefined) {
      this.destroy(silentServerReason(timeoutMs), 'silent')
    } else {
      this.destroy(`no WELCOME within ${timeoutMs} ms`, 'timeout')
    }
  }

  get welcomed(): boolean {
    return this.#welcome !== undefined
  }

  get closed(): boolean {
    return this.#closed
  }

  /** The socket asks the writer to wait for 'drain'. */
  get needDrain(): boolean {
    return this.#socket.writableNeedDrain
  }

  /** Bytes queued in the socket, not yet taken by the kernel. */
  get pendingBytes(): number {
    return this.#socket.writableLength
  }

  cork(): void {
    this.#socket.cork()
  }

  uncork(): void {
    this.#socket.uncork()
  }

  /** Writes bytes the caller no longer touches; returns false once the socket needs a drain. */
  /**
   * Writes bytes; `done` runs once the socket no longer needs them (flushed or failed), so
   * a caller may reuse the buffer then. Returns false once the socket needs a drain.
   */
  write(bytes: Uint8Array, done?: () => void): boolean {
    if (this.#closed) {
      done?.()
      return false
    }
    return this.#write(bytes, done)
  }

  send<K extends ControlTypeName>(type: K, body: ControlBodies[K]): boolean {
    return this.write(encodeControl(type, body))
  }

  destroy(reason: string, kind: LinkProblemKind = 'local'): void {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#handshakeTimer)
    clearInterval(this.#heartbeatTimer)
    this.#socket.destroy()
    this.#handlers.onClose(reason, this.#welcome !== undefined, kind)
  }

  #onSocketError(error: NodeJS.ErrnoException): void {
    const tls = this.#security?.tls
    const host = this.address.kind === 'tcp' ? this.address.host : ''
    const tlsReason = tls && !this.#welcome ? describeTlsError(error, tls, host) : undefined
    if (tlsReason !== undefined) this.destroy(tlsReason, 'tls')
    else if (error.code === 'ECONNRESET') this.#onPeerClosed(`${error.code}: ${error.message}`)
    else this.destroy(error.code ? `${error.code}: ${error.message}` : error.message, 'socket')
  }

  #onPeerClosed(reason: string): void {
    // closed before a single byte came back: a TLS server at a plain edge, or a refused
    // client certificate (tls-problems.ts)
    if (this.#ready && this.#firstBytes === undefined) {
      const silent = silentCloseReason(this.#security?.tls ?? null)
      this.destroy(silent.reason, silent.kind)
      return
    }
    if (!this.#ready && this.#security?.tls) {
      this.destroy(`${reason} during the TLS handshake`, 'tls')
      return
    }
    this.destroy(reason, 'closed')
  }

  #write(bytes: Uint8Array, done?: () => void): boolean {
    this.bytesWritten += bytes.length
    this.#sentSinceTick = true
    return done ? this.#socket.write(bytes, () => done()) : this.#socket.write(bytes)
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return
    this.#receivedSinceTick = true
    // enough of what came first to show it, should it not be canbridge
    if (this.#firstBytes === undefined)
      this.#firstBytes = Buffer.from(chunk.subarray(0, PEEK_BYTES + 1))
    else if (this.#firstBytes.length <= PEEK_BYTES)
      this.#firstBytes = Buffer.concat([this.#firstBytes, chunk]).subarray(0, PEEK_BYTES + 1)
    try {
      this.#decoder.write(chunk, (message) => {
        if (this.#closed) return
        if (message.type === 'DATA') return // the decoder already refuses DATA from a server
        if (!this.#welcome) {
          this.#beforeWelcome(message)
          return
        }
        if (message.type === 'WELCOME' || message.type === 'AUTH_CHALLENGE') {
          throw new ProtocolError('BAD_CONTROL', `${message.type} after WELCOME`)
        }
        this.#handlers.onMessage(message)
      })
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error
      if (error.code === 'BAD_MAGIC' && looksLikeTls(this.#firstBytes)) {
        this.destroy(TLS_SERVER_REASON, 'tls')
        return
      }
      if (error.code === 'BAD_MAGIC') {
        this.destroy(foreignServerReason(this.#firstBytes!), 'foreign')
        return
      }
      this.destroy(`protocol error from the server: ${error.message}`, 'protocol')
    }
  }

  /** The handshake: token proofs, then WELCOME; any other message closes the connection. */
  #beforeWelcome(message: ControlMessage): void {
    const step = this.#handshake.onMessage(message, () => channelBinding(this.#socket))
    switch (step.action) {
      case 'respond':
        this.#write(encodeControl('AUTH_RESPONSE', step.response))
        return
      case 'welcome':
        this.#onWelcome(step.welcome)
        return
      case 'close':
        this.destroy(step.reason, step.kind)
        return
    }
  }

  #onWelcome(welcome: Welcome): void {
    clearTimeout(this.#handshakeTimer)
    this.#welcome = welcome
    this.#heartbeatMs = welcome.heartbeatMs
    this.#lastReceived = performance.now()
    // Check at a fraction of the interval so that a silent server is noticed close to 3 intervals.
    const tick = Math.max(50, Math.floor(welcome.heartbeatMs / 4))
    this.#heartbeatTimer = setInterval(() => this.#heartbeat(), tick)
    this.#handlers.onWelcome(welcome)
  }

  #heartbeat(): void {
    const now = performance.now()
    if (this.#receivedSinceTick) this.#lastReceived = now
    if (this.#sentSinceTick) this.#lastSent = now
    this.#receivedSinceTick = false
    this.#sentSinceTick = false
    if (now - this.#lastReceived > 3 * this.#heartbeatMs) {
      this.destroy(
        `server silent for ${Math.round(now - this.#lastReceived)} ms (3 heartbeats): half-open link`,
      )
      return
    }
    if (now - this.#lastSent >= this.#heartbeatMs) {
      this.send('HEARTBEAT', { timeMs: Date.now() })
    }
  }
}
