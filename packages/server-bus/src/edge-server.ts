// EdgeServer: the link side of TCPBus. Listens for edges (TCP, TLS or a Unix socket),
// authenticates them, keeps per-channel sequence state across their reconnects, hands
// accepted frame records to a receive sink (pausing edges while it is full) and sends
// through per-channel workers. A misbehaving or hostile connection is closed alone, at a
// bounded cost; the server carries on. It runs on the application's thread, or in a worker
// thread with a shared ring as its sink (TCPBus's `worker` option).
import { EventEmitter } from 'node:events'
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
  type Hello,
  recordLengthAt,
  type TxFrame,
  type Welcome,
} from '@canbridge/protocol'
import { BUS_STATE_SEVERITY } from './bus.ts'
import { type ChannelStats, ChannelTracker } from './channel-tracker.ts'
import {
  type Admission,
  type EdgeInfo,
  EdgeSession,
  EdgeSessionError,
  type SessionHost,
} from './edge-session.ts'
import { CanInitializationError, CanOperationError } from './errors.ts'
import { type CanFilter, toWireFilters } from './filters.ts'
import type { Logger } from './logger.ts'
import { READ_BUFFER_BYTES, readIntoBuffer } from './read-buffer-socket.ts'
import { EdgeAuthenticator } from './security/edge-authenticator.ts'
import { isLoopbackHost } from './security/exposure.ts'
import { PeerAllowList } from './security/peer-allow-list.ts'
import { RefusalLog } from './security/refusal-log.ts'
import { loadServerSecurity, type ServerSecurity } from './security/server-security.ts'
import { describeCertificateRefusal, describeTlsFailure } from './security/tls-refusals.ts'
import { SendWorker } from './send-worker.ts'
import type {
  DropsEvent,
  GapEvent,
  TCPBusAddress,
  TCPBusEvents,
  TCPBusStats,
} from './tcp-bus-events.ts'
import type { ResolvedTCPBusOptions } from './tcp-bus-options.ts'

/** Where accepted frame records go: the receive queue, or the ring to the application's thread. */
export interface ReceiveSink {
  /** echoes of own frames are asked for (`receiveOwnMessages`) */
  readonly ownMessages: boolean
  /** frames held now, the bound and the most ever held, for `stats().receiveQueue` */
  readonly size: number
  readonly capacity: number
  readonly peak: number
  /**
   * Takes `count` records, `bytes[start, end)`; false when the sink is now full: the server
   * pauses the edge until `EdgeServer.resumeEdges()`. The bytes are the decoder's and valid
   * only during the call: copy what is kept.
   */
  push(
    bytes: Uint8Array,
    start: number,
    end: number,
    count: number,
    channel: ChannelTracker,
  ): boolean
}

/** A periodic task as the server needs it to (re)start it on an edge. */
export interface PeriodicSpec {
  readonly taskId: number
  readonly channel: string
  readonly frames: readonly TxFrame[]
  readonly periodMs: number
  /** duration left, undefined for a task without one */
  remainingMs(): number | undefined
}

export interface EdgeServerInit {
  options: ResolvedTCPBusOptions
  logger: Logger
  sink: ReceiveSink
  /** the running periodic tasks, started again on each edge that connects */
  periodicTasks: () => Iterable<PeriodicSpec>
  /** the filters in force, pushed to each edge that connects */
  filters: () => readonly CanFilter[] | null
  /**
   * A store that keeps frames beyond this process (the fleet gateway's JetStream): where each
   * channel resumes is read from it before WELCOME, and frames are acknowledged to the edge
   * only when `stored()` says so. Without it, received frames are acknowledged at once.
   */
  durable?: DurableStore
}

export interface DurableStore {
  /** the next sequence the store expects per channel (`edgeId/iface`), null when it has none */
  resume(edgeId: string, channels: readonly string[]): Promise<(number | null)[]>
}

/** Time given to sockets to flush their last messages at shutdown before they are destroyed. */
const SHUTDOWN_GRACE_MS = 500

export class EdgeServer extends EventEmitter<TCPBusEvents> {
  readonly #server: Server
  readonly #options: ResolvedTCPBusOptions
  readonly #logger: Logger
  readonly #serverId: string
  readonly #sink: ReceiveSink
  /** every plain connection reads into it: each read is consumed before the next one */
  readonly #readBuffer = Buffer.alloc(READ_BUFFER_BYTES)
  readonly #periodicTasks: () => Iterable<PeriodicSpec>
  readonly #filters: () => readonly CanFilter[] | null
  readonly #durable: DurableStore | undefined
  readonly #sessions = new Set<EdgeSession>()
  readonly #edges = new Map<string, EdgeSession>()
  readonly #channels = new Map<string, ChannelTracker>()
  readonly #workers = new Map<string, SendWorker>()
  readonly #paused = new Set<EdgeSession>()
  readonly #host: SessionHost
  readonly #security: ServerSecurity
  readonly #authenticator: EdgeAuthenticator
  readonly #allowedPeers: PeerAllowList | undefined
  readonly #refusals: RefusalLog
  /** raw connections not yet through their handshake (TLS and canbridge) */
  readonly #unconnected = new Set<Socket>()
  /** how many of those come from each address */
  readonly #handshakesFrom = new Map<string, number>()
  /** with TLS: the raw socket under each TLS connection, by peer address:port */
  readonly #tlsPeers = new Map<string, Socket>()
  #requestIds = 0
  #address: TCPBusAddress | undefined
  #shutdown = false

  /** Loads the security material and starts listening; rejects with CanInitializationError. */
  static async listen(init: EdgeServerInit): Promise<EdgeServer> {
    const security = await loadServerSecurity(init.options.tls, init.options.auth)
    const server = new EdgeServer(init, security)
    await server.#listen()
    return server
  }

  private constructor(init: EdgeServerInit, security: ServerSecurity) {
    super()
    const options = init.options
    this.#options = options
    this.#logger = init.logger
    this.#sink = init.sink
    this.#periodicTasks = init.periodicTasks
    this.#filters = init.filters
    this.#durable = init.durable
    this.#security = security
    this.#authenticator = new EdgeAuthenticator(security)
    this.#refusals = new RefusalLog(this.#logger)
    this.#allowedPeers =
      options.allowedPeers === undefined ? undefined : new PeerAllowList(options.allowedPeers)
    this.#serverId = options.serverId ?? hostname()
    this.#checkExposure()
    this.#host = this.#sessionHost()
    this.#server = this.#createServer()
  }

  /** Where the server listens (the actual port when 0 was asked). */
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

  /** The edge connected under this id, or any edge when none is given. */
  findEdge(edgeId: string | undefined): EdgeInfo | undefined {
    if (edgeId !== undefined) return this.#edges.get(edgeId)?.info
    return this.#edges.values().next().value?.info
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

  /** Each channel with its connection and its last reported state. */
  channelStates(): [name: string, connected: boolean, state: BusStateName][] {
    return [...this.#channels.values()].map((c) => [c.name, c.connected, c.state])
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
        frames: this.#sink.size,
        capacity: this.#sink.capacity,
        peak: this.#sink.peak,
        pausedEdges: this.#paused.size,
      },
      edges: this.#edges.size,
      handshaking: this.#unconnected.size,
      refused: Object.fromEntries(this.#refusals.totals),
    }
  }

  /**
   * Sends a frame on a channel (checked by the bus); resolves when the edge reports it
   * accepted, rejects with a CanOperationError. `sentAt`: the wall clock (ms) of the
   * caller's send() when it ran in another thread (the bus worker), for the hold TTL.
   */
  send(channel: string, frame: TxFrame, timeoutMs: number, sentAt?: number): Promise<void> {
    if (this.#shutdown) {
      return Promise.reject(new CanOperationError('the bus is shut down', { reason: 'shutdown' }))
    }
    const worker = this.#workerFor(channel)
    if (worker === undefined) {
      return Promise.reject(
        new CanOperationError(
          `send on ${channel} failed: not-connected (no edge has offered this channel)`,
          { reason: 'not-connected', channel },
        ),
      )
    }
    return worker.send(frame, timeoutMs, sentAt)
  }

  /** The filters changed: push them to every edge. */
  pushFilters(): void {
    for (const session of this.#edges.values()) this.#pushFilters(session)
  }

  startPeriodic(task: PeriodicSpec): void {
    const link = this.#linkOf(task.channel)
    if (link !== undefined) this.#sendPeriodicStart(link.session, link.index, task)
  }

  modifyPeriodic(task: PeriodicSpec): void {
    const link = this.#linkOf(task.channel)
    link?.session.send('PERIODIC_MODIFY', { taskId: task.taskId, frames: [...task.frames] })
  }

  stopPeriodic(task: Pick<PeriodicSpec, 'taskId' | 'channel'>): void {
    const link = this.#linkOf(task.channel)
    link?.session.send('PERIODIC_STOP', { taskId: task.taskId })
  }

  /** The sink has room again: read from the paused edges. */
  resumeEdges(): void {
    this.#resumeEdges()
  }

  /** Fails every send not settled, closes the listener and every connection. */
  async shutdown(): Promise<void> {
    if (this.#shutdown) return
    this.#shutdown = true
    this.#refusals.close()
    for (const worker of this.#workers.values()) worker.close()
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
        await listenOn(this.#server, { port, host })
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
  }

  #createServer(): Server {
    const tls = this.#security.tls
    if (tls === undefined) {
      // paused until the connection moves to a socket that reads into the shared buffer
      return createServer({ noDelay: true, pauseOnConnect: true }, (accepted) => {
        const socket = readIntoBuffer(accepted, this.#readBuffer)
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
        handshakeTimeout: this.#options.handshakeTimeoutMs,
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
        { peer, code: 'TLS_FAILED', error: error.code ?? 'unknown' },
        `refused connection from ${peer}: ${describeTlsFailure(error, peer)}`,
      )
    })
    return server
  }

  /** The cheap checks, on the raw socket: peer address and the bound on open handshakes. */
  #admitConnection(raw: Socket): boolean {
    const peer = peerOf(raw, this.#options.path)
    if (this.#shutdown) {
      raw.destroy()
      return false
    }
    if (this.#allowedPeers !== undefined && this.#options.path === undefined) {
      if (!this.#allowedPeers.allows(raw.remoteAddress)) {
        this.#refuse(raw, peer, 'PEER_NOT_ALLOWED', 'address not in allowedPeers')
        return false
      }
    }
    if (this.#unconnected.size >= this.#options.maxHandshakes) {
      this.#refuse(
        raw,
        peer,
        'TOO_MANY_HANDSHAKES',
        `${this.#options.maxHandshakes} connections are already in their handshake (maxHandshakes)`,
      )
      return false
    }
    const address = raw.remoteAddress ?? 'unix'
    const fromAddress = this.#handshakesFrom.get(address) ?? 0
    if (fromAddress >= this.#options.maxHandshakesPerAddress) {
      this.#refuse(
        raw,
        peer,
        'TOO_MANY_HANDSHAKES_FROM_ADDRESS',
        `${this.#options.maxHandshakesPerAddress} connections from ${address} are already in their handshake (maxHandshakesPerAddress)`,
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
      const described = describeCertificateRefusal(
        socket as TLSSocket,
        peer,
        this.#options.tls?.clientCaFile,
      )
      this.#tlsPeers.delete(peer)
      socket.destroy()
      this.#refusals.refused(
        'TLS_FAILED',
        { peer, code: 'TLS_FAILED', error: why },
        `refused connection from ${peer}: ${described}`,
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
    const host = this.#options.host
    if (isLoopbackHost(host)) return
    if (!this.#authenticator.authenticates) {
      if (!this.#options.insecure) {
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
      heartbeatMs: this.#options.heartbeatMs,
      handshakeTimeoutMs: this.#options.handshakeTimeoutMs,
      maxMessageBytes: this.#options.maxMessageBytes,
      maxQueuedBytes: this.#options.maxQueuedBytes,
      ackIntervalMs: this.#options.ackIntervalMs,
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

  /** Closes an edge's connection with a reason (it reconnects, and resumes where the store says). */
  disconnect(edgeId: string, reason: string, error?: Error): void {
    this.#edges.get(edgeId)?.close(reason, error)
  }

  /**
   * A store confirmed every frame of `channel` below `nextSeq` (with `durable`): the edge may
   * free them. Acknowledgements never go backwards.
   */
  stored(channel: string, nextSeq: number): void {
    const tracker = this.#channels.get(channel)
    if (tracker === undefined || (tracker.storedSeq !== null && nextSeq <= tracker.storedSeq))
      return
    tracker.storedSeq = nextSeq
    const link = this.#linkOf(channel)
    link?.session.acknowledge(link.index)
  }

  #admit(session: EdgeSession, hello: Hello): Admission | Promise<Admission> {
    const admission = this.#admitNow(session, hello)
    const durable = this.#durable
    if (durable === undefined) return admission
    // the store, not this process's memory, says where each channel resumes
    const names = admission.channels.map((c) => c.name)
    return durable.resume(hello.edgeId, names).then((resumed) => {
      admission.channels.forEach((tracker, i) => {
        tracker.durable = true
        tracker.storedSeq = resumed[i] ?? null
        tracker.nextSeq = resumed[i] ?? null
        admission.welcome.channels[i]!.nextSeq = tracker.nextSeq
      })
      return admission
    })
  }

  #admitNow(session: EdgeSession, hello: Hello): Admission {
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
    if (previous === undefined && this.#edges.size >= this.#options.maxEdges) {
      throw new EdgeSessionError(
        'TOO_MANY_EDGES',
        `${this.#options.maxEdges} edges are connected already (maxEdges)`,
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
    const capabilities = this.#sink.ownMessages ? ['own-messages'] : []
    const welcome: Welcome = {
      serverId: this.#serverId.slice(0, 64),
      heartbeatMs: this.#options.heartbeatMs,
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
    for (const task of this.#periodicTasks()) {
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
    if (this.#options.insecure && !this.#authenticator.authenticates) {
      this.#logger.warn(
        { peer: session.peer, edgeId: info.edgeId },
        `INSECURE: edge ${info.edgeId} connected without authentication`,
      )
    }
    this.emit('edgeConnected', info)
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
      offset += recordLengthAt(bytes, offset)
    }
    if (!this.#sink.push(bytes, offset, bytes.length, count, channel)) this.#pause(session)
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
      { peer: session.peer, queued: this.#sink.size },
      'receive queue full: pausing edge',
    )
  }

  #resumeEdges(): void {
    for (const session of this.#paused) session.resume()
    this.#paused.clear()
  }

  #pushFilters(session: EdgeSession): void {
    session.send('SET_FILTERS', { channel: null, filters: toWireFilters(this.#filters()) })
  }

  #sendPeriodicStart(session: EdgeSession, index: number, task: PeriodicSpec): void {
    const remaining = task.remainingMs()
    if (remaining !== undefined && remaining <= 0) return
    session.send('PERIODIC_START', {
      taskId: task.taskId,
      channel: index,
      frames: [...task.frames],
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
      if (this.#options.hold === undefined) return undefined
      const slash = channel.lastIndexOf('/')
      tracker = this.#trackerFor(channel.slice(0, slash), channel.slice(slash + 1))
    }
    worker = new SendWorker(
      tracker,
      () => ++this.#requestIds,
      this.#options.hold,
      this.#options.sendResultGraceMs,
    )
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
