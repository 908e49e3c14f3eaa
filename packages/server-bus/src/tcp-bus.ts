// TCPBus: python-can's BusABC over canbridge edges. The link to the edges (listener, TLS,
// sessions, decoding, sequence checks, ACKs, heartbeats) runs on the application's thread or,
// with `worker: true`, in a worker thread; the Bus API, events, errors and stats are the same.
import type { BusStateName } from '@canbridge/protocol'
import type { SendOptions } from './bus.ts'
import { WorkerLink } from './bus-worker/worker-link.ts'
import type { EdgeInfo } from './edge-session.ts'
import { CanOperationError, CanTimeoutError } from './errors.ts'
import type { CanFilter } from './filters.ts'
import { InlineLink } from './inline-link.ts'
import { type Logger, stderrLogger } from './logger.ts'
import { CanMessage } from './message.ts'
import type { PeriodicTask } from './periodic-task.ts'
import { type FrameSource, QueueBackedBus } from './queue-backed-bus.ts'
import type { TCPBusAddress, TCPBusEvents, TCPBusStats } from './tcp-bus-events.ts'
import type { TCPBusLink, TCPBusLinkHost } from './tcp-bus-link.ts'
import {
  type ResolvedTCPBusOptions,
  resolveTCPBusOptions,
  type TCPBusOptions,
} from './tcp-bus-options.ts'

export type {
  DropsEvent,
  GapEvent,
  PeerInfo,
  StateChangeEvent,
  TCPBusAddress,
  TCPBusEvents,
  TCPBusStats,
} from './tcp-bus-events.ts'
export type { TCPBusOptions } from './tcp-bus-options.ts'

export interface WaitForEdgeOptions {
  /** give up after this long with a CanTimeoutError (default 30000) */
  timeoutMs?: number | undefined
  /** wait for this edge; default: any */
  edgeId?: string | undefined
  signal?: AbortSignal | undefined
}

const DEFAULT_WAIT_FOR_EDGE_MS = 30_000

/**
 * python-can's BusABC over canbridge edges. Create it with `await TCPBus.listen(options)`.
 */
export class TCPBus extends QueueBackedBus<TCPBusEvents> {
  readonly #options: ResolvedTCPBusOptions
  readonly #logger: Logger
  readonly #edgeWaiters = new Set<() => void>()
  #link: TCPBusLink | undefined

  /** Starts listening; rejects with CanInitializationError when that fails. */
  static async listen(options: TCPBusOptions = {}): Promise<TCPBus> {
    const resolved = resolveTCPBusOptions(options)
    const bus = new TCPBus(resolved, options.logger ?? stderrLogger, options.canFilters ?? null)
    const host = bus.#linkHost()
    const link = resolved.worker
      ? await WorkerLink.start(resolved, bus.#logger, host)
      : await InlineLink.start(resolved, bus.#logger, host)
    bus.#link = link
    const address = link.address
    bus.channelInfo =
      'path' in address ? `TCPBus on ${address.path}` : `TCPBus on port ${address.port}`
    return bus
  }

  private constructor(
    options: ResolvedTCPBusOptions,
    logger: Logger,
    filters: readonly CanFilter[] | null,
  ) {
    super()
    this.#options = options
    this.#logger = logger
    this.filteredInternally = true
    // checked here, before a worker is spawned
    this.setFilters(filters)
  }

  /** True when the link runs in a worker thread (`worker: true`). */
  get inWorker(): boolean {
    return this.#options.worker
  }

  /** Where the bus listens (the actual port when 0 was asked). */
  get address(): TCPBusAddress {
    return this.#linked().address
  }

  /** Every channel seen so far (connected or not), `edgeId/interface`. */
  get channels(): string[] {
    return this.#linked().channels
  }

  /** The edges connected now. */
  get edges(): EdgeInfo[] {
    return this.#linked().edges
  }

  /** The worst state across the channels of connected edges ('active' with none). */
  get state(): BusStateName {
    return this.#linked().state
  }

  /** The last state the edge reported for one channel. */
  channelState(channel: string): BusStateName {
    return this.#linked().channelState(channel)
  }

  /** Counters per channel and of the receive queue. */
  stats(): TCPBusStats {
    return this.#linked().stats()
  }

  /**
   * Resolves with an edge once one has completed its handshake (at once if one is
   * connected); rejects with CanTimeoutError after `timeoutMs`.
   */
  waitForEdge(options: WaitForEdgeOptions = {}): Promise<EdgeInfo> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_FOR_EDGE_MS
    const link = this.#linked()
    const found = link.findEdge(options.edgeId)
    if (found !== undefined) return Promise.resolve(found)
    if (this.failure !== undefined) return Promise.reject(this.failure)
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
        if (this.failure !== undefined) {
          finish(this.failure)
          return
        }
        if (this.isShutdown) {
          finish(new CanOperationError('the bus is shut down', { reason: 'shutdown' }))
          return
        }
        const edge = link.findEdge(options.edgeId)
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
    const timeoutMs = options.timeoutMs ?? this.#options.sendTimeoutMs
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) {
      throw new RangeError(`timeoutMs must be a number > 0, got ${String(timeoutMs)}`)
    }
    const channel = this.resolveChannel(options.channel, message.channel)
    // The frame is copied here: the caller's message is never touched, now or later.
    return this.#linked().send(channel, message.toTxFrame(), timeoutMs)
  }

  protected override get receiveQueue(): FrameSource {
    return this.#linked().queue
  }

  protected override applyFilters(filters: readonly CanFilter[] | null): void {
    // before listen: the link takes the filters as it starts
    if (this.#link === undefined) return
    super.applyFilters(filters)
    this.#link.pushFilters(filters)
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
    const channels = this.#linked().channels
    if (channels.length === 1) return channels[0]!
    if (channels.length === 0) {
      throw new CanOperationError('no channel given and no edge has connected yet', {
        reason: 'not-connected',
      })
    }
    throw new CanOperationError(
      `no channel given and the bus has ${channels.length} (${channels.join(', ')}): pass { channel } or set message.channel`,
    )
  }

  protected override startPeriodicInternal(task: PeriodicTask): void {
    this.#linked().startPeriodic(task)
  }

  protected override modifyPeriodicInternal(task: PeriodicTask): void {
    this.#linked().modifyPeriodic(task)
  }

  protected override stopPeriodicInternal(task: PeriodicTask): void {
    this.#linked().stopPeriodic(task)
  }

  protected override async shutdownInternal(): Promise<void> {
    const link = this.#linked()
    const closed = link.shutdown()
    for (const check of [...this.#edgeWaiters]) check()
    await closed
  }

  #linked(): TCPBusLink {
    if (this.#link === undefined) throw new CanOperationError('the bus is not listening')
    return this.#link
  }

  #linkHost(): TCPBusLinkHost {
    return {
      emit: (event, ...args) => {
        ;(this.emit as (event: string, ...args: unknown[]) => boolean)(event, ...args)
        if (event === 'edgeConnected') for (const check of [...this.#edgeWaiters]) check()
      },
      periodicTasks: () => this.periodicTasks,
      filters: () => this.filters,
      failed: (error) => {
        if (this.failure !== undefined) return
        this.failure = error
        this.#logger.error({ error: error.message }, error.message)
        for (const check of [...this.#edgeWaiters]) check()
      },
    }
  }
}
