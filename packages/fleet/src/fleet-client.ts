// The consumer side of a fleet: frames of any edges and channels out of JetStream, in order
// per channel and each once, from now, from a stream sequence or from a time; durable,
// acknowledged batch consumption that several processes share; gaps and drops as events; and
// one edge channel as python-can's Bus (`bus()`).
import { EventEmitter } from 'node:events'
import { type BusStateName, DataBatch, FrameReader } from '@canbridge/protocol'
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream'
import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node'
import { BATCH_HEADER } from './batch-headers.ts'
import { ChannelOrder, type DropReport, type Gap } from './channel-order.ts'
import { FLEET_ERROR, FleetError } from './errors.ts'
import { FleetBus, type FleetBusOptions } from './fleet-bus.ts'
import { FleetFrame } from './fleet-frame.ts'
import { DEFAULT_STREAM } from './stream.ts'
import { FleetSubjects, SUBJECT_KIND, subjectToken } from './subjects.ts'

export interface FleetClientOptions {
  /** stream name (default CANBRIDGE) */
  stream?: string
  /** subject prefix (default `can`) */
  prefix?: string
}

export interface FrameSelection {
  /** edge id or glob (`veh-*`, `*`); default every edge */
  edge?: string
  /** interface name or glob; default every channel */
  channel?: string
  /** where to start: `now` (default), `all`, a stream sequence, or a time */
  from?: 'now' | 'all' | number | Date
}

/** One stored batch of one channel, for sinks that take frames in bulk. */
export interface FleetBatch {
  edgeId: string
  channel: string
  instanceId: string
  /** the stream's sequence of this message */
  streamSeq: number
  batch: DataBatch
}

export interface ConsumeOptions extends FrameSelection {
  /** durable consumer name: processes using the same name share the work */
  durable: string
  /** most messages handed out and not yet acknowledged, across all sharing processes */
  maxAckPending?: number
}

export interface FleetClientEvents {
  /** sequence numbers that never arrived (`reported` of them the edge said it dropped) */
  gap: [Gap]
  /** the edge's own drop report */
  drop: [{ edgeId: string; channel: string } & DropReport]
  /** asked for stream sequences that retention already removed */
  retention: [{ requested: number; firstAvailable: number }]
}

interface Filter {
  subject: string
  edge: ((name: string) => boolean) | undefined
  channel: ((name: string) => boolean) | undefined
}

type Decoded =
  | { kind: 'batch'; edgeId: string; channel: string; stored: FleetBatch }
  | { kind: 'drop'; edgeId: string; channel: string; drop: DropReport }
  | { kind: 'state'; edgeId: string; channel: string; state: BusStateName }

/** The gateway's record of a bus state change (`<prefix>.state.<edge>.<channel>`). */
interface StoredState {
  state: BusStateName
}

/** Glob to a test: `*` any run, `?` one character, everything else literal. */
function globTest(glob: string | undefined): ((name: string) => boolean) | undefined {
  if (glob === undefined || glob === '*') return undefined
  if (!/[*?]/.test(glob)) return (name) => name === glob
  const pattern = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  const regex = new RegExp(`^${pattern}$`)
  return (name) => regex.test(name)
}

export class FleetClient extends EventEmitter<FleetClientEvents> {
  readonly nc: NatsConnection
  readonly js: JetStreamClient
  readonly jsm: JetStreamManager
  readonly stream: string
  readonly subjects: FleetSubjects
  #closed = false
  #open = new Set<ConsumerMessages>()

  private constructor(
    nc: NatsConnection,
    js: JetStreamClient,
    jsm: JetStreamManager,
    options: FleetClientOptions,
  ) {
    super()
    this.nc = nc
    this.js = js
    this.jsm = jsm
    this.stream = options.stream ?? DEFAULT_STREAM
    this.subjects = new FleetSubjects(options.prefix)
  }

  /** Connects to NATS; throws NATS_UNREACHABLE with the addresses tried. */
  static async connect(
    nats: NodeConnectionOptions,
    options: FleetClientOptions = {},
  ): Promise<FleetClient> {
    let nc: NatsConnection
    try {
      nc = await connect(nats)
    } catch (error) {
      throw new FleetError(
        FLEET_ERROR.NATS_UNREACHABLE,
        `no NATS server answered at ${String(nats.servers ?? 'localhost:4222')}: ${(error as Error).message}`,
        { cause: error },
      )
    }
    return new FleetClient(nc, jetstream(nc), await jetstreamManager(nc), options)
  }

  /** Throws NO_STREAM when the stream is missing, so a reader can say so before it waits. */
  async checkStream(): Promise<void> {
    await this.jsm.streams.info(this.stream).catch((error: unknown) => {
      // 10059: stream not found
      if ((error as { code?: number }).code !== 10059) throw error
      throw new FleetError(
        FLEET_ERROR.NO_STREAM,
        `there is no stream ${this.stream} on this NATS server (a canbridge gateway makes it when it first starts; or name another stream)`,
        { cause: error },
      )
    })
  }

  /** Frames in stream order (each channel's in sequence, each once), until `close()`. */
  async *frames(selection: FrameSelection = {}): AsyncGenerator<FleetFrame> {
    for await (const stored of this.#batches(selection)) {
      const reader = new FrameReader(stored.batch)
      while (reader.next()) yield new FleetFrame(reader, stored.edgeId, stored.channel)
    }
  }

  /** Stored batches, in order and each frame once (a repeated range is trimmed). */
  batches(selection: FrameSelection = {}): AsyncGenerator<FleetBatch> {
    return this.#batches(selection)
  }

  /** The frames of each stored batch as one array, for readers that print or log in bulk. */
  async *frameBatches(selection: FrameSelection = {}): AsyncGenerator<FleetFrame[]> {
    for await (const stored of this.#batches(selection)) {
      const reader = new FrameReader(stored.batch)
      const frames: FleetFrame[] = []
      while (reader.next()) frames.push(new FleetFrame(reader, stored.edgeId, stored.channel))
      yield frames
    }
  }

  /**
   * One edge channel as python-can's Bus (TCPBus' API): `recv`, `for await`, `send`,
   * `setFilters`, `sendPeriodic`, `shutdown`. It receives the channel's frames stored from
   * now on; sends and periodic tasks go to the gateway that holds the edge. Names are exact
   * (no globs). Resolves once the bus reads the stream.
   */
  async bus(edgeId: string, channel: string, options: FleetBusOptions = {}): Promise<FleetBus> {
    for (const [what, name] of [
      ['edgeId', edgeId],
      ['channel', channel],
    ] as const) {
      if (typeof name !== 'string' || /[*?]/.test(name)) {
        throw new RangeError(`${what} must be one exact name, got ${JSON.stringify(name)}`)
      }
      subjectToken(name) // throws BAD_NAME for a name that cannot be a subject token
    }
    if (this.#closed) throw new FleetError(FLEET_ERROR.CLOSED, 'the fleet client is closed')
    let state = await this.#storedState(edgeId, channel)
    const { messages, filter } = await this.#subscribe({ edge: edgeId, channel, from: 'now' })
    const batches = this.#ordered(messages, filter, (changed) => {
      state = changed
    })
    return new FleetBus(
      this.nc,
      this.subjects,
      edgeId,
      channel,
      { batches, state: () => state, stop: () => messages.stop() },
      options,
    )
  }

  /**
   * Durable, acknowledged consumption: `handle` gets each batch and the message is
   * acknowledged when it resolves (redelivered if it throws or the process dies). Several
   * processes with the same `durable` share the batches. Resolves when `close()` is called.
   */
  async consume(
    options: ConsumeOptions,
    handle: (batch: FleetBatch) => Promise<void>,
  ): Promise<void> {
    const filter = this.#filter(options)
    const config = {
      durable_name: options.durable,
      filter_subject: filter.subject,
      ack_policy: AckPolicy.Explicit,
      max_ack_pending: options.maxAckPending ?? 1000,
      ...(await this.#start(options.from)),
    }
    await this.jsm.consumers.add(this.stream, config).catch(async (error: unknown) => {
      // already there (another process made it): use it as it is
      if ((error as { code?: number }).code !== 10148) throw error
    })
    const consumer = await this.js.consumers.get(this.stream, options.durable)
    const messages = await consumer.consume({ max_messages: 256 })
    this.#open.add(messages)
    try {
      for await (const message of messages) {
        const decoded = this.#decode(message, filter)
        if (decoded?.kind !== 'batch') {
          message.ack()
          continue
        }
        try {
          await handle(decoded.stored)
          message.ack()
        } catch (error) {
          message.nak()
          throw error
        }
      }
    } finally {
      this.#open.delete(messages)
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const messages of this.#open) messages.stop()
    await this.nc.drain()
  }

  async *#batches(selection: FrameSelection): AsyncGenerator<FleetBatch> {
    if (this.#closed) return
    const { messages, filter } = await this.#subscribe(selection)
    yield* this.#ordered(messages, filter)
  }

  /** An ordered consumer of the selection, made on the server before this resolves. */
  async #subscribe(
    selection: FrameSelection,
  ): Promise<{ messages: ConsumerMessages; filter: Filter }> {
    const filter = this.#filter(selection)
    const start = await this.#start(selection.from)
    const consumer = await this.js.consumers.get(this.stream, {
      filter_subjects: filter.subject,
      ...start,
    })
    const messages = await consumer.consume()
    this.#open.add(messages)
    return { messages, filter }
  }

  /** The consumer's batches in order per channel, each frame once; gaps and drops as events. */
  async *#ordered(
    messages: ConsumerMessages,
    filter: Filter,
    onState?: (state: BusStateName) => void,
  ): AsyncGenerator<FleetBatch> {
    const orders = new Map<string, ChannelOrder>()
    try {
      for await (const message of messages) {
        const decoded = this.#decode(message, filter)
        if (decoded === undefined) continue
        const { edgeId, channel } = decoded
        if (decoded.kind === 'state') {
          onState?.(decoded.state)
          continue
        }
        const key = `${edgeId}\u0000${channel}`
        let order = orders.get(key)
        if (order === undefined) {
          order = new ChannelOrder(edgeId, channel)
          orders.set(key, order)
        }
        if (decoded.kind === 'drop') {
          order.report(decoded.drop)
          this.emit('drop', { edgeId, channel, ...decoded.drop })
          continue
        }
        const stored = decoded.stored
        const { skip, gap } = order.accept(stored.batch.firstSeq, stored.batch.count)
        if (gap) this.emit('gap', gap)
        if (skip === stored.batch.count) continue
        yield skip === 0 ? stored : { ...stored, batch: stored.batch.tail(skip) }
      }
    } finally {
      this.#open.delete(messages)
      messages.stop()
    }
  }

  /** One subject filter (NATS 2.9 takes one per consumer) and the tests it cannot express. */
  #filter(selection: FrameSelection): Filter {
    const edge = globTest(selection.edge)
    const channel = globTest(selection.channel)
    const exact = (glob: string | undefined): string =>
      glob !== undefined && !/[*?]/.test(glob) ? subjectToken(glob) : '*'
    return {
      // raw batches and drop reports of the chosen channels, in one ordered stream
      subject: `${this.subjects.prefix}.*.${exact(selection.edge)}.${exact(selection.channel)}`,
      edge,
      channel,
    }
  }

  async #start(from: FrameSelection['from']): Promise<{
    deliver_policy: DeliverPolicy
    opt_start_seq?: number
    opt_start_time?: string
  }> {
    if (from === undefined || from === 'now') return { deliver_policy: DeliverPolicy.New }
    if (from === 'all') return { deliver_policy: DeliverPolicy.All }
    if (from instanceof Date) {
      return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: from.toISOString() }
    }
    if (!Number.isSafeInteger(from) || from < 1) {
      throw new RangeError(
        `from must be 'now', 'all', a Date or a stream sequence >= 1, got ${from}`,
      )
    }
    const info = await this.jsm.streams.info(this.stream)
    if (from < info.state.first_seq) {
      this.emit('retention', { requested: from, firstAvailable: info.state.first_seq })
    }
    return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from }
  }

  /** The channel's last stored bus state, 'active' when none is stored. */
  async #storedState(edgeId: string, channel: string): Promise<BusStateName> {
    const last = await this.jsm.streams.getMessage(this.stream, {
      last_by_subj: this.subjects.of('state', edgeId, channel),
    })
    return last === null ? 'active' : last.json<StoredState>().state
  }

  #decode(message: JsMsg, filter: Filter): Decoded | undefined {
    const parsed = this.subjects.parse(message.subject)
    if (parsed === undefined) return undefined
    if (filter.edge && !filter.edge(parsed.edgeId)) return undefined
    if (filter.channel && !filter.channel(parsed.channel)) return undefined
    const { edgeId, channel } = parsed
    if (parsed.kind === SUBJECT_KIND.DROPS) {
      return { kind: 'drop', edgeId, channel, drop: message.json<DropReport>() }
    }
    if (parsed.kind === SUBJECT_KIND.STATE) {
      return { kind: 'state', edgeId, channel, state: message.json<StoredState>().state }
    }
    if (parsed.kind !== SUBJECT_KIND.RAW) return undefined
    let batch: DataBatch
    try {
      batch = DataBatch.parse(message.data)
    } catch (error) {
      throw new FleetError(
        FLEET_ERROR.BAD_MESSAGE,
        `stream message ${message.seq} on ${message.subject} is not a canbridge batch: ${(error as Error).message}`,
        { cause: error },
      )
    }
    const instanceId = message.headers?.get(BATCH_HEADER.INSTANCE) ?? ''
    const stored = { edgeId, channel, instanceId, streamSeq: message.seq, batch }
    return { kind: 'batch', edgeId, channel, stored }
  }
}
