// One TCP connection to a socketcand server: the handshake (`< hi >`, `open`, the mode, the
// canbridge extension), then frames and replies to the bus, keepalive echoes, and a close
// that always says why. The bus owns reconnecting; a link lives for one connection.

import { connect, type Socket } from 'node:net'
import {
  type CanFrame,
  formatSocketcandClientMessage,
  parseSocketcandServerMessage,
  SOCKETCAND_ERROR_CODE,
  SOCKETCAND_EXTENSION_VERSION,
  SocketcandError,
  type SocketcandServerMessage,
  SocketcandTokenizer,
} from '@canbridge/protocol'
import { CanInitializationError } from '../errors.ts'
import type { Logger } from '../logger.ts'

/** What the link does in which mode: raw receives every frame, BCM only subscribed ids. */
export type SocketcandLinkMode = 'raw' | 'bcm'

export interface SocketcandLinkOptions {
  host: string
  port: number
  /** the server's bus name, e.g. `vcan0` */
  bus: string
  mode: SocketcandLinkMode
  /** extension features to ask for (none: do not ask) */
  extensionFeatures: readonly string[]
  /** connect + `< hi >` + `open` + mode must finish within this */
  handshakeTimeoutMs: number
  /** `< echo >` interval; a server silent for 3 intervals is taken for dead; 0 = off */
  keepaliveMs: number
  logger: Logger
  /** for log lines: `main` or `bcm` */
  role: string
}

export interface SocketcandLinkHandlers {
  /** a received frame (the hot path); `chunkEnd` follows the last of each TCP read */
  frame(frame: CanFrame): void
  chunkEnd(): void
  /** `< error TEXT >` after the handshake: a command of ours was refused */
  serverError(text: string): void
  /** a message the protocol has but this client ignores (counted) */
  ignored(message: SocketcandServerMessage | string): void
  /** the connection ended; `error` when it was not a plain close */
  closed(reason: string, error: Error | undefined): void
}

/** Why a link could not be opened. */
export const SOCKETCAND_LINK_ERROR_CODE = {
  /** TCP connect failed (refused, unreachable, timed out) */
  CONNECT_FAILED: 'CONNECT_FAILED',
  /** the server answered `< error ... >` to `open` or the mode switch */
  REFUSED: 'REFUSED',
  /** the server did not finish the handshake in time */
  HANDSHAKE_TIMEOUT: 'HANDSHAKE_TIMEOUT',
  /** the server sent something the handshake does not allow */
  PROTOCOL: 'PROTOCOL',
  /** the connection closed during the handshake */
  CLOSED: 'CLOSED',
} as const
export type SocketcandLinkErrorCode =
  (typeof SOCKETCAND_LINK_ERROR_CODE)[keyof typeof SOCKETCAND_LINK_ERROR_CODE]

/** The socketcand server could not be reached or refused the session: the bus cannot start. */
export class SocketcandLinkError extends CanInitializationError {
  override readonly name = 'SocketcandLinkError'
  readonly code: SocketcandLinkErrorCode
  constructor(code: SocketcandLinkErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}

type Phase = 'hi' | 'open' | 'mode' | 'extension' | 'ready' | 'closed'

/** Silent intervals after which the server is taken for dead. */
const KEEPALIVE_MISSES = 3
const ECHO = '< echo >'

export class SocketcandLink {
  readonly options: SocketcandLinkOptions
  readonly #socket: Socket
  readonly #handlers: SocketcandLinkHandlers
  readonly #tokenizer = new SocketcandTokenizer()
  #phase: Phase = 'hi'
  #features: ReadonlySet<string> = new Set()
  #handshakeTimer: NodeJS.Timeout | undefined
  #keepaliveTimer: NodeJS.Timeout | undefined
  #lastHeard = performance.now()
  #opened: { resolve: () => void; reject: (error: Error) => void } | undefined

  /** Connects and completes the handshake; rejects with a SocketcandLinkError. */
  static open(
    options: SocketcandLinkOptions,
    handlers: SocketcandLinkHandlers,
  ): Promise<SocketcandLink> {
    return new Promise((resolve, reject) => {
      const link = new SocketcandLink(options, handlers, {
        resolve: () => resolve(link),
        reject,
      })
    })
  }

  private constructor(
    options: SocketcandLinkOptions,
    handlers: SocketcandLinkHandlers,
    opened: { resolve: () => void; reject: (error: Error) => void },
  ) {
    this.options = options
    this.#handlers = handlers
    this.#opened = opened
    this.#handshakeTimer = setTimeout(
      () =>
        this.#fail(
          new SocketcandLinkError(
            'HANDSHAKE_TIMEOUT',
            `${this.#where()}: no ${this.#awaited()} within ${options.handshakeTimeoutMs} ms`,
          ),
        ),
      options.handshakeTimeoutMs,
    )
    this.#socket = connect({ host: options.host, port: options.port, noDelay: true })
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    this.#socket.on('error', (error: NodeJS.ErrnoException) => {
      const code = this.#phase === 'hi' && !this.#socket.remoteAddress ? 'CONNECT_FAILED' : 'CLOSED'
      this.#fail(
        new SocketcandLinkError(code, `${this.#where()}: ${error.message}`, { cause: error }),
      )
    })
    this.#socket.on('end', () =>
      this.#fail(
        new SocketcandLinkError('CLOSED', `${this.#where()}: the server closed the connection`),
      ),
    )
    this.#socket.on('close', () =>
      this.#fail(new SocketcandLinkError('CLOSED', `${this.#where()}: the connection closed`)),
    )
  }

  /** Extension features the server enabled for this connection. */
  get features(): ReadonlySet<string> {
    return this.#features
  }

  get ready(): boolean {
    return this.#phase === 'ready'
  }

  /**
   * Writes one message; resolves once it is handed to the kernel, rejects when the
   * connection is gone. Never throws.
   */
  write(text: string): Promise<void> {
    if (this.#phase === 'closed' || this.#socket.destroyed) {
      return Promise.reject(new SocketcandLinkError('CLOSED', `${this.#where()}: not connected`))
    }
    return new Promise((resolve, reject) => {
      this.#socket.write(text, 'latin1', (error) => {
        if (error)
          reject(
            new SocketcandLinkError('CLOSED', `${this.#where()}: ${error.message}`, {
              cause: error,
            }),
          )
        else resolve()
      })
    })
  }

  /** Stops reading (TCP then pushes back on the server) until `resume()`. */
  pause(): void {
    this.#socket.pause()
  }

  resume(): void {
    this.#socket.resume()
  }

  /** Ends the connection (after what was written); the close handler is called once. */
  close(reason: string): Promise<void> {
    return new Promise((resolve) => {
      if (this.#socket.destroyed) {
        this.#finish(reason, undefined)
        resolve()
        return
      }
      this.#socket.once('close', () => resolve())
      this.#finish(reason, undefined)
      this.#socket.end()
      // a server that never closes its side must not hold the bus
      setTimeout(() => this.#socket.destroy(), 500).unref()
    })
  }

  #onData(chunk: Buffer): void {
    this.#lastHeard = performance.now()
    try {
      this.#tokenizer.write(chunk, (text) => this.#onMessage(text))
    } catch (error) {
      if (error instanceof SocketcandLinkError) this.#fail(error)
      else if (error instanceof SocketcandError) {
        // a malformed server: the connection goes, with the codec's reason
        this.#fail(
          new SocketcandLinkError('PROTOCOL', `${this.#where()}: ${error.message}`, {
            cause: error,
          }),
        )
      } else throw error
      return
    }
    if (this.#phase === 'ready' || this.#phase === 'extension') this.#handlers.chunkEnd()
  }

  #onMessage(text: string): void {
    if (this.#phase === 'closed') return
    let message: SocketcandServerMessage
    try {
      message = parseSocketcandServerMessage(text)
    } catch (error) {
      if (!(error instanceof SocketcandError)) throw error
      if (error.code === SOCKETCAND_ERROR_CODE.UNKNOWN_COMMAND && this.#phase === 'ready') {
        this.#handlers.ignored(text) // a message of a newer or other server: not ours to judge
        return
      }
      throw error
    }
    if (message.type === 'frame' && (this.#phase === 'ready' || this.#phase === 'extension')) {
      this.#handlers.frame(message.frame)
      return
    }
    switch (this.#phase) {
      case 'hi':
        this.#expect(message, 'hi')
        this.#phase = 'open'
        this.#send(formatSocketcandClientMessage({ type: 'open', bus: this.options.bus }))
        return
      case 'open':
        this.#expectOk(message, `< open ${this.options.bus} >`)
        if (this.options.mode === 'raw') {
          this.#phase = 'mode'
          this.#send(formatSocketcandClientMessage({ type: 'mode', mode: 'raw' }))
        } else {
          this.#startExtension()
        }
        return
      case 'mode':
        this.#expectOk(message, '< rawmode >')
        this.#startExtension()
        return
      case 'extension':
        if (message.type === 'extension') {
          this.#features = new Set(
            message.version === SOCKETCAND_EXTENSION_VERSION ? message.features : [],
          )
          this.#ready()
        } else if (message.type === 'error') {
          // socketcand's answer to a command it does not know: no extension here
          this.#ready()
        } else {
          this.#handlers.ignored(message)
        }
        return
      case 'ready':
        if (message.type === 'error') this.#handlers.serverError(message.text)
        else if (message.type !== 'echo') this.#handlers.ignored(message)
        return
      default:
        return
    }
  }

  #expect(message: SocketcandServerMessage, type: 'hi'): void {
    if (message.type === type) return
    throw new SocketcandLinkError(
      'PROTOCOL',
      `${this.#where()}: expected '< ${type} >' first, got a '${message.type}' message: is this a socketcand server?`,
    )
  }

  #expectOk(message: SocketcandServerMessage, command: string): void {
    if (message.type === 'ok') return
    if (message.type === 'error') {
      throw new SocketcandLinkError(
        'REFUSED',
        `${this.#where()}: the server refused '${command}': ${message.text || '(no reason given)'}`,
      )
    }
    throw new SocketcandLinkError(
      'PROTOCOL',
      `${this.#where()}: expected '< ok >' after '${command}', got a '${message.type}' message`,
    )
  }

  #startExtension(): void {
    if (this.options.extensionFeatures.length === 0) {
      this.#ready()
      return
    }
    this.#phase = 'extension'
    this.#send(
      formatSocketcandClientMessage({
        type: 'extension',
        version: SOCKETCAND_EXTENSION_VERSION,
        features: [...this.options.extensionFeatures],
      }),
    )
    // A server that ignores unknown commands silently: go on without the extension.
    clearTimeout(this.#handshakeTimer)
    this.#handshakeTimer = setTimeout(() => this.#ready(), this.options.handshakeTimeoutMs)
  }

  #ready(): void {
    clearTimeout(this.#handshakeTimer)
    this.#handshakeTimer = undefined
    this.#phase = 'ready'
    if (this.options.keepaliveMs > 0) {
      this.#keepaliveTimer = setInterval(() => this.#keepalive(), this.options.keepaliveMs)
      this.#keepaliveTimer.unref()
    }
    const opened = this.#opened
    this.#opened = undefined
    opened?.resolve()
  }

  #keepalive(): void {
    const silentMs = performance.now() - this.#lastHeard
    if (silentMs > KEEPALIVE_MISSES * this.options.keepaliveMs) {
      this.#fail(
        new SocketcandLinkError(
          'CLOSED',
          `${this.#where()}: the server was silent for ${Math.round(silentMs)} ms (no answer to '< echo >')`,
        ),
      )
      return
    }
    this.#send(ECHO)
  }

  #send(text: string): void {
    if (!this.#socket.destroyed) this.#socket.write(text, 'latin1')
  }

  #fail(error: Error): void {
    if (this.#phase === 'closed') return
    this.#finish(error.message, error)
    this.#socket.destroy()
  }

  /** Settles the link once: a pending `open` rejects, a ready link reports its close. */
  #finish(reason: string, error: Error | undefined): void {
    const phase = this.#phase
    if (phase === 'closed') return
    this.#phase = 'closed'
    clearTimeout(this.#handshakeTimer)
    clearInterval(this.#keepaliveTimer)
    if (this.#opened === undefined) {
      if (phase === 'ready') this.#handlers.closed(reason, error)
      return
    }
    this.#opened.reject(error ?? new SocketcandLinkError('CLOSED', `${this.#where()}: ${reason}`))
    this.#opened = undefined
  }

  #awaited(): string {
    switch (this.#phase) {
      case 'hi':
        return "'< hi >'"
      case 'open':
        return `'< ok >' to '< open ${this.options.bus} >'`
      case 'mode':
        return "'< ok >' to '< rawmode >'"
      default:
        return 'answer'
    }
  }

  #where(): string {
    return `socketcand ${this.options.host}:${this.options.port} (${this.options.role})`
  }
}
