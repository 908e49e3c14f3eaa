// TCPBus's link in worker mode (`worker: true`): the EdgeServer runs in a worker thread; frames
// come through the frame ring, everything else as typed messages. This side mirrors the edges
// and channel states the worker reports (sent with each event, so an event's listener sees
// the state it describes), asks the worker for stats synchronously, and turns a failed worker
// into a CanError for recv, send and waitForEdge.
import { type BusStateName, ProtocolError, type TxFrame } from '@canbridge/protocol'
import { BUS_STATE_SEVERITY } from '../bus.ts'
import type { PeriodicSpec } from '../edge-server.ts'
import type { EdgeInfo } from '../edge-session.ts'
import { EdgeSessionError } from '../edge-session-error.ts'
import { CanError, CanInitializationError, CanOperationError, CanTimeoutError } from '../errors.ts'
import type { CanFilter } from '../filters.ts'
import type { Logger } from '../logger.ts'
import type { TCPBusAddress, TCPBusStats } from '../tcp-bus-events.ts'
import type { TCPBusLink, TCPBusLinkHost } from '../tcp-bus-link.ts'
import type { ResolvedTCPBusOptions } from '../tcp-bus-options.ts'
import { type ErrorClasses, reviveError } from '../worker-host/transferred-error.ts'
import { WorkerHost } from '../worker-host/worker-host.ts'
import { createFrameRing } from './frame-ring-layout.ts'
import { FrameRingReader } from './frame-ring-reader.ts'
import type {
  BusWorkerInit,
  BusWorkerReply,
  FromBusWorker,
  LinkView,
  PeriodicTaskData,
  ToBusWorker,
} from './messages.ts'

const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
const SESSION_URL = new URL(`./bus-session${EXT}`, import.meta.url)

/** Errors the worker may report, made again with their class. */
const ERROR_CLASSES: ErrorClasses = {
  CanError,
  CanInitializationError,
  CanOperationError,
  CanTimeoutError,
  EdgeSessionError,
  ProtocolError,
  TypeError,
  RangeError,
}

/** How long a stats() call waits for the worker before it is taken for stuck. */
const CALL_TIMEOUT_MS = 5000
/** How long the worker may take to close its connections at shutdown before it is ended. */
const SHUTDOWN_GRACE_MS = 5000

interface PendingSend {
  resolve: () => void
  reject: (error: Error) => void
}

export class WorkerLink implements TCPBusLink {
  readonly queue: FrameRingReader
  readonly #host: TCPBusLinkHost
  readonly #logger: Logger
  readonly #pending = new Map<number, PendingSend>()
  #worker!: WorkerHost<ToBusWorker, FromBusWorker, BusWorkerReply>
  #address: TCPBusAddress | undefined
  #view: LinkView = { edges: [], channels: [] }
  #sendIds = 0
  #lastStats: TCPBusStats | undefined
  #failure: CanError | undefined
  #closing = false

  /** `sessionUrl`: the module the worker runs (tests give a scripted one) */
  static async start(
    options: ResolvedTCPBusOptions,
    logger: Logger,
    host: TCPBusLinkHost,
    sessionUrl: URL = SESSION_URL,
  ): Promise<WorkerLink> {
    const ring = createFrameRing(options.receiveQueueFrames)
    const link = new WorkerLink(new FrameRingReader(ring, options.receiveOwnMessages), logger, host)
    link.queue.filters = host.filters()
    const init: BusWorkerInit = { options, ring, filters: host.filters() }
    link.#worker = await WorkerHost.start<
      BusWorkerInit,
      ToBusWorker,
      FromBusWorker,
      BusWorkerReply
    >({
      moduleUrl: sessionUrl,
      init,
      name: 'canbridge TCPBus worker',
      errorClasses: ERROR_CLASSES,
      onMessage: (message) => link.#onMessage(message),
      onFailure: (error) => link.#fail(error),
    })
    // the events the worker posted before the frames it wrote after them are handled first
    link.queue.beforeRead = () => link.#worker.drain()
    return link
  }

  private constructor(queue: FrameRingReader, logger: Logger, host: TCPBusLinkHost) {
    this.queue = queue
    this.#logger = logger
    this.#host = host
  }

  get address(): TCPBusAddress {
    if (this.#address === undefined) throw new CanOperationError('the bus is not listening')
    return this.#address
  }

  get channels(): string[] {
    this.#worker.drain()
    return this.#view.channels.map(([name]) => name)
  }

  get edges(): EdgeInfo[] {
    this.#worker.drain()
    return [...this.#view.edges]
  }

  findEdge(edgeId: string | undefined): EdgeInfo | undefined {
    this.#worker.drain()
    const edges = this.#view.edges
    return edgeId === undefined ? edges[0] : edges.find((edge) => edge.edgeId === edgeId)
  }

  get state(): BusStateName {
    this.#worker.drain()
    let worst: BusStateName = 'active'
    for (const [, connected, state] of this.#view.channels) {
      if (connected && BUS_STATE_SEVERITY[state] > BUS_STATE_SEVERITY[worst]) worst = state
    }
    return worst
  }

  channelState(channel: string): BusStateName {
    this.#worker.drain()
    const found = this.#view.channels.find(([name]) => name === channel)
    if (found === undefined) throw new RangeError(`unknown channel ${JSON.stringify(channel)}`)
    return found[2]
  }

  /**
   * The worker's counters (asked synchronously: exact at the moment of the call) with what
   * this thread counted: frames delivered and filtered as they were taken from the ring.
   */
  stats(): TCPBusStats {
    let stats: TCPBusStats
    if (this.#failure !== undefined || this.#closing) {
      stats = structuredClone(this.#lastStats ?? emptyStats(this.queue.size))
    } else {
      try {
        stats = this.#worker.call({ type: 'stats' }, CALL_TIMEOUT_MS)
      } catch (error) {
        if (!(error instanceof CanError)) throw error
        stats = structuredClone(this.#lastStats ?? emptyStats(this.queue.size))
      }
      this.#lastStats = structuredClone(stats)
    }
    // what the worker posted before it answered (logs, events) is handled before we return
    this.#worker.drain()
    for (const [name, channel] of Object.entries(stats.channels)) {
      const counters = this.queue.counters(name)
      const delivered = counters?.delivered ?? 0
      const filtered = counters?.filtered ?? 0
      channel.framesDelivered = delivered
      channel.framesFiltered += filtered
      channel.receiveQueued = Math.max(0, channel.framesIn - delivered - filtered)
    }
    return stats
  }

  send(channel: string, frame: TxFrame, timeoutMs: number): Promise<void> {
    if (this.#failure !== undefined) {
      return Promise.reject(
        new CanOperationError(`send on ${channel} failed: internal (${this.#failure.message})`, {
          reason: 'internal',
          channel,
          cause: this.#failure,
        }),
      )
    }
    const id = ++this.#sendIds
    // a held frame's age counts from here, not from when the worker reads the message
    const sentAt = performance.timeOrigin + performance.now()
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#worker.post({ type: 'send', id, channel, frame, timeoutMs, sentAt })
    })
  }

  pushFilters(filters: readonly CanFilter[] | null): void {
    this.#worker.post({ type: 'filters', filters })
  }

  startPeriodic(task: PeriodicSpec): void {
    this.#worker.post({ type: 'periodicStart', task: periodicData(task) })
  }

  modifyPeriodic(task: PeriodicSpec): void {
    this.#worker.post({ type: 'periodicModify', task: periodicData(task) })
  }

  stopPeriodic(task: PeriodicSpec): void {
    this.#worker.post({ type: 'periodicStop', taskId: task.taskId, channel: task.channel })
  }

  async shutdown(): Promise<void> {
    if (this.#failure === undefined) {
      try {
        this.#lastStats = this.#worker.call({ type: 'stats' }, CALL_TIMEOUT_MS)
      } catch (error) {
        if (!(error instanceof CanError)) throw error
      }
    }
    this.#closing = true
    this.queue.close()
    this.#worker.post({ type: 'shutdown' })
    await this.#worker.stop(SHUTDOWN_GRACE_MS)
    this.#rejectPending(() => new CanOperationError('the bus is shut down', { reason: 'shutdown' }))
  }

  #onMessage(message: FromBusWorker): void {
    switch (message.type) {
      case 'listening':
        this.#address = message.address
        this.#view = message.view
        return
      case 'sendResult': {
        if (message.view !== undefined) this.#view = message.view
        const pending = this.#pending.get(message.id)
        if (pending === undefined) return
        this.#pending.delete(message.id)
        if (message.error === undefined) pending.resolve()
        else pending.reject(reviveError(message.error, ERROR_CLASSES))
        return
      }
      case 'edgeConnected':
        this.#view = message.view
        this.#host.emit('edgeConnected', message.edge)
        return
      case 'edgeDisconnected':
        this.#view = message.view
        this.#host.emit('edgeDisconnected', message.edge, message.reason)
        return
      case 'edgeError':
        this.#host.emit('edgeError', reviveError(message.error, ERROR_CLASSES), message.peer)
        return
      case 'gap':
        this.#host.emit('gap', message.gap)
        return
      case 'drops':
        this.#host.emit('drops', message.drops)
        return
      case 'stateChange':
        this.#view = message.view
        this.#host.emit('stateChange', message.change)
        return
      case 'log':
        this.#logger[message.level](message.fields, message.message)
        return
      case 'closed':
        return
      default:
        this.#fail(
          new CanError(`the bus worker sent an unknown message: ${JSON.stringify(message)}`),
        )
    }
  }

  #fail(error: CanError): void {
    if (this.#failure !== undefined) return
    this.#failure = error
    this.#view = {
      edges: [],
      channels: this.#view.channels.map(([name, , state]) => [name, false, state]),
    }
    this.queue.close()
    this.#rejectPending(
      () =>
        new CanOperationError(`the bus worker failed: ${error.message}`, {
          reason: 'internal',
          cause: error,
        }),
    )
    this.#host.failed(error)
  }

  #rejectPending(error: () => Error): void {
    const pending = [...this.#pending.values()]
    this.#pending.clear()
    for (const send of pending) send.reject(error())
  }
}

function periodicData(task: PeriodicSpec): PeriodicTaskData {
  return {
    taskId: task.taskId,
    channel: task.channel,
    frames: [...task.frames],
    periodMs: task.periodMs,
    remainingMs: task.remainingMs(),
  }
}

function emptyStats(frames: number): TCPBusStats {
  return {
    channels: {},
    receiveQueue: { frames, capacity: 0, peak: 0, pausedEdges: 0 },
    edges: 0,
    handshaking: 0,
    refused: {},
  }
}
