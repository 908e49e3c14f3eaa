// One edge connection: preamble, HELLO/WELCOME handshake (with authentication) under a
// deadline, the decoder, coalesced ACKs, heartbeats both ways, pending TRANSMIT results, a
// bound on bytes queued for a peer that does not read, and closing with a reason.
import type { Socket } from 'node:net'
import {
  type ControlBodies,
  type ControlMessage,
  type ControlTypeName,
  type DataBatch,
  type DecodedMessage,
  Decoder,
  encodeControl,
  encodePreamble,
  type Hello,
  ProtocolError,
  ROLE,
  type TransmitResult,
  type TxFrame,
  type Welcome,
} from '@canbridge/protocol'
import type { ChannelTracker } from './channel-tracker.ts'
import { EdgeSessionError } from './edge-session-error.ts'
import type { Logger } from './logger.ts'
import type { EdgeAuthenticator, TokenExchange } from './security/edge-authenticator.ts'
import { describeTlsFailure } from './security/tls-refusals.ts'

export { EdgeSessionError, type EdgeSessionErrorCode } from './edge-session-error.ts'

/** An edge that completed its handshake. */
export interface EdgeInfo {
  edgeId: string
  instanceId: string
  software: string
  capabilities: readonly string[]
  /** its channels, `edgeId/interface`, in HELLO order */
  channels: readonly string[]
  /** remote address (`host:port`, or `unix:<path>`) */
  peer: string
  /** when the handshake completed (ms since the epoch) */
  connectedAt: number
}

/** What the bus does for its sessions. */
export interface SessionHost {
  readonly heartbeatMs: number
  readonly handshakeTimeoutMs: number
  readonly maxMessageBytes: number
  /** bytes queued for the edge (it does not read) beyond which the connection is closed */
  readonly maxQueuedBytes: number
  /**
   * ACKs of one connection at most this often (0: after every turn of the event loop that
   * read frames): an ACK wakes the edge, which on a Pi costs more than the frames it frees
   */
  readonly ackIntervalMs: number
  readonly authenticator: EdgeAuthenticator
  readonly logger: Logger
  /** A connection that never completed its handshake was refused (rate-limited log). */
  refused(code: string, fields: Record<string, unknown>, message: string): void
  /**
   * Accepts a HELLO (throws or rejects with EdgeSessionError to refuse): the channels and the
   * WELCOME, or a promise of them when where the edge resumes must be looked up first.
   */
  admit(session: EdgeSession, hello: Hello): Admission | Promise<Admission>
  /** WELCOME is written: push filters, periodic tasks, held sends. */
  ready(session: EdgeSession): void
  /** An accepted batch; it views the decoder's buffer: valid only until this returns. */
  data(session: EdgeSession, channel: ChannelTracker, batch: DataBatch): void
  control(session: EdgeSession, message: ControlMessage): void
  closed(session: EdgeSession, reason: string, error: Error | undefined): void
}

export interface Admission {
  channels: ChannelTracker[]
  welcome: Welcome
}

/** Result callback of one TRANSMIT; null when the connection closed first. */
export type TransmitCallback = (result: TransmitResult | null) => void

type Phase = 'handshake' | 'authenticating' | 'admitting' | 'ready' | 'closed'

/** Largest message before WELCOME: a HELLO of 256 channels fits; a stranger costs little. */
const HANDSHAKE_MAX_MESSAGE_BYTES = 65_536

/** How long a closing connection may take to flush before it is destroyed. */
const CLOSE_GRACE_MS = 1000
const REFUSE_GRACE_MS = 200
const QUIET_SOCKET_ERRORS = new Set(['ECONNRESET', 'EPIPE'])

export class EdgeSession {
  readonly socket: Socket
  readonly peer: string
  #host: SessionHost
  #decoder: Decoder
  #phase: Phase = 'handshake'
  #hello: Hello | undefined
  #helloReceived = false
  #exchange: TokenExchange | undefined
  #info: EdgeInfo | undefined
  #channels: ChannelTracker[] = []
  /** channel indexes that received frames since the last ACK flush */
  #ackDue: number[] = []
  #ackMarked: Uint8Array = new Uint8Array(0)
  /** the next ACK flush: after this turn, or once ackIntervalMs has passed since the last */
  #ackTimer: { timeout: NodeJS.Timeout } | { immediate: NodeJS.Immediate } | undefined
  #lastAckAt = Number.NEGATIVE_INFINITY
  #silenceCheck: NodeJS.Immediate | undefined
  #flushAcksLater = () => {
    this.#ackTimer = undefined
    this.#flushAcks()
  }
  #pending = new Map<number, TransmitCallback>()
  #handshakeTimer: NodeJS.Timeout | undefined
  #heartbeatTimer: NodeJS.Timeout | undefined
  #lastReceived = performance.now()
  #lastSent = performance.now()
  #paused = false
  #closeReason: string | undefined
  #onMessage = (message: DecodedMessage) => this.#handle(message)

  constructor(socket: Socket, peer: string, host: SessionHost) {
    this.socket = socket
    this.peer = peer
    this.#host = host
    this.#decoder = new Decoder({
      peerRole: ROLE.EDGE,
      maxMessageBytes: Math.min(host.maxMessageBytes, HANDSHAKE_MAX_MESSAGE_BYTES),
      // the receive sinks copy a batch before data() returns; a plain socket reuses its chunks
      reusedInput: true,
    })
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('end', () => this.#onEnd())
    socket.on('error', (error: NodeJS.ErrnoException) => this.#onSocketError(error))
    socket.on('close', () => this.#edgeLeft('connection closed'))
    this.#handshakeTimer = setTimeout(() => {
      this.#fail(
        new EdgeSessionError(
          'HANDSHAKE_TIMEOUT',
          `no complete handshake within ${host.handshakeTimeoutMs} ms`,
        ),
      )
    }, host.handshakeTimeoutMs)
    this.#write(encodePreamble(ROLE.SERVER))
  }

  get ready(): boolean {
    return this.#phase === 'ready'
  }

  get closed(): boolean {
    return this.#phase === 'closed'
  }

  get closeReason(): string | undefined {
    return this.#closeReason
  }

  /** The edge's HELLO and address, once the handshake completed. */
  get info(): EdgeInfo | undefined {
    return this.#info
  }

  get edgeId(): string | undefined {
    return this.#hello?.edgeId
  }

  /** Channel trackers by HELLO index. */
  get channels(): readonly ChannelTracker[] {
    return this.#channels
  }

  get paused(): boolean {
    return this.#paused
  }

  /** Transmits awaiting their TRANSMIT_RESULT. */
  get pendingTransmits(): number {
    return this.#pending.size
  }

  /** Stops reading the socket: the edge keeps its frames, TCP pushes back. */
  pause(): void {
    if (this.#paused || this.#phase === 'closed') return
    this.#paused = true
    this.socket.pause()
  }

  resume(): void {
    if (!this.#paused) return
    this.#paused = false
    // Silence while paused was ours: the edge could not get a heartbeat through.
    this.#lastReceived = performance.now()
    if (this.#phase !== 'closed') this.socket.resume()
  }

  /** Writes a control message (after the handshake). Returns false when the socket is full. */
  send<K extends ControlTypeName>(type: K, body: ControlBodies[K]): boolean {
    if (this.#phase !== 'ready') return false
    return this.#write(encodeControl(type, body))
  }

  /** Resolves when the socket can take more (not `writableNeedDrain`) or is closed. */
  whenWritable(): Promise<void> {
    if (!this.socket.writableNeedDrain || this.#phase === 'closed') return Promise.resolve()
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done)
        this.socket.off('close', done)
        resolve()
      }
      this.socket.on('drain', done)
      this.socket.on('close', done)
    })
  }

  /** Writes a TRANSMIT; `onResult` gets the edge's TRANSMIT_RESULT, or null if the link drops. */
  transmit(
    requestId: number,
    channel: number,
    frame: TxFrame,
    ttlMs: number | undefined,
    onResult: TransmitCallback,
  ): void {
    const bytes = encodeControl(
      'TRANSMIT',
      ttlMs === undefined ? { requestId, channel, frame } : { requestId, channel, frame, ttlMs },
    )
    if (this.#phase !== 'ready') {
      onResult(null)
      return
    }
    this.#pending.set(requestId, onResult)
    this.#write(bytes)
  }

  /** Frames of channel `index` became safe to free (a store confirmed them): ACK them soon. */
  acknowledge(index: number): void {
    if (this.#phase !== 'ready' || this.#ackMarked[index] !== 0) return
    this.#ackMarked[index] = 1
    this.#ackDue.push(index)
    this.#scheduleAcks()
  }

  /** ACK once the reads of this turn are done, and no sooner than ackIntervalMs after the last. */
  #scheduleAcks(): void {
    if (this.#ackTimer !== undefined) return
    const wait = this.#lastAckAt + this.#host.ackIntervalMs - performance.now()
    this.#ackTimer =
      wait > 0
        ? { timeout: setTimeout(this.#flushAcksLater, wait) }
        : { immediate: setImmediate(this.#flushAcksLater) }
  }

  /** Forgets a TRANSMIT whose sender gave up (timeout). */
  forgetTransmit(requestId: number): void {
    this.#pending.delete(requestId)
  }

  /**
   * Closes the connection once; `reason` goes to the log and to 'edgeDisconnected'. With an
   * error, the edge is told (ERROR, fatal) when the handshake got that far.
   */
  close(reason: string, error?: Error): void {
    if (this.#phase === 'closed') return
    const wasReady = this.#phase === 'ready'
    this.#phase = 'closed'
    this.#closeReason = reason
    clearTimeout(this.#handshakeTimer)
    clearInterval(this.#heartbeatTimer)
    const ackTimer = this.#ackTimer
    if (ackTimer !== undefined) {
      if ('timeout' in ackTimer) clearTimeout(ackTimer.timeout)
      else clearImmediate(ackTimer.immediate)
    }
    clearImmediate(this.#silenceCheck)
    // Frames already queued are acknowledged before the connection goes.
    if (wasReady) this.#flushAcks()
    // ERROR once the edge has said HELLO: before that it may not even speak our protocol.
    if (error !== undefined && (wasReady || this.#helloReceived) && this.socket.writable) {
      const code = 'code' in error && typeof error.code === 'string' ? error.code : error.name
      this.socket.write(
        encodeControl('ERROR', { code, message: error.message.slice(0, 4096), fatal: true }),
      )
    }
    if (!this.socket.destroyed) {
      this.socket.end()
      // a stranger that does not read gets less time to hold its slot than an edge
      setTimeout(() => this.socket.destroy(), wasReady ? CLOSE_GRACE_MS : REFUSE_GRACE_MS).unref()
    }
    const pending = [...this.#pending.values()]
    this.#pending.clear()
    for (const onResult of pending) onResult(null)
    const fields = this.#logFields(error)
    if (!wasReady) {
      // Strangers (scanners, floods, failed logins) are logged at a bounded rate.
      this.#host.refused(
        String(fields['code'] ?? 'CLOSED'),
        fields,
        `refused connection from ${this.peer}: ${reason}`,
      )
    } else if (error !== undefined && !isQuiet(error)) {
      this.#host.logger.warn(fields, `closing edge connection from ${this.peer}: ${reason}`)
    } else {
      this.#host.logger.info(fields, `edge connection from ${this.peer} closed: ${reason}`)
    }
    this.#host.closed(this, reason, error)
  }

  #fail(error: Error): void {
    this.close(error.message, error)
  }

  #write(bytes: Uint8Array): boolean {
    if (this.socket.destroyed || !this.socket.writable) return false
    this.#lastSent = performance.now()
    const accepted = this.socket.write(bytes)
    if (!accepted && this.socket.writableLength > this.#host.maxQueuedBytes) {
      const queued = this.socket.writableLength
      queueMicrotask(() =>
        this.#fail(
          new EdgeSessionError(
            'SLOW_PEER',
            `${queued} bytes queued for an edge that does not read (limit ${this.#host.maxQueuedBytes})`,
          ),
        ),
      )
    }
    return accepted
  }

  #onData(chunk: Buffer): void {
    if (this.#phase === 'closed') return
    this.#lastReceived = performance.now()
    try {
      this.#decoder.write(chunk, this.#onMessage)
    } catch (error) {
      // Frames decoded before the bad input are queued: acknowledge them, then close.
      this.#flushAcks()
      if (error instanceof ProtocolError || error instanceof EdgeSessionError) {
        this.#fail(error)
        return
      }
      // A fault of ours while handling this edge's input: close this connection only, loudly.
      this.#host.logger.error(
        { peer: this.peer, error: String(error) },
        'internal error while handling edge input',
      )
      this.close('internal error', error instanceof Error ? error : new Error(String(error)))
      return
    }
    // ACK once the reads of this turn of the event loop are done (the application gets the
    // frames first): one ACK per channel however many reads the turn brought.
    if (this.#ackDue.length > 0) this.#scheduleAcks()
  }

  #onEnd(): void {
    if (this.#phase === 'closed') return
    try {
      this.#decoder.end()
    } catch (error) {
      if (error instanceof ProtocolError) {
        this.#fail(error)
        return
      }
      throw error
    }
    this.#edgeLeft('the edge closed the connection')
  }

  /** The edge hung up; at the token challenge that means its token is not the bus's. */
  #edgeLeft(reason: string): void {
    if (this.#phase === 'authenticating' && this.#exchange !== undefined) {
      this.#fail(new EdgeSessionError('AUTH_FAILED', this.#exchange.leftReason()))
      return
    }
    this.close(reason)
  }

  #onSocketError(error: NodeJS.ErrnoException): void {
    if (this.#phase === 'closed') return
    this.close(describeSocketError(error, this.peer), error)
  }

  #handle(message: DecodedMessage): void {
    if (this.#phase === 'closed') return
    if (this.#phase === 'handshake') {
      if (message.type !== 'HELLO') {
        throw new EdgeSessionError('UNEXPECTED_MESSAGE', `${message.type} before HELLO`)
      }
      this.#helloReceived = true
      this.#hello = message.body
      this.#exchange = this.#host.authenticator.start(message.body, this.socket)
      if (this.#exchange === undefined) {
        this.#admit(message.body)
      } else {
        this.#phase = 'authenticating'
        this.#write(encodeControl('AUTH_CHALLENGE', this.#exchange.challenge))
      }
      return
    }
    if (this.#phase === 'admitting') {
      throw new EdgeSessionError('UNEXPECTED_MESSAGE', `${message.type} before WELCOME`)
    }
    if (this.#phase === 'authenticating') {
      if (message.type !== 'AUTH_RESPONSE') {
        throw new EdgeSessionError('UNEXPECTED_MESSAGE', `${message.type} before AUTH_RESPONSE`)
      }
      if (!this.#exchange!.accepts(message.body)) {
        throw new EdgeSessionError(
          'AUTH_FAILED',
          `the token proof of edge ${JSON.stringify(this.#hello!.edgeId)} did not match (a wrong token, or an edge this server does not know)`,
        )
      }
      this.#exchange = undefined
      this.#admit(this.#hello!)
      return
    }
    switch (message.type) {
      case 'DATA': {
        const channel = this.#channel(message.batch.channel, 'DATA')
        this.#host.data(this, channel, message.batch)
        const index = message.batch.channel
        if (this.#ackMarked[index] === 0) {
          this.#ackMarked[index] = 1
          this.#ackDue.push(index)
        }
        return
      }
      case 'TRANSMIT_RESULT': {
        const onResult = this.#pending.get(message.body.requestId)
        if (onResult === undefined) {
          this.#host.logger.debug(
            { peer: this.peer, requestId: message.body.requestId },
            'TRANSMIT_RESULT for a request no longer waiting (timed out)',
          )
          return
        }
        this.#pending.delete(message.body.requestId)
        onResult(message.body)
        return
      }
      case 'HELLO':
        throw new EdgeSessionError('UNEXPECTED_MESSAGE', 'a second HELLO')
      case 'DROPS':
      case 'BUS_STATE':
        this.#channel(message.body.channel, message.type)
        this.#host.control(this, message)
        return
      case 'STATS':
        for (const entry of message.body.channels) this.#channel(entry.channel, 'STATS')
        this.#host.control(this, message)
        return
      case 'ERROR':
        this.#host.control(this, message)
        if (message.body.fatal) {
          throw new EdgeSessionError(
            'EDGE_FATAL_ERROR',
            `the edge reported ${message.body.code}: ${message.body.message}`,
          )
        }
        return
      case 'HEARTBEAT':
        return
      default:
        // The decoder refuses server-to-edge types; anything else here is a new type.
        throw new EdgeSessionError('UNEXPECTED_MESSAGE', `${message.type} from an edge`)
    }
  }

  #admit(hello: Hello): void {
    const admission = this.#host.admit(this, hello)
    if (!(admission instanceof Promise)) {
      this.#welcome(hello, admission)
      return
    }
    // where the edge resumes is being looked up: it waits for WELCOME, so must we
    this.#phase = 'admitting'
    admission.then(
      (admitted) => {
        if (this.#phase === 'admitting') this.#welcome(hello, admitted)
      },
      (error: unknown) => {
        if (this.#phase === 'closed') return
        this.#fail(
          error instanceof EdgeSessionError
            ? error
            : new EdgeSessionError(
                'ADMIT_FAILED',
                `cannot admit the edge now: ${(error as Error).message}`,
              ),
        )
      },
    )
  }

  #welcome(hello: Hello, { channels, welcome }: Admission): void {
    this.#hello = hello
    this.#decoder.maxMessageBytes = this.#host.maxMessageBytes
    this.#channels = channels
    this.#ackMarked = new Uint8Array(channels.length)
    this.#info = {
      edgeId: hello.edgeId,
      instanceId: hello.instanceId,
      software: hello.software,
      capabilities: Object.freeze([...hello.capabilities]),
      channels: Object.freeze(channels.map((c) => c.name)),
      peer: this.peer,
      connectedAt: Date.now(),
    }
    clearTimeout(this.#handshakeTimer)
    // WELCOME leaves with what ready() sends, after it: once the edge has its WELCOME, the
    // bus (even one in a worker thread, which posts its event in ready()) knows the edge
    this.socket.cork()
    try {
      this.#write(encodeControl('WELCOME', welcome))
      this.#phase = 'ready'
      const interval = Math.max(10, Math.floor(this.#host.heartbeatMs / 2))
      this.#heartbeatTimer = setInterval(() => this.#heartbeat(), interval)
      this.#heartbeatTimer.unref()
      this.#host.ready(this)
    } finally {
      this.socket.uncork()
    }
  }

  #channel(index: number, type: string): ChannelTracker {
    const channel = this.#channels[index]
    if (channel === undefined) {
      throw new EdgeSessionError(
        'BAD_CHANNEL',
        `${type} names channel ${index}, the edge offered ${this.#channels.length}`,
      )
    }
    return channel
  }

  #flushAcks(): void {
    const due = this.#ackDue
    if (due.length === 0 || !this.socket.writable) return
    for (const index of due) {
      this.#ackMarked[index] = 0
      const nextSeq = this.#channels[index]!.ackSeq
      if (nextSeq !== null) this.#write(encodeControl('ACK', { channel: index, nextSeq }))
    }
    due.length = 0
    this.#lastAckAt = performance.now()
  }

  #heartbeat(): void {
    if (this.#phase !== 'ready') return
    const now = performance.now()
    const heartbeatMs = this.#host.heartbeatMs
    if (!this.#paused && now - this.#lastReceived >= 3 * heartbeatMs) {
      // Confirm after this turn's reads: when this process itself was stalled, the edge's
      // bytes wait unread in the socket, and timers run before reads.
      this.#silenceCheck ??= setImmediate(() => {
        this.#silenceCheck = undefined
        const silent = performance.now() - this.#lastReceived
        if (this.#phase !== 'ready' || this.#paused || silent < 3 * heartbeatMs) return
        this.#fail(
          new EdgeSessionError(
            'HEARTBEAT_TIMEOUT',
            `nothing received for ${Math.round(silent)} ms (3 heartbeats)`,
          ),
        )
      })
      return
    }
    if (now - this.#lastSent >= heartbeatMs) {
      this.#write(encodeControl('HEARTBEAT', { timeMs: Date.now() }))
    }
  }

  #logFields(error: Error | undefined): Record<string, unknown> {
    const fields: Record<string, unknown> = { peer: this.peer }
    if (this.#hello) fields['edgeId'] = this.#hello.edgeId
    if (error instanceof ProtocolError) {
      fields['code'] = error.code
      if (error.typeCode !== undefined)
        fields['type'] = `0x${error.typeCode.toString(16).padStart(2, '0')}`
      if (error.offset !== undefined) fields['offset'] = error.offset
    } else if (error instanceof EdgeSessionError) {
      fields['code'] = error.code
    } else if (error !== undefined) {
      const code = (error as NodeJS.ErrnoException).code
      fields['code'] = code ?? error.name
    }
    return fields
  }
}

function describeSocketError(error: NodeJS.ErrnoException, peer: string): string {
  const tls = error as NodeJS.ErrnoException & { library?: string; reason?: string }
  if (tls.code?.startsWith('ERR_SSL') || tls.library === 'SSL routines') {
    return describeTlsFailure(tls, peer)
  }
  return `socket error: ${error.code ?? error.message}`
}

function isQuiet(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code
  return code !== undefined && QUIET_SOCKET_ERRORS.has(code)
}
