// TCPBus: listens for edges (TCP, TLS or a Unix socket), authenticates them, keeps
// per-channel sequence state across their reconnects, feeds one bounded receive queue with
// backpressure, and sends through per-channel workers. A misbehaving or hostile connection
// is closed alone, at a bounded cost; the bus carries on.
import { unlink } from 'node:fs/promises'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { hostname } from 'node:os'
import type { TLSSocket } from 'node:tls'
import {
  BATCH_HEADER_BYTES,
  type BusStateName,
  type ControlMessage,
  type DataBatch,
  EDGE_CAPABILITY,
  FRAME_FLAG,
  type Hello,
  MAX_MESSAGE_BYTES,
  RECORD_HEADER_BYTES,
  type Welcome,
} from '@canbridge/protocol'
import { BUS_STATE_SEVERITY, type SendOptions } from './bus.ts'
import { type ChannelStats, ChannelTracker } from './channel-tracker.ts'
import { type EdgeInfo, EdgeSession, EdgeSessionError, type SessionHost } from './edge-session.ts'
import { CanInitializationError, CanOperationError, CanTimeoutError } from './errors.ts'
import { type CanFilter, toWireFilters } from './filters.ts'
import { type Logger, stderrLogger } from './logger.ts'
import { CanMessage } from './message.ts'
import type { PeriodicTask } from './periodic-task.ts'
import { QueueBackedBus } from './queue-backed-bus.ts'
import { ReceiveQueue } from './receive-queue.ts'
import { EdgeAuthenticator } from './security/edge-authenticator.ts'
import { isLoopbackHost } from './security/exposure.ts'
import { PeerAllowList } from './security/peer-allow-list.ts'
import { RefusalLog } from './security/refusal-log.ts'
import {
  type EdgeAuthOptions,
  loadServerSecurity,
  type ServerSecurity,
  type TlsServerOptions,
} from './security/server-security.ts'
import { type HoldOptions, SendWorker } from './send-worker.ts'

export interface TCPBusOptions {
  /** TCP port to listen on (0 picks a free one; see `address`) */
  port?: number | undefined
  /**
   * address to bind; default `127.0.0.1` (this machine only). Any address other machines can
   * reach needs authentication (`auth` or `tls.clientCaFile`) or `insecure: true`.
   */
  host?: string | undefined
  /** TLS 1.3 on the link; with `clientCaFile`, edges must present a certificate from that CA */
  tls?: TlsServerOptions | undefined
  /** edges must prove their token (PROTOCOL.md §5.13) */
  auth?: EdgeAuthOptions | undefined
  /** accept unauthenticated edges on a non-loopback address: lab networks only, logged loudly */
  insecure?: boolean | undefined
  /** peer addresses or CIDR blocks allowed to connect; others are closed at once */
  allowedPeers?: readonly string[] | undefined
  /** edges connected at once (default 64); one more is refused with TOO_MANY_EDGES */
  maxEdges?: number | undefined
  /** connections still in their handshake at once (default 64); more are closed at once */
  maxHandshakes?: number | undefined
  /**
   * connections in their handshake at once from one address (default 8): one host cannot
   * take every handshake slot, nor make the server do more than this many TLS handshakes
   */
  maxHandshakesPerAddress?: number | undefined
  /** bytes queued for an edge that does not read before it is disconnected (default 16 MiB) */
  maxQueuedBytes?: number | undefined
  /** listen on this Unix socket instead of TCP (a stale socket file is replaced) */
  path?: string | undefined
  /** the name sent in WELCOME; default: the host name */
  serverId?: string | undefined
  /** heartbeat interval both ends use (100..60000, default 1000); 3 silent intervals close */
  heartbeatMs?: number | undefined
  /** a connection that has not sent preamble and HELLO by then is closed (default 5000) */
  handshakeTimeoutMs?: number | undefined
  /** frames the receive queue holds before edges are paused (default 65536) */
  receiveQueueFrames?: number | undefined
  /** deliver frames this bus sent, with `isRx` false (asks edges for echoes) */
  receiveOwnMessages?: boolean | undefined
  /** hold sends while a channel's edge is away instead of failing at once */
  queueWhileDisconnected?: { ttlMs: number; maxFrames?: number | undefined } | undefined
  /** default `send` timeout waiting for the edge's result (default 1000) */
  sendTimeoutMs?: number | undefined
  /** initial receive filters */
  canFilters?: readonly CanFilter[] | null | undefined
  /** largest message accepted from an edge (default and ceiling 1 MiB) */
  maxMessageBytes?: number | undefined
  /** pino-shaped logger; default: warnings and errors to stderr */
  logger?: Logger | undefined
}

export type TCPBusAddress = { port: number; host: string } | { path: string }

export interface WaitForEdgeOptions {
  /** give up after this long with a CanTimeoutError (default 30000) */
  timeoutMs?: number | undefined
  /** wait for this edge; default: any */
  edgeId?: string | undefined
  signal?: AbortSignal | undefined
}

export interface GapEvent {
  channel: string
  /** the sequence number the server expected */
  expectedSeq: number
  /** the first sequence number that arrived instead */
  firstSeq: number
  /** frames missing */
  missing: number
  /**
   * frames of it not counted lost before: less than `missing` when the edge reported (some
   * of) them in a DROPS already. Sum this, and `DropsEvent.newlyLost`, to count each loss once
   */
  newlyLost: number
}

/**
 * Frames the edge reports lost: one event per range counted. A report the edge resends
 * after a reconnect (the same range) counts once and emits nothing the second time.
 */
export interface DropsEvent {
  channel: string
  count: number
  reason: string
  fromSeq: number | null
  /**
   * frames of it not counted lost before: 0 when a sequence gap (or a report with another
   * reason) already showed them. Sum this, and `GapEvent.newlyLost`, to count each loss once
   */
  newlyLost: number
}

export interface StateChangeEvent {
  channel: string
  state: BusStateName
  previous: BusStateName
}

/** Where a connection came from, for 'edgeError'. */
export interface PeerInfo {
  peer: string
  /** known once the connection sent its HELLO */
  edgeId: string | undefined
}

export interface TCPBusEvents {
  edgeConnected: [edge: EdgeInfo]
  edgeDisconnected: [edge: EdgeInfo, reason: string]
  edgeError: [error: Error, peer: PeerInfo]
  gap: [gap: GapEvent]
  drops: [drops: DropsEvent]
  stateChange: [change: StateChangeEvent]
}

export interface TCPBusStats {
  channels: Record<string, ChannelStats>
  receiveQueue: {
    /** frames waiting now */
    frames: number
    /** the bound (`receiveQueueFrames`) */
    capacity: number
    /** most frames ever queued at once */
    peak: number
    /** edges whose socket is paused for backpressure */
    pausedEdges: number
  }
  /** edges connected now */
  edges: number
  /** connections in their handshake now */
  handshaking: number
  /** connections refused or closed before completing their handshake, by reason */
  refused: Record<string, number>
}

const DEFAULTS = {
  heartbeatMs: 1000,
  handshakeTimeoutMs: 5000,
  receiveQueueFrames: 65_536,
  sendTimeoutMs: 1000,
  heldFrames: 1000,
  waitForEdgeMs: 30_000,
  host: '127.0.0.1',
  maxEdges: 64,
  maxHandshakes: 64,
  maxHandshakesPerAddress: 8,
  maxQueuedBytes: 16 * 1024 * 1024,
}

/** Time given to sockets to flush their last messages at shutdown before they are destroyed. */
const SHUTDOWN_GRACE_MS = 500

/**
 * python-can's BusABC over canbridge edges. Create it with `await TCPBus.listen(options)`.
 */
export class TCPBus extends QueueBackedBus<TCPBusEvents> {
  readonly #server: Server
  readonly #options: TCPBusOptions
  readonly #logger: Logger
  readonly #serverId: string
  readonly #heartbeatMs: number
  readonly #handshakeTimeoutMs: number
  readonly #sendTimeoutMs: number
  readonly #maxMessageBytes: number
  readonly #hold: HoldOptions | undefined
  readonly #queue: ReceiveQueue
  readonly #sessions = new Set<EdgeSession>()
  readonly #edges = new Map<string, EdgeSession>()
  readonly #channels = new Map<string, ChannelTracker>()
  readonly #workers = new Map<string, SendWorker>()
  readonly #paused = new Set<EdgeSession>()
  readonly #edgeWaiters = new Set<() => void>()
  readonly #host: SessionHost
  readonly #security: ServerSecurity
  readonly #authenticator: EdgeAuthenticator
  readonly #allowedPeers: PeerAllowList | undefined
  readonly #maxEdges: number
  readonly #maxHandshakes: number
  readonly #maxHandshakesPerAddress: number
  readonly #maxQueuedBytes: number
  readonly #refusals: RefusalLog
  readonly #insecure: boolean
  /** raw connections not yet through their handshake (TLS and canbridge) */
  readonly #unconnected = new Set<Socket>()
  /** how many of those come from each address */
  readonly #handshakesFrom = new Map<string, number>()
  /** with TLS: the raw socket under each TLS connection, by peer address:port */
  readonly #tlsPeers = new Map<string, Socket>()
  #requestIds = 0
  #address: TCPBusAddress | undefined

  /** Starts listening; rejects with CanInitializationError when that fails. */
  static async listen(options: TCPBusOptions = {}): Promise<TCPBus> {
    const security = await loadServerSecurity(options.tls, options.auth)
    const bus = new TCPBus(options, security)
    await bus.#listen()
    return bus
  }

  private constructor(options: TCPBusOptions, security: ServerSecurity) {
    super()
    this.#options = options
    this.#logger = options.logger ?? stderrLogger
    this.#security = security
    this.#authenticator = new EdgeAuthenticator(security)
    this.#refusals = new RefusalLog(this.#logger)
    this.#insecure = options.insecure === true
    this.#allowedPeers =
      options.allowedPeers === undefined ? undefined : new PeerAllowList(options.allowedPeers)
    this.#maxEdges = integerOption(options.maxEdges, DEFAULTS.maxEdges, 1, 65_535, 'maxEdges')
    this.#maxHandshakes = integerOption(
      options.maxHandshakes,
      DEFAULTS.maxHandshakes,
      1,
      65_535,
      'maxHandshakes',
    )
    this.#maxHandshakesPerAddress = integerOption(
      options.maxHandshakesPerAddress,
      DEFAULTS.maxHandshakesPerAddress,
      1,
      65_535,
      'maxHandshakesPerAddress',
    )
    this.#maxQueuedBytes = integerOption(
      options.maxQueuedBytes,
      DEFAULTS.maxQueuedBytes,
      65_536,
      2 ** 31 - 1,
      'maxQueuedBytes',
    )
    this.#serverId = options.serverId ?? hostname()
    this.#heartbeatMs = integerOption(
      options.heartbeatMs,
      DEFAULTS.heartbeatMs,
      100,
      60_000,
      'heartbeatMs',
    )
    this.#handshakeTimeoutMs = integerOption(
      options.handshakeTimeoutMs,
      DEFAULTS.handshakeTimeoutMs,
      1,
      3_600_000,
      'handshakeTimeoutMs',
    )
    this.#sendTimeoutMs = integerOption(
      options.sendTimeoutMs,
      DEFAULTS.sendTimeoutMs,
      1,
      2 ** 31 - 1,
      'sendTimeoutMs',
    )
    this.#maxMessageBytes = integerOption(
      options.maxMessageBytes,
      MAX_MESSAGE_BYTES,
      1024,
      MAX_MESSAGE_BYTES,
      'maxMessageBytes',
    )
    const capacity = integerOption(
      options.receiveQueueFrames,
      DEFAULTS.receiveQueueFrames,
      1,
      2 ** 31 - 1,
      'receiveQueueFrames',
    )
    const hold = options.queueWhileDisconnected
    if (hold !== undefined) {
      this.#hold = {
        ttlMs: integerOption(hold.ttlMs, undefined, 1, 2 ** 31 - 1, 'queueWhileDisconnected.ttlMs'),
        maxFrames: integerOption(
          hold.maxFrames,
          DEFAULTS.heldFrames,
          1,
          2 ** 31 - 1,
          'queueWhileDisconnected.maxFrames',
        ),
      }
    }
    if (options.path === undefined && options.port === undefined) {
      throw new TypeError('TCPBus needs a port (0 for any free one) or a Unix socket path')
    }
    if (options.path !== undefined && options.port !== undefined) {
      throw new TypeError('give either port or path, not both')
    }
    if (options.path !== undefined && security.tls !== undefined) {
      throw new TypeError('tls is for TCP; a Unix socket is protected by its file permissions')
    }
    this.#checkExposure()
    this.#queue = new ReceiveQueue({ capacity, onDrain: () => this.#resumeEdges() })
    this.#queue.ownMessages = options.receiveOwnMessages ?? false
    this.filteredInternally = true
    this.#host = this.#sessionHost()
    this.#server = this.#createServer()
    this.setFilters(options.canFilters ?? null)
  }

  /** Where the bus listens (the actual port when 0 was asked). */
  get address(): TCPBusAddress {
    if (this.#address === undefined) throw new CanOperationError('the bus is not listening')
    return this.#address
  }

  /** Every channel seen so far (connected or not), `edgeId/interface`. */
  get channels(): string[] {
    return [...this.#channels.keys()]
  }

  /** The edges connected now. */
  get edges(): EdgeInfo[] {
    return [...this.#edges.values()].map((session) => session.info!)
  }

  /** The worst state across the channels of connected edges ('active' with none). */
  get state(): BusStateName {
    let worst: BusStateName = 'active'
    for (const channel of this.#channels.values()) {
      if (channel.connected && BUS_STATE_SEVERITY[channel.state] > BUS_STATE_SEVERITY[worst]) {
        worst = channel.state
      }
    }
    return worst
  }

  /** The last state the edge reported for one channel. */
  channelState(channel: string): BusStateName {
    const tracker = this.#channels.get(channel)
    if (tracker === undefined) throw new RangeError(`unknown channel ${JSON.stringify(channel)}`)
    return tracker.state
  }

  /** Counters per channel and of the receive queue. */
  stats(): TCPBusStats {
    const channels: Record<string, ChannelStats> = {}
    for (const [name, tracker] of this.#channels) {
      channels[name] = tracker.snapshot(this.#workers.get(name)?.outstanding ?? 0)
    }
    return {
      channels,
      receiveQueue: {
        frames: this.#queue.size,
        capacity: this.#queue.capacity,
        peak: this.#queue.peak,
        pausedEdges: this.#paused.size,
      },
      edges: this.#edges.size,
      handshaking: this.#unconnected.size,
      refused: Object.fromEntries(this.#refusals.totals),
    }
  }

  /**
   * Resolves with an edge once one has completed its handshake (at once if one is
   * connected); rejects with CanTimeoutError after `timeoutMs`.
   */
  waitForEdge(options: WaitForEdgeOptions = {}): Promise<EdgeInfo> {
    const timeoutMs = options.timeoutMs ?? DEFAULTS.waitForEdgeMs
    const find = (): EdgeInfo | undefined => {
      if (options.edgeId !== undefined) return this.#edges.get(options.edgeId)?.info
      return this.#edges.values().next().value?.info
    }
    const found = find()
    if (found !== undefined) return Promise.resolve(found)
    if (this.isShutdown) {
      return Promise.reject(new CanOperationError('the bus is shut down', { reason: 'shutdown' }))
    }
    return new Promise<EdgeInfo>((resolve, reject) => {
      const finish = (error?: Error, edge?: EdgeInfo) => {
        clearTimeout(timer)
        this.#edgeWaiters.delete(check)
        options.signal?.removeEventListener('abort', onAbort)
        if (error) reject(error)
        else resolve(edge!)
      }
      const check = () => {
        if (this.isShutdown) {
          finish(new CanOperationError('the bus is shut down', { reason: 'shutdown' }))
          return
        }
        const edge = find()
        if (edge !== undefined) finish(undefined, edge)
      }
      const onAbort = () => finish(options.signal?.reason ?? new Error('aborted'))
      const what =
        options.edgeId === undefined ? 'no edge' : `edge ${JSON.stringify(options.edgeId)} not`
      const timer = setTimeout(
        () => finish(new CanTimeoutError(`${what} connected within ${timeoutMs} ms`)),
        timeoutMs,
      )
      options.signal?.addEventListener('abort', onAbort, { once: true })
      this.#edgeWaiters.add(check)
    })
  }

  override async send(message: CanMessage, options: SendOptions = {}): Promise<void> {
    if (!(message instanceof CanMessage)) throw new TypeError('send() takes a CanMessage')
    if (this.isShutdown) {
      throw new CanOperationError('the bus is shut down', { reason: 'shutdown' })
    }
    const timeoutMs = options.timeoutMs ?? this.#sendTimeoutMs
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) {
      throw new RangeError(`timeoutMs must be a number > 0, got ${String(timeoutMs)}`)
    }
    const channel = this.resolveChannel(options.channel, message.channel)
    const worker = this.#workerFor(channel)
    if (worker === undefined) {
      throw new CanOperationError(
        `send on ${channel} failed: not-connected (no edge has offered this channel)`,
        {
          reason: 'not-connected',
          channel,
        },
      )
    }
    // The frame is copied here: the caller's message is never touched, now or later.
    return worker.send(message.toTxFrame(), timeoutMs)
  }

  protected override get receiveQueue(): ReceiveQueue {
    return this.#queue
  }

  protected override applyFilters(filters: readonly CanFilter[] | null): void {
    super.applyFilters(filters)
    for (const session of this.#edges.values()) this.#pushFilters(session)
  }

  protected override resolveChannel(
    requested: string | undefined,
    ofMessage: string | null,
  ): string {
    const channel = requested ?? ofMessage ?? undefined
    if (channel !== undefined) {
      if (typeof channel !== 'string' || !channel.includes('/')) {
        throw new RangeError(`channel must be "edgeId/interface", got ${JSON.stringify(channel)}`)
      }
      return channel
    }
    if (this.#channels.size === 1) return this.#channels.keys().next().value!
    if (this.#channels.size === 0) {
      throw new CanOperationError('no channel given and no edge has connected yet', {
        reason: 'not-connected',
      })
    }
    throw new CanOperationError(
      `no channel given and the bus has ${this.#channels.size} (${this.channels.join(', ')}): pass { channel } or set message.channel`,
    )
  }

  protected override startPeriodicInternal(task: PeriodicTask): void {
    const link = this.#linkOf(task.channel)
    if (link !== undefined) this.#sendPeriodicStart(link.session, link.index, task)
  }

  protected override modifyPeriodicInternal(task: PeriodicTask): void {
    const link = this.#linkOf(task.channel)
    link?.session.send('PERIODIC_MODIFY', { taskId: task.taskId, frames: task.frames })
  }

  protected override stopPeriodicInternal(task: PeriodicTask): void {
    const link = this.#linkOf(task.channel)
    link?.session.send('PERIODIC_STOP', { taskId: task.taskId })
  }

  protected override async shutdownInternal(): Promise<void> {
    this.#refusals.close()
    this.#queue.close()
    for (const worker of this.#workers.values()) worker.close()
    for (const check of [...this.#edgeWaiters]) check()
    const serverClosed = new Promise<void>((resolve) => this.#server.close(() => resolve()))
    const sockets = [...this.#sessions].map((session) => {
      const closed = new Promise<void>((resolve) => {
        if (session.socket.destroyed) resolve()
        else session.socket.once('close', () => resolve())
      })
      session.close('the bus is shutting down')
      return closed
    })
    const grace = setTimeout(() => {
      for (const session of this.#sessions) session.socket.destroy()
    }, SHUTDOWN_GRACE_MS)
    await Promise.all([serverClosed, ...sockets])
    clearTimeout(grace)
  }

  async #listen(): Promise<void> {
    const { path, port, host } = this.#options
    try {
      if (path !== undefined) {
        try {
          await listenOn(this.#server, { path })
        } catch (error) {
          if (
            (error as NodeJS.ErrnoException).code !== 'EADDRINUSE' ||
            !(await isStaleSocket(path))
          ) {
            throw error
          }
          this.#logger.info({ path }, 'replacing a stale Unix socket file')
          await unlink(path)
          await listenOn(this.#server, { path })
        }
        this.#address = { path }
      } else {
        await listenOn(this.#server, { port, host: host ?? DEFAULTS.host })
        const address = this.#server.address()
        if (address === null || typeof address === 'string') throw new Error('no TCP address')
        this.#address = { port: address.port, host: address.address }
      }
    } catch (error) {
      const where = path ?? `${host ?? '*'}:${port}`
      throw new CanInitializationError(`cannot listen on ${where}: ${(error as Error).message}`, {
        cause: error,
      })
    }
    const address = this.#address
    this.channelInfo =
      'path' in address ? `TCPBus on ${address.path}` : `TCPBus on port ${address.port}`
  }

  #createServer(): Server {
    const tls = this.#security.tls
    if (tls === undefined) {
      return createServer({ noDelay: true }, (socket) => {
        if (this.#admitConnection(socket)) this.#startSession(socket)
      })
    }
    // node:tls (and OpenSSL) only when TLS is asked for: see @canbridge/protocol's auth.ts
    const server = process.getBuiltinModule('node:tls').createServer(
      {
        ...tls,
        minVersion: 'TLSv1.3',
        requestCert: this.#security.clientCertificates,
        // checked in #startSession instead, so that a refused certificate is logged with why
        rejectUnauthorized: false,
        handshakeTimeout: this.#handshakeTimeoutMs,
        noDelay: true,
      },
      (socket) => this.#startSession(socket),
    )
    // Runs before the TLS handshake: a refused peer costs no public-key operation.
    server.prependListener('connection', (raw: Socket) => {
      if (!this.#admitConnection(raw)) raw.destroy()
    })
    server.on('tlsClientError', (error: NodeJS.ErrnoException, socket) => {
      const peer = peerOf(socket, this.#options.path)
      // refused before the handshake (already logged), or gone already
      if (!this.#tlsPeers.has(peer)) return
      this.#refusals.refused(
        'TLS_FAILED',
        { peer, code: 'TLS_FAILED', error: error.code ?? error.message },
        `refused connection from ${peer}: TLS handshake failed (${error.message}): an edge without TLS, or with a certificate this server does not trust`,
      )
    })
    return server
  }

  /** The cheap checks, on the raw socket: peer address and the bound on open handshakes. */
  #admitConnection(raw: Socket): boolean {
    const peer = peerOf(raw, this.#options.path)
    if (this.isShutdown) {
      raw.destroy()
      return false
    }
    if (this.#allowedPeers !== undefined && this.#options.path === undefined) {
      if (!this.#allowedPeers.allows(raw.remoteAddress)) {
        this.#refuse(raw, peer, 'PEER_NOT_ALLOWED', 'address not in allowedPeers')
        return false
      }
    }
    if (this.#unconnected.size >= this.#maxHandshakes) {
      this.#refuse(
        raw,
        peer,
        'TOO_MANY_HANDSHAKES',
        `${this.#maxHandshakes} connections are already in their handshake (maxHandshakes)`,
      )
      return false
    }
    const address = raw.remoteAddress ?? 'unix'
    const fromAddress = this.#handshakesFrom.get(address) ?? 0
    if (fromAddress >= this.#maxHandshakesPerAddress) {
      this.#refuse(
        raw,
        peer,
        'TOO_MANY_HANDSHAKES_FROM_ADDRESS',
        `${this.#maxHandshakesPerAddress} connections from ${address} are already in their handshake (maxHandshakesPerAddress)`,
      )
      return false
    }
    this.#unconnected.add(raw)
    this.#handshakesFrom.set(address, fromAddress + 1)
    if (this.#security.tls !== undefined) this.#tlsPeers.set(peer, raw)
    raw.once('close', () => {
      this.#handshakeDone(raw)
      // after this turn: a 'tlsClientError' of the same close still finds the peer
      setImmediate(() => {
        if (this.#tlsPeers.get(peer) === raw) this.#tlsPeers.delete(peer)
      })
    })
    return true
  }

  #startSession(socket: Socket): void {
    if (this.#security.clientCertificates && !(socket as TLSSocket).authorized) {
      const why = String((socket as TLSSocket).authorizationError ?? 'none given')
      const peer = peerOf(socket, this.#options.path)
      this.#tlsPeers.delete(peer)
      socket.destroy()
      this.#refusals.refused(
        'TLS_FAILED',
        { peer, code: 'TLS_FAILED', error: why },
        `refused connection from ${peer}: client certificate refused: ${why}`,
      )
      return
    }
    const session = new EdgeSession(socket, peerOf(socket, this.#options.path), this.#host)
    this.#sessions.add(session)
  }

  /** A connection that completed its handshake no longer counts against maxHandshakes. */
  #connected(session: EdgeSession): void {
    if (this.#handshakeDone(session.socket)) return
    const raw = this.#tlsPeers.get(session.peer)
    if (raw !== undefined) this.#handshakeDone(raw)
  }

  /** Releases a raw connection's handshake slots, once; false when it held none. */
  #handshakeDone(raw: Socket): boolean {
    if (!this.#unconnected.delete(raw)) return false
    const address = raw.remoteAddress ?? 'unix'
    const left = (this.#handshakesFrom.get(address) ?? 1) - 1
    if (left > 0) this.#handshakesFrom.set(address, left)
    else this.#handshakesFrom.delete(address)
    return true
  }

  #refuse(raw: Socket, peer: string, code: string, why: string): void {
    raw.destroy()
    this.#refusals.refused(code, { peer, code }, `refused connection from ${peer}: ${why}`)
  }

  /** Listening where others can connect, with nothing to tell edges from strangers, is refused. */
  #checkExposure(): void {
    if (this.#options.path !== undefined) return
    const host = this.#options.host ?? DEFAULTS.host
    if (isLoopbackHost(host)) return
    if (!this.#authenticator.authenticates) {
      if (!this.#insecure) {
        throw new CanInitializationError(
          `listening on ${host} without authentication would let anyone who reaches this port read and write your CAN buses: give auth (edge tokens) and/or tls.clientCaFile (see "canbridge keys init"), or insecure: true on a closed lab network`,
        )
      }
      this.#logger.warn(
        { host, insecure: true },
        `INSECURE: listening on ${host} without authentication; anyone who reaches this port can read and write the buses of every edge`,
      )
    } else if (this.#security.tls === undefined) {
      this.#logger.warn(
        { host },
        `edges authenticate with tokens but the link is not encrypted (no tls): traffic on ${host} can be read and altered by anyone on the path`,
      )
    }
  }

  #sessionHost(): SessionHost {
    return {
      heartbeatMs: this.#heartbeatMs,
      handshakeTimeoutMs: this.#handshakeTimeoutMs,
      maxMessageBytes: this.#maxMessageBytes,
      maxQueuedBytes: this.#maxQueuedBytes,
      authenticator: this.#authenticator,
      logger: this.#logger,
      refused: (code, fields, message) => this.#refusals.refused(code, fields, message),
      admit: (session, hello) => this.#admit(session, hello),
      ready: (session) => this.#ready(session),
      data: (session, channel, batch) => this.#data(session, channel, batch),
      control: (session, message) => this.#control(session, message),
      closed: (session, reason, error) => this.#closed(session, reason, error),
    }
  }

  #admit(session: EdgeSession, hello: Hello): { channels: ChannelTracker[]; welcome: Welcome } {
    const names = new Set<string>()
    for (const offer of hello.channels) {
      if (names.has(offer.name)) {
        throw new EdgeSessionError(
          'BAD_HELLO',
          `channel ${JSON.stringify(offer.name)} offered twice`,
        )
      }
      names.add(offer.name)
    }
    const previous = this.#edges.get(hello.edgeId)
    if (previous === undefined && this.#edges.size >= this.#maxEdges) {
      throw new EdgeSessionError(
        'TOO_MANY_EDGES',
        `${this.#maxEdges} edges are connected already (maxEdges)`,
      )
    }
    if (previous !== undefined && previous !== session) {
      // The edge came back before its old connection timed out: the new one wins.
      previous.close(`replaced by a new connection from ${session.peer}`)
    }
    const channels = hello.channels.map((offer) => {
      const tracker = this.#trackerFor(hello.edgeId, offer.name)
      tracker.fd = offer.fd
      tracker.kernelDropsCounted = hello.capabilities.includes(EDGE_CAPABILITY.KERNEL_DROPS)
      return tracker
    })
    const capabilities = this.#queue.ownMessages ? ['own-messages'] : []
    const welcome: Welcome = {
      serverId: this.#serverId.slice(0, 64),
      heartbeatMs: this.#heartbeatMs,
      channels: hello.channels.map((offer, i) => ({
        name: offer.name,
        nextSeq: channels[i]!.nextSeq,
      })),
      capabilities,
    }
    return { channels, welcome }
  }

  #ready(session: EdgeSession): void {
    this.#connected(session)
    const info = session.info!
    this.#edges.set(info.edgeId, session)
    for (const channel of session.channels) channel.connected = true
    this.#pushFilters(session)
    for (const task of this.periodicTasks) {
      const index = session.channels.findIndex((c) => c.name === task.channel)
      if (index !== -1) this.#sendPeriodicStart(session, index, task)
    }
    session.channels.forEach((channel, index) => {
      this.#workers.get(channel.name)?.attach(session, index)
    })
    this.#logger.info(
      {
        peer: session.peer,
        edgeId: info.edgeId,
        instanceId: info.instanceId,
        channels: info.channels,
      },
      `edge ${info.edgeId} connected`,
    )
    if (!info.capabilities.includes(EDGE_CAPABILITY.KERNEL_DROPS)) {
      this.#logger.warn(
        { peer: session.peer, edgeId: info.edgeId, capabilities: info.capabilities },
        `edge ${info.edgeId} cannot count the frames its kernel drops (no kernel-drops capability: an older edge, or one without the patched socketcan binding): such loss shows neither as a gap nor in a drop report`,
      )
    }
    if (this.#insecure && !this.#authenticator.authenticates) {
      this.#logger.warn(
        { peer: session.peer, edgeId: info.edgeId },
        `INSECURE: edge ${info.edgeId} connected without authentication`,
      )
    }
    this.emit('edgeConnected', info)
    for (const check of [...this.#edgeWaiters]) check()
  }

  #data(session: EdgeSession, channel: ChannelTracker, batch: DataBatch): void {
    const expected = channel.nextSeq
    const skip = channel.admit(batch.firstSeq, batch.count)
    if (channel.lastGap > 0) {
      const gap: GapEvent = {
        channel: channel.name,
        expectedSeq: expected!,
        firstSeq: batch.firstSeq,
        missing: channel.lastGap,
        newlyLost: channel.lastGapNewlyLost,
      }
      this.#logger.warn({ ...gap }, `${gap.missing} frames missing on ${channel.name}`)
      this.emit('gap', gap)
    }
    const count = batch.count - skip
    if (count === 0) return
    const bytes = batch.body
    let offset = BATCH_HEADER_BYTES
    for (let i = 0; i < skip; i++) {
      offset +=
        RECORD_HEADER_BYTES + (bytes[offset + 12]! & FRAME_FLAG.RTR ? 0 : bytes[offset + 13]!)
    }
    if (!this.#queue.push(bytes, offset, bytes.length, count, channel)) this.#pause(session)
  }

  #control(session: EdgeSession, message: ControlMessage): void {
    switch (message.type) {
      case 'DROPS': {
        const channel = session.channels[message.body.channel]!
        const { reason, count, fromSeq } = message.body
        const parts = channel.addDrops(reason, count, fromSeq)
        if (parts.length === 0) {
          // a report resent after a reconnect: its range is counted already
          this.#logger.debug(
            { channel: channel.name, count, reason, fromSeq },
            `repeated drop report on ${channel.name} ignored`,
          )
          return
        }
        for (const part of parts) {
          const drops: DropsEvent = {
            channel: channel.name,
            count: part.count,
            reason,
            fromSeq: part.from,
            newlyLost: part.newlyLost,
          }
          this.#logger.warn({ ...drops }, `the edge lost ${drops.count} frames on ${channel.name}`)
          this.emit('drops', drops)
        }
        return
      }
      case 'BUS_STATE': {
        const channel = session.channels[message.body.channel]!
        const previous = channel.state
        channel.state = message.body.state
        if (previous !== channel.state) {
          this.emit('stateChange', { channel: channel.name, state: channel.state, previous })
        }
        return
      }
      case 'STATS':
        for (const entry of message.body.channels) {
          session.channels[entry.channel]!.edgeCounters = entry.counters
        }
        return
      case 'ERROR':
        this.#logger.warn(
          {
            peer: session.peer,
            edgeId: session.edgeId,
            code: message.body.code,
            fatal: message.body.fatal,
          },
          `the edge reported an error: ${message.body.message}`,
        )
        if (!message.body.fatal) {
          const error = new EdgeSessionError(
            'EDGE_ERROR',
            `${message.body.code}: ${message.body.message}`,
          )
          this.emit('edgeError', error, { peer: session.peer, edgeId: session.edgeId })
        }
        return
      default:
        return
    }
  }

  #closed(session: EdgeSession, reason: string, error: Error | undefined): void {
    this.#sessions.delete(session)
    this.#paused.delete(session)
    const info = session.info
    if (info !== undefined && this.#edges.get(info.edgeId) === session) {
      this.#edges.delete(info.edgeId)
      for (const channel of session.channels) {
        channel.connected = false
        this.#workers.get(channel.name)?.detach(session)
      }
    }
    if (error !== undefined) {
      this.emit('edgeError', error, { peer: session.peer, edgeId: session.edgeId })
    }
    if (info !== undefined) this.emit('edgeDisconnected', info, reason)
  }

  #pause(session: EdgeSession): void {
    if (session.paused) return
    session.pause()
    this.#paused.add(session)
    this.#logger.debug(
      { peer: session.peer, queued: this.#queue.size },
      'receive queue full: pausing edge',
    )
  }

  #resumeEdges(): void {
    for (const session of this.#paused) session.resume()
    this.#paused.clear()
  }

  #pushFilters(session: EdgeSession): void {
    session.send('SET_FILTERS', { channel: null, filters: toWireFilters(this.filters) })
  }

  #sendPeriodicStart(session: EdgeSession, index: number, task: PeriodicTask): void {
    const remaining = task.remainingMs()
    if (remaining !== undefined && remaining <= 0) return
    session.send('PERIODIC_START', {
      taskId: task.taskId,
      channel: index,
      frames: task.frames,
      periodMs: task.periodMs,
      ...(remaining === undefined ? {} : { durationMs: remaining }),
    })
  }

  #linkOf(channel: string): { session: EdgeSession; index: number } | undefined {
    const tracker = this.#channels.get(channel)
    if (tracker === undefined || !tracker.connected) return undefined
    const session = this.#edges.get(tracker.edgeId)
    if (session === undefined || !session.ready) return undefined
    const index = session.channels.indexOf(tracker)
    return index === -1 ? undefined : { session, index }
  }

  #trackerFor(edgeId: string, iface: string): ChannelTracker {
    const name = `${edgeId}/${iface}`
    let tracker = this.#channels.get(name)
    if (tracker === undefined) {
      tracker = new ChannelTracker(edgeId, iface)
      this.#channels.set(name, tracker)
    }
    return tracker
  }

  /** The channel's send worker; made on first use for a channel seen or, when holding, named. */
  #workerFor(channel: string): SendWorker | undefined {
    let worker = this.#workers.get(channel)
    if (worker !== undefined) return worker
    let tracker = this.#channels.get(channel)
    if (tracker === undefined) {
      if (this.#hold === undefined) return undefined
      const slash = channel.lastIndexOf('/')
      tracker = this.#trackerFor(channel.slice(0, slash), channel.slice(slash + 1))
    }
    worker = new SendWorker(tracker, () => ++this.#requestIds, this.#hold)
    this.#workers.set(channel, worker)
    const link = this.#linkOf(channel)
    if (link !== undefined) worker.attach(link.session, link.index)
    return worker
  }
}

/** `host:port`, or `unix:<path>` for a Unix-socket peer (which has no address). */
function peerOf(socket: Socket, path: string | undefined): string {
  return socket.remoteAddress === undefined
    ? `unix:${path ?? '?'}`
    : `${socket.remoteAddress}:${socket.remotePort}`
}

function integerOption(
  value: number | undefined,
  fallback: number | undefined,
  min: number,
  max: number,
  name: string,
): number {
  if (value === undefined) {
    if (fallback === undefined) throw new TypeError(`${name} is required`)
    return fallback
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in ${min}..${max}, got ${String(value)}`)
  }
  return value
}

function listenOn(
  server: Server,
  options: { port?: number | undefined; host?: string; path?: string },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      server.off('listening', onListening)
      reject(error)
    }
    const onListening = () => {
      server.off('error', onError)
      resolve()
    }
    server.once('error', onError)
    server.once('listening', onListening)
    server.listen(options)
  })
}

/** True when nothing answers on the socket file (left by a process that died). */
function isStaleSocket(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect({ path })
    probe.once('connect', () => {
      probe.destroy()
      resolve(false)
    })
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'))
  })
}
