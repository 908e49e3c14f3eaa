// fleet.bus(edgeId, channel): python-can's Bus over one edge channel of a fleet, the same Bus
// base TCPBus extends, so code written against TCPBus runs here unchanged. Receiving reads the
// channel's frames out of JetStream from the moment the bus was made (through the same
// ReceiveQueue TCPBus reads, filters applied as frames are taken); sending and periodic tasks
// are NATS requests to whichever gateway holds the edge, confirmed as TCPBus.send confirms.
import { randomUUID } from 'node:crypto'
import { BATCH_HEADER_BYTES, type BusStateName, type TxFrame } from '@canbridge/protocol'
import {
  type CanFilter,
  CanMessage,
  CanOperationError,
  type PeriodicTask,
  type SendOptions,
} from '@canbridge/server-bus'
import {
  ChannelTracker,
  type FrameSource,
  QueueBackedBus,
  ReceiveQueue,
} from '@canbridge/server-bus/edge-server'
import {
  type NatsConnection,
  NoRespondersError,
  RequestError,
  TimeoutError,
} from '@nats-io/transport-node'
import type { FleetBatch } from './fleet-client.ts'
import type { FleetSubjects } from './subjects.ts'
import { frameToJson, type TxReply, type TxRequest } from './tx-requests.ts'

export interface FleetBusOptions {
  /** receive filters from the start, as `setFilters` takes them */
  canFilters?: readonly CanFilter[] | null
  /** deliver the edge's echoes of frames sent on the channel (TCPBus' option; default false) */
  receiveOwnMessages?: boolean
  /** frames held before reading the stream pauses (default 65,536) */
  receiveQueueFrames?: number
  /** how long `send` waits for the edge's confirmation by default (default 1000 ms) */
  sendTimeoutMs?: number
  /** a periodic task stops on the edge this long after the bus last renewed it (default 15 s) */
  periodicLeaseMs?: number
}

/** What FleetClient hands the bus: the channel's stored batches, from now, and how to stop. */
export interface FleetBusFeed {
  batches: AsyncIterable<FleetBatch>
  /** the channel's bus state as last stored ('active' when none was) */
  state(): BusStateName
  stop(): void
}

/** Time the gateway may wait past a send's timeout for the edge's late verdict (TCPBus' sendResultGraceMs). */
const GATEWAY_RESULT_GRACE_MS = 10_000
/** Time for the request and reply themselves, on top. */
const REQUEST_MARGIN_MS = 2_000

export class FleetBus extends QueueBackedBus {
  readonly edgeId: string
  /** the edge's interface, e.g. `can0` */
  readonly iface: string
  readonly #nc: NatsConnection
  readonly #subjects: FleetSubjects
  readonly #queue: ReceiveQueue
  readonly #tracker: ChannelTracker
  readonly #feed: FleetBusFeed
  readonly #sendTimeoutMs: number
  readonly #leaseMs: number
  /** this bus among the fleet's consumers: the gateway keys its periodic tasks by it */
  readonly #id = randomUUID()
  readonly #tasks = new Set<PeriodicTask>()
  readonly #pending = new Set<Promise<unknown>>()
  #renewal: NodeJS.Timeout | undefined
  #resume: (() => void) | undefined
  #pumping: Promise<void>

  constructor(
    nc: NatsConnection,
    subjects: FleetSubjects,
    edgeId: string,
    iface: string,
    feed: FleetBusFeed,
    options: FleetBusOptions = {},
  ) {
    super()
    this.#nc = nc
    this.#subjects = subjects
    this.edgeId = edgeId
    this.iface = iface
    this.#feed = feed
    this.#sendTimeoutMs = positive(options.sendTimeoutMs ?? 1000, 'sendTimeoutMs')
    this.#leaseMs = positive(options.periodicLeaseMs ?? 15_000, 'periodicLeaseMs')
    this.#queue = new ReceiveQueue({
      capacity: positive(options.receiveQueueFrames ?? 65_536, 'receiveQueueFrames'),
      onDrain: () => this.#resume?.(),
    })
    this.#queue.ownMessages = options.receiveOwnMessages ?? false
    this.#tracker = new ChannelTracker(edgeId, iface)
    this.filteredInternally = true
    this.setFilters(options.canFilters ?? null)
    this.channelInfo = `fleet bus ${this.#tracker.name}`
    this.#pumping = this.#pump()
  }

  /** `edgeId/interface`, as TCPBus names channels. */
  get channel(): string {
    return this.#tracker.name
  }

  /** The channel's bus state, as the edge last reported it to the fleet. */
  get state(): BusStateName {
    return this.#feed.state()
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
    const iface = channel.slice(this.edgeId.length + 1)
    // the frame is copied here, as TCPBus does: the caller's message is never touched
    const frame = frameToJson(message.toTxFrame())
    const reply = await this.#request(
      { op: 'send', channel: iface, frame, timeoutMs },
      channel,
      timeoutMs + GATEWAY_RESULT_GRACE_MS + REQUEST_MARGIN_MS,
    )
    if (!reply.ok) {
      throw new CanOperationError(reply.error ?? `send on ${channel} failed`, {
        reason: reply.reason,
        channel,
      })
    }
  }

  protected override get receiveQueue(): FrameSource {
    return this.#queue
  }

  /** A send goes to a channel of this bus's edge: the option, the message's, else the bus's. */
  protected override resolveChannel(
    requested: string | undefined,
    ofMessage: string | null,
  ): string {
    const channel = requested ?? ofMessage ?? this.#tracker.name
    if (typeof channel !== 'string' || !channel.startsWith(`${this.edgeId}/`)) {
      throw new RangeError(
        `channel must be "${this.edgeId}/<interface>" (this bus's edge), got ${JSON.stringify(channel)}`,
      )
    }
    return channel
  }

  protected override startPeriodicInternal(task: PeriodicTask): void {
    this.#tasks.add(task)
    this.#renew(task)
    if (this.#renewal === undefined) {
      // renewed well within the lease, so one lost renewal does not stop a task
      this.#renewal = setInterval(() => this.#renewAll(), this.#leaseMs / 3)
      this.#renewal.unref()
    }
  }

  protected override modifyPeriodicInternal(task: PeriodicTask): void {
    this.#renew(task)
  }

  protected override stopPeriodicInternal(task: PeriodicTask): void {
    this.#tasks.delete(task)
    this.#quietly({ op: 'periodic-stop', task: this.#taskName(task) }, task.channel)
  }

  protected override async shutdownInternal(): Promise<void> {
    clearInterval(this.#renewal)
    this.#feed.stop()
    this.#queue.close()
    this.#resume?.()
    await Promise.all([this.#pumping, ...this.#pending])
  }

  /** Stored batches into the queue; waits while the queue is full (JetStream keeps the rest). */
  async #pump(): Promise<void> {
    try {
      await this.#fill()
      if (this.isShutdown) return
      // the stream ended under the bus: its FleetClient was closed
      this.failure = new CanOperationError(
        `the fleet client was closed: ${this.channelInfo} receives no more`,
        { reason: 'shutdown', channel: this.#tracker.name },
      )
    } catch (error) {
      this.failure = error as Error
    }
    this.#queue.close() // wakes the readers, who then throw the failure
  }

  async #fill(): Promise<void> {
    for await (const stored of this.#feed.batches) {
      if (this.isShutdown) break
      const body = stored.batch.body
      const room = this.#queue.push(
        body,
        BATCH_HEADER_BYTES,
        body.length,
        stored.batch.count,
        this.#tracker,
      )
      if (!room && !this.isShutdown) {
        await new Promise<void>((resolve) => {
          this.#resume = resolve
        })
        this.#resume = undefined
      }
    }
  }

  #renewAll(): void {
    for (const task of [...this.#tasks]) {
      if (task.running) this.#renew(task)
      else this.#tasks.delete(task) // its duration ended: the edge stopped it
    }
  }

  #renew(task: PeriodicTask): void {
    const remaining = task.remainingMs()
    const request: TxRequest = {
      op: 'periodic',
      task: this.#taskName(task),
      channel: task.channel.slice(this.edgeId.length + 1),
      frames: task.frames.map((frame: TxFrame) => frameToJson(frame)),
      periodMs: task.periodMs,
      ...(remaining === undefined ? {} : { durationMs: Math.max(1, remaining) }),
      leaseMs: this.#leaseMs,
    }
    this.#quietly(request, task.channel)
  }

  #taskName(task: PeriodicTask): string {
    return `${this.#id}/${task.taskId}`
  }

  /**
   * A request whose failure nobody awaits (periodic tasks start as TCPBus starts them: on the
   * edge when it is connected, else when it connects, which the next renewal does here).
   */
  #quietly(request: TxRequest, channel: string): void {
    const pending = this.#request(request, channel, this.#leaseMs).catch((error: unknown) => error)
    this.#pending.add(pending)
    void pending.finally(() => this.#pending.delete(pending))
  }

  async #request(request: TxRequest, channel: string, timeoutMs: number): Promise<TxReply> {
    try {
      const reply = await this.#nc.request(
        this.#subjects.tx(this.edgeId),
        JSON.stringify(request),
        { timeout: timeoutMs },
      )
      return reply.json<TxReply>()
    } catch (error) {
      if (isNoResponders(error)) {
        throw new CanOperationError(
          `send on ${channel} failed: not-connected (edge ${this.edgeId} is not connected to any gateway)`,
          { reason: 'not-connected', channel, cause: error },
        )
      }
      if (isTimeout(error)) {
        throw new CanOperationError(
          `send on ${channel} failed: timeout (no reply from the gateway holding edge ${this.edgeId} within ${timeoutMs} ms)`,
          { reason: 'timeout', channel, cause: error },
        )
      }
      throw new CanOperationError(`send on ${channel} failed: ${(error as Error).message}`, {
        reason: 'internal',
        channel,
        cause: error,
      })
    }
  }
}

function isNoResponders(error: unknown): boolean {
  return (
    error instanceof NoRespondersError ||
    (error instanceof RequestError && error.isNoResponders()) ||
    (error instanceof Error && error.cause instanceof NoRespondersError)
  )
}

function isTimeout(error: unknown): boolean {
  return (
    error instanceof TimeoutError || (error instanceof Error && error.cause instanceof TimeoutError)
  )
}

function positive(value: number, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a number > 0, got ${String(value)}`)
  }
  return value
}
