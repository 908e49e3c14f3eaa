// The fleet gateway: accepts edges exactly as TCPBus does (the same EdgeServer: TLS, tokens,
// allow-lists, limits) and stores their traffic in JetStream instead of handing it to an
// application. Each channel's batches go through its ChannelPublisher; an edge is
// acknowledged only for what JetStream stored, and on HELLO learns from the stream where each
// channel resumes, so gateways can restart or edges move between them without loss or
// duplicates. Drop reports and bus states go to their own subjects; sends and periodic tasks
// from consumers (FleetBus) arrive as NATS requests on `<prefix>.tx.<edge>` and are answered
// as TCPBus.send would.
import { hostname } from 'node:os'
import { CanOperationError, type Logger, silentLogger } from '@canbridge/server-bus'
import {
  type ChannelTracker,
  EdgeServer,
  resolveTCPBusOptions,
  type TCPBusOptions,
} from '@canbridge/server-bus/edge-server'
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream'
import {
  connect,
  type Msg,
  type NatsConnection,
  type NodeConnectionOptions,
  type Subscription,
} from '@nats-io/transport-node'
import { ChannelPublisher } from './channel-publisher.ts'
import { FLEET_ERROR, FleetError } from './errors.ts'
import { JetStreamSink } from './jetstream-sink.ts'
import { PeriodicLeases } from './periodic-leases.ts'
import { ensureStream, type FleetStreamOptions } from './stream.ts'
import { FleetSubjects } from './subjects.ts'
import { frameOfJson, type TxReply, type TxRequest } from './tx-requests.ts'

export interface GatewayOptions extends TCPBusOptions {
  nats: NodeConnectionOptions
  stream?: FleetStreamOptions
  /** subject prefix (default `can`) */
  prefix?: string
  /** this gateway's name, stored with each batch (default: the host name) */
  gatewayId?: string
  /** frames waiting for JetStream before edges are paused (default 65,536) */
  pendingFrames?: number
  logger?: Logger
}

export class Gateway {
  readonly nc: NatsConnection
  readonly server: EdgeServer
  readonly subjects: FleetSubjects
  readonly stream: string
  readonly #publishers = new Map<string, ChannelPublisher>()
  readonly #instances = new Map<string, string>()
  readonly #txSubscriptions = new Map<string, Subscription>()
  readonly #leases: PeriodicLeases
  readonly #logger: Logger
  #closed = false

  private constructor(
    nc: NatsConnection,
    server: EdgeServer,
    subjects: FleetSubjects,
    stream: string,
    leases: PeriodicLeases,
    logger: Logger,
  ) {
    this.nc = nc
    this.server = server
    this.subjects = subjects
    this.stream = stream
    this.#leases = leases
    this.#logger = logger
  }

  /**
   * Connects to NATS, checks (or makes) the stream, then listens for edges. Throws
   * FleetError NATS_UNREACHABLE or STREAM_CONFIG before any edge is accepted.
   */
  static async start(options: GatewayOptions): Promise<Gateway> {
    const logger = options.logger ?? silentLogger
    let nc: NatsConnection
    try {
      nc = await connect({ maxReconnectAttempts: -1, ...options.nats })
    } catch (error) {
      throw new FleetError(
        FLEET_ERROR.NATS_UNREACHABLE,
        `no NATS server answered at ${String(options.nats.servers ?? 'localhost:4222')}: ${(error as Error).message}`,
        { cause: error },
      )
    }
    try {
      const js = jetstream(nc)
      const jsm = await jetstreamManager(nc)
      const subjects = new FleetSubjects(options.prefix)
      const stream = await ensureStream(jsm, subjects, options.stream)
      const gatewayId = options.gatewayId ?? hostname()
      // set once the server exists; the sink and the store only run after that
      let gateway: Gateway | undefined
      const leases = new PeriodicLeases(() => gateway!.server)
      const sink = new JetStreamSink(
        options.pendingFrames ?? 65_536,
        (channel) => gateway!.#publisher(channel, js, jsm, gatewayId),
        (edgeId) => gateway!.#instances.get(edgeId) ?? '',
        {
          stored: (channel, nextSeq) => gateway!.server.stored(channel, nextSeq),
          failed: (channel, error) => gateway!.#failed(channel, error),
          drained: () => gateway!.server.resumeEdges(),
        },
      )
      const server = await EdgeServer.listen({
        options: resolveTCPBusOptions(options),
        logger,
        sink,
        // consumers' tasks, started again when their edge reconnects here
        periodicTasks: () => leases.all(),
        filters: () => null,
        durable: {
          resume: (edgeId, channels) =>
            Promise.all(
              channels.map((name) => {
                const iface = name.slice(edgeId.length + 1)
                return gateway!.#publisherFor(edgeId, iface, name, js, jsm, gatewayId).resume()
              }),
            ),
        },
      })
      gateway = new Gateway(nc, server, subjects, stream, leases, logger)
      gateway.#wire(js)
      return gateway
    } catch (error) {
      await nc.close()
      throw error
    }
  }

  get address() {
    return this.server.address
  }

  /** Stops accepting edges, closes their connections, then the NATS connection. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const publisher of this.#publishers.values()) publisher.close()
    this.#leases.close()
    await this.server.shutdown()
    await this.nc.drain().catch(() => this.nc.close())
  }

  #wire(js: JetStreamClient): void {
    const server = this.server
    server.on('edgeConnected', (edge) => {
      this.#instances.set(edge.edgeId, edge.instanceId)
      this.#serveSends(edge.edgeId)
    })
    server.on('edgeDisconnected', (edge) => {
      this.#txSubscriptions.get(edge.edgeId)?.unsubscribe()
      this.#txSubscriptions.delete(edge.edgeId)
    })
    server.on('drops', (drops) => {
      const slash = drops.channel.indexOf('/')
      const subject = this.subjects.of(
        'drops',
        drops.channel.slice(0, slash),
        drops.channel.slice(slash + 1),
      )
      const body = JSON.stringify({
        fromSeq: drops.fromSeq,
        count: drops.count,
        reason: drops.reason,
      })
      js.publish(subject, body).catch((error: unknown) =>
        this.#logger.error(
          { channel: drops.channel, err: String(error) },
          'cannot store a drop report',
        ),
      )
    })
    server.on('stateChange', (change) => {
      const slash = change.channel.indexOf('/')
      const subject = this.subjects.of(
        'state',
        change.channel.slice(0, slash),
        change.channel.slice(slash + 1),
      )
      js.publish(
        subject,
        JSON.stringify({ state: change.state, previous: change.previous, timeMs: Date.now() }),
      ).catch((error: unknown) =>
        this.#logger.error({ err: String(error) }, 'cannot store a bus state'),
      )
    })
  }

  /** Answers `<prefix>.tx.<edge>` requests while the edge is connected here. */
  #serveSends(edgeId: string): void {
    this.#txSubscriptions.get(edgeId)?.unsubscribe()
    const subscription = this.nc.subscribe(this.subjects.tx(edgeId), {
      callback: (error, message) => {
        if (error) return
        this.#send(edgeId, message).catch(() => {})
      },
    })
    this.#txSubscriptions.set(edgeId, subscription)
  }

  async #send(edgeId: string, message: Msg): Promise<void> {
    let reply: TxReply
    try {
      const request = message.json<TxRequest>()
      switch (request.op) {
        case undefined:
        case 'send':
          await this.server.send(
            `${edgeId}/${request.channel}`,
            frameOfJson(request.frame),
            request.timeoutMs ?? 1000,
          )
          break
        case 'periodic':
          this.#leases.renew(edgeId, request)
          break
        case 'periodic-stop':
          this.#leases.stop(edgeId, request.task)
          break
        default:
          throw new RangeError(
            `unknown request op ${JSON.stringify((request as { op: unknown }).op)}`,
          )
      }
      reply = { ok: true }
    } catch (error) {
      const reason = error instanceof CanOperationError ? error.reason : 'invalid-frame'
      reply = { ok: false, error: (error as Error).message, ...(reason ? { reason } : {}) }
    }
    message.respond(JSON.stringify(reply))
  }

  #publisher(
    channel: ChannelTracker,
    js: JetStreamClient,
    jsm: JetStreamManager,
    gatewayId: string,
  ): ChannelPublisher {
    return this.#publisherFor(channel.edgeId, channel.iface, channel.name, js, jsm, gatewayId)
  }

  #publisherFor(
    edgeId: string,
    iface: string,
    name: string,
    js: JetStreamClient,
    jsm: JetStreamManager,
    gatewayId: string,
  ): ChannelPublisher {
    let publisher = this.#publishers.get(name)
    if (publisher === undefined) {
      publisher = new ChannelPublisher({
        js,
        jsm,
        stream: this.stream,
        subject: this.subjects.raw(edgeId, iface),
        edgeId,
        channel: iface,
        gateway: gatewayId,
      })
      this.#publishers.set(name, publisher)
    }
    return publisher
  }

  /** A channel's batch could not be stored: the edge reconnects and resumes from the stream. */
  #failed(channel: ChannelTracker, error: Error): void {
    if (this.#closed) return
    this.#logger.warn(
      { channel: channel.name, err: error.message },
      'storing failed: the edge must resume',
    )
    this.server.disconnect(
      channel.edgeId,
      `storing ${channel.name} failed: ${error.message}`,
      error,
    )
  }
}
