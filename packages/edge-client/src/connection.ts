// One connection to the server (TCP or Unix socket): preamble and HELLO, wait for WELCOME,
// then a decoded stream of server messages, heartbeats both ways, and writes that report
// backpressure (writableNeedDrain) instead of buffering without bound.
import { connect, type Socket } from 'node:net'
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
import type { ServerAddress } from './config.ts'

export interface LinkHandlers {
  onWelcome(welcome: Welcome): void
  /** every server message after WELCOME */
  onMessage(message: Exclude<ControlMessage, { type: 'WELCOME' }>): void
  /** the socket can take more after reporting backpressure */
  onDrain(): void
  /** the connection is gone (called once); `welcomed` says whether it got that far */
  onClose(reason: string, welcomed: boolean): void
}

export interface LinkOptions {
  handshakeTimeoutMs: number
  /** TCP keepalive probe delay */
  keepAliveMs: number
}

export function describeAddress(address: ServerAddress): string {
  return address.kind === 'unix'
    ? `unix:${address.path}`
    : `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`
}

export class ServerLink {
  readonly address: ServerAddress
  readonly #handlers: LinkHandlers
  readonly #socket: Socket
  readonly #decoder = new Decoder({ peerRole: ROLE.SERVER })
  #welcome: Welcome | undefined
  #closed = false
  #handshakeTimer: NodeJS.Timeout | undefined
  #heartbeatTimer: NodeJS.Timeout | undefined
  #lastReceived = 0
  #lastSent = 0
  #heartbeatMs = 0
  /** bytes handed to the socket (for statistics) */
  bytesWritten = 0

  constructor(address: ServerAddress, hello: Hello, handlers: LinkHandlers, options: LinkOptions) {
    this.address = address
    this.#handlers = handlers
    const socket =
      address.kind === 'unix'
        ? connect({ path: address.path })
        : connect({ host: address.host, port: address.port })
    this.#socket = socket
    socket.on('connect', () => {
      if (address.kind === 'tcp') {
        socket.setNoDelay(true)
        socket.setKeepAlive(true, options.keepAliveMs)
      }
      // Both preambles go at once (PROTOCOL.md §1); HELLO follows ours directly.
      socket.cork()
      this.#write(encodePreamble(ROLE.EDGE))
      this.#write(encodeControl('HELLO', hello))
      socket.uncork()
    })
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('drain', () => handlers.onDrain())
    socket.on('error', (error: NodeJS.ErrnoException) =>
      this.destroy(error.code ? `${error.code}: ${error.message}` : error.message),
    )
    socket.on('close', () => this.destroy('connection closed by the server'))
    socket.on('end', () => this.destroy('the server ended the connection'))
    this.#handshakeTimer = setTimeout(
      () => this.destroy(`no WELCOME within ${options.handshakeTimeoutMs} ms`),
      options.handshakeTimeoutMs,
    )
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

  destroy(reason: string): void {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#handshakeTimer)
    clearInterval(this.#heartbeatTimer)
    this.#socket.destroy()
    this.#handlers.onClose(reason, this.#welcome !== undefined)
  }

  #write(bytes: Uint8Array, done?: () => void): boolean {
    this.bytesWritten += bytes.length
    this.#lastSent = performance.now()
    return done ? this.#socket.write(bytes, () => done()) : this.#socket.write(bytes)
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return
    this.#lastReceived = performance.now()
    try {
      this.#decoder.write(chunk, (message) => {
        if (this.#closed) return
        if (message.type === 'DATA') return // the decoder already refuses DATA from a server
        if (message.type === 'WELCOME') {
          if (this.#welcome) throw new ProtocolError('BAD_CONTROL', 'a second WELCOME')
          this.#onWelcome(message.body)
          return
        }
        if (!this.#welcome) {
          throw new ProtocolError('BAD_CONTROL', `${message.type} before WELCOME`)
        }
        this.#handlers.onMessage(message)
      })
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error
      this.destroy(`protocol error from the server: ${error.message}`)
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
