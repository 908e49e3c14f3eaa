// SocketcandBus: python-can's Bus API over any socketcand server (the original daemon or a
// canbridge edge), as a client of its text protocol: raw mode for frames, BCM mode for
// periodic sends, the canbridge extension for remote and CAN FD frames when the server has it.
import {
  type BusStateName,
  type CanFrame,
  FRAME_FLAG,
  formatSocketcandSend,
  SOCKETCAND_EXTENSION_FEATURES,
  type SocketcandServerMessage,
} from '@canbridge/protocol'
import type { SendOptions, SendPeriodicOptions } from './bus.ts'
import { ChannelTracker } from './channel-tracker.ts'
import { CanInitializationError, CanOperationError } from './errors.ts'
import { type CanFilter, normalizeFilters } from './filters.ts'
import type { Logger } from './logger.ts'
import { CanMessage } from './message.ts'
import type { PeriodicTask } from './periodic-task.ts'
import { QueueBackedBus } from './queue-backed-bus.ts'
import { ReceiveQueue } from './receive-queue.ts'
import {
  addCommand,
  deleteCommand,
  jobKey,
  periodicProblem,
  type Subscription,
  subscribeCommand,
  subscriptionsOf,
  unsubscribeCommand,
  updateCommand,
} from './socketcand/bcm-commands.ts'
import { FrameRecords } from './socketcand/frame-records.ts'
import { SocketcandLinkError, type SocketcandLinkMode } from './socketcand/link.ts'
import {
  DEFAULT_RECONNECT,
  type ResolvedSocketcandOptions,
  resolveOptions,
  type SocketcandBusOptions,
} from './socketcand/options.ts'
import {
  type LinkCounters,
  ReconnectingLink,
  type ReconnectPolicy,
} from './socketcand/reconnecting-link.ts'

export type SocketcandBusMode = SocketcandLinkMode
export type {
  LinkCounters as SocketcandLinkCounters,
  ReconnectPolicy as SocketcandReconnectPolicy,
  SocketcandBusOptions,
}

/** Which connection an event is about: the frames (`main`) or the periodic jobs (`bcm`). */
export type SocketcandLinkRole = 'main' | 'bcm'

export interface SocketcandBusEvents {
  connected: [info: { link: SocketcandLinkRole; features: string[] }]
  disconnected: [info: { link: SocketcandLinkRole; reason: string }]
  /** the server answered `< error TEXT >` to a command (socketcand does not say which) */
  serverError: [info: { link: SocketcandLinkRole; text: string }]
}

export interface SocketcandBusStats {
  connected: boolean
  /** extension features the server enabled on the main connection */
  features: string[]
  framesIn: number
  framesDelivered: number
  framesFiltered: number
  /** frames handed to the server (`< send >`); socketcand confirms nothing further */
  framesSent: number
  sendFailures: number
  /** `< error ... >` answers */
  serverErrors: number
  /** server messages this client does not use (`< stat >`, unknown words), skipped */
  ignoredMessages: number
  main: LinkCounters
  /** the BCM connection of periodic tasks in raw mode; null until the first task */
  bcm: LinkCounters | null
  receiveQueue: { frames: number; capacity: number; peak: number; paused: boolean }
}

/**
 * python-can's BusABC over a socketcand server. Create it with
 * `await SocketcandBus.connect({ host, channel })`.
 */
export class SocketcandBus extends QueueBackedBus<SocketcandBusEvents> {
  readonly mode: SocketcandBusMode
  readonly #logger: Logger
  readonly #queue: ReceiveQueue
  readonly #channel: ChannelTracker
  readonly #records: FrameRecords
  readonly #main: ReconnectingLink
  readonly #linkOptions: {
    host: string
    port: number
    bus: string
    handshakeTimeoutMs: number
    keepaliveMs: number
    logger: Logger
  }
  readonly #policy: ReconnectPolicy | null
  readonly #sendTimeoutMs: number
  #bcm: ReconnectingLink | undefined
  /** running periodic tasks by BCM job key */
  readonly #jobs = new Map<string, PeriodicTask>()
  readonly #jobTimers = new Map<PeriodicTask, NodeJS.Timeout>()
  #subscriptions: Subscription[] = []
  #framesSent = 0
  #serverErrors = 0
  #ignored = 0
  #paused = false

  /**
   * Connects, opens the channel and switches mode; rejects with CanInitializationError when
   * the server cannot be reached within `connectTimeoutMs` or refuses the channel.
   */
  static async connect(options: SocketcandBusOptions): Promise<SocketcandBus> {
    const resolved = resolveOptions(options)
    const bus = new SocketcandBus(resolved, options.canFilters ?? null)
    try {
      await bus.#main.start(resolved.connectTimeoutMs)
    } catch (error) {
      await bus.shutdown()
      if (!(error instanceof SocketcandLinkError)) throw error
      throw new CanInitializationError(
        `cannot use socketcand bus ${JSON.stringify(resolved.channel)}: ${error.message}`,
        { cause: error },
      )
    }
    return bus
  }

  private constructor(options: ResolvedSocketcandOptions, filters: readonly CanFilter[] | null) {
    super()
    const { host, port, channel, mode } = options
    this.mode = mode
    this.#logger = options.logger
    this.#sendTimeoutMs = options.sendTimeoutMs
    this.#policy = options.reconnect
    this.#linkOptions = {
      host,
      port,
      bus: channel,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      keepaliveMs: options.keepaliveMs,
      logger: this.#logger,
    }
    this.#queue = new ReceiveQueue({
      capacity: options.receiveQueueFrames,
      onDrain: () => this.#resume(),
    })
    this.#queue.ownMessages = options.receiveOwnMessages
    this.filteredInternally = true
    this.#channel = new ChannelTracker(`${host}:${port}`, channel)
    this.#records = new FrameRecords(this.#queue, this.#channel, () => this.#pause())
    this.channelInfo = `socketcand on ${channel}@${host}:${port}`
    const extension = options.extension
    this.#main = new ReconnectingLink(
      {
        ...this.#linkOptions,
        mode,
        extensionFeatures: extension ? SOCKETCAND_EXTENSION_FEATURES : [],
        role: 'main',
      },
      {
        frame: (frame) => this.#records.add(frame),
        chunkEnd: () => this.#records.flush(),
        serverError: (text) => this.#serverError('main', text),
        ignored: (message) => this.#ignore('main', message),
        up: () => this.#mainUp(),
        down: (reason) => this.#down('main', reason),
      },
      this.#policy,
    )
    this.setFilters(filters)
  }

  /** The channel name messages carry: `host:port/bus`. */
  get channel(): string {
    return this.#channel.name
  }

  /** True while the main connection is up. */
  get connected(): boolean {
    return this.#main.link !== undefined
  }

  /** Extension features the server enabled (`rtr`, `fd`, `errdata`); empty for socketcand. */
  get features(): ReadonlySet<string> {
    return this.#main.link?.features ?? new Set()
  }

  /**
   * socketcand reports no bus state: 'active' while connected, 'stopped' during an outage
   * and after shutdown.
   */
  get state(): BusStateName {
    return this.connected && !this.isShutdown ? 'active' : 'stopped'
  }

  stats(): SocketcandBusStats {
    const channel = this.#channel
    return {
      connected: this.connected,
      features: [...this.features],
      framesIn: channel.framesIn,
      framesDelivered: channel.framesDelivered,
      framesFiltered: channel.framesFiltered,
      framesSent: this.#framesSent,
      sendFailures: channel.sendFailures,
      serverErrors: this.#serverErrors,
      ignoredMessages: this.#ignored,
      main: this.#main.counters,
      bcm: this.#bcm?.counters ?? null,
      receiveQueue: {
        frames: this.#queue.size,
        capacity: this.#queue.capacity,
        peak: this.#queue.peak,
        paused: this.#paused,
      },
    }
  }

  /**
   * Replaces the receive filters (applied here, python-can's rule). In BCM mode they also
   * choose what the server sends: each filter must name one exact id.
   */
  override setFilters(filters: readonly CanFilter[] | null = null): void {
    if (this.mode !== 'bcm') {
      super.setFilters(filters)
      return
    }
    const subscriptions = subscriptionsOf(normalizeFilters(filters))
    if (typeof subscriptions === 'string') throw new RangeError(subscriptions)
    super.setFilters(filters)
    this.#resubscribe(subscriptions)
  }

  /**
   * Transmits a frame: `< send >` (remote and CAN FD frames only when the server enabled the
   * extension). Resolves once the command is handed to the connection; socketcand sends no
   * confirmation, and answers a command it refuses with `< error >` later ('serverError').
   */
  override async send(message: CanMessage, options: SendOptions = {}): Promise<void> {
    if (!(message instanceof CanMessage)) throw new TypeError('send() takes a CanMessage')
    if (this.isShutdown) throw new CanOperationError('the bus is shut down', { reason: 'shutdown' })
    const timeoutMs = options.timeoutMs ?? this.#sendTimeoutMs
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) {
      throw new RangeError(`timeoutMs must be a number > 0, got ${String(timeoutMs)}`)
    }
    const channel = this.resolveChannel(options.channel, message.channel)
    const frame: CanFrame = { timestampNs: 0n, ...message.toTxFrame() }
    const fail = (
      text: string,
      reason: 'not-connected' | 'not-allowed' | 'invalid-frame' | 'timeout',
    ) => {
      this.#channel.sendFailures++
      return new CanOperationError(`send on ${channel} failed: ${reason} (${text})`, {
        reason,
        channel,
      })
    }
    if (frame.flags & FRAME_FLAG.ERR) throw fail('error frames cannot be sent', 'invalid-frame')
    const link = this.#main.link
    const feature =
      frame.flags & FRAME_FLAG.RTR ? 'rtr' : frame.flags & FRAME_FLAG.FD ? 'fd' : undefined
    if (feature !== undefined && link !== undefined && !link.features.has(feature)) {
      const what = feature === 'rtr' ? 'remote frames' : 'CAN FD frames'
      throw fail(
        `the server cannot send ${what}: socketcand's protocol has no such command; a canbridge edge has (extension '${feature}')`,
        'not-allowed',
      )
    }
    if (link === undefined) throw fail('no connection to the socketcand server', 'not-connected')
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(fail(`not written within ${timeoutMs} ms`, 'timeout')),
        timeoutMs,
      )
    })
    try {
      await Promise.race([link.write(formatSocketcandSend(frame)), timeout])
    } catch (error) {
      if (error instanceof SocketcandLinkError) throw fail(error.message, 'not-connected')
      throw error
    } finally {
      clearTimeout(timer)
    }
    this.#framesSent++
    this.#channel.framesOut++
    if (this.#queue.ownMessages) {
      this.#records.add({ ...frame, timestampNs: nowNs() }, FRAME_FLAG.TX)
      this.#records.flush()
    }
  }

  /**
   * python-can's `send_periodic` over socketcand's broadcast manager: one message per task,
   * a classic data frame, one running task per CAN id (the BCM keys its jobs by id).
   */
  override sendPeriodic(
    messages: CanMessage | readonly CanMessage[],
    periodMs: number,
    options: SendPeriodicOptions = {},
  ): PeriodicTask {
    const list = Array.isArray(messages) ? messages : [messages as CanMessage]
    if (list.every((message) => message instanceof CanMessage)) {
      const problem = periodicProblem(list)
      if (problem !== undefined) throw new CanOperationError(problem, { reason: 'not-allowed' })
      const key = jobKey(list[0]!.arbitrationId, list[0]!.isExtendedId)
      if (this.#jobs.get(key)?.running) {
        throw new CanOperationError(
          `a periodic task for id 0x${list[0]!.arbitrationId.toString(16)} is running already: socketcand keeps one job per id (stop it, or use modifyData)`,
          { reason: 'not-allowed' },
        )
      }
    }
    return super.sendPeriodic(messages, periodMs, options)
  }

  protected override get receiveQueue(): ReceiveQueue {
    return this.#queue
  }

  protected override resolveChannel(
    requested: string | undefined,
    ofMessage: string | null,
  ): string {
    const channel = requested ?? ofMessage ?? this.#channel.name
    if (channel !== this.#channel.name && channel !== this.#channel.iface) {
      throw new RangeError(
        `channel ${JSON.stringify(channel)} is not this bus's (${JSON.stringify(this.#channel.name)} or ${JSON.stringify(this.#channel.iface)})`,
      )
    }
    return this.#channel.name
  }

  protected override startPeriodicInternal(task: PeriodicTask): void {
    const message = task.messages[0]!
    const key = jobKey(message.arbitrationId, message.isExtendedId)
    const previous = this.#jobs.get(key)
    // restarted while another task holds the id: the BCM job is replaced, so is the task
    if (previous !== undefined && previous !== task && previous.running) previous.stop()
    this.#jobs.set(key, task)
    const remaining = task.remainingMs()
    if (remaining !== undefined) {
      const timer = setTimeout(() => {
        this.#jobTimers.delete(task)
        if (this.#jobs.get(key) === task) {
          this.#jobs.delete(key)
          this.#bcmWrite(deleteCommand(task))
        }
      }, remaining)
      timer.unref()
      this.#jobTimers.set(task, timer)
    }
    this.#bcmLink()
    this.#bcmWrite(addCommand(task))
  }

  protected override modifyPeriodicInternal(task: PeriodicTask): void {
    const problem = periodicProblem(task.messages)
    if (problem !== undefined) throw new CanOperationError(problem, { reason: 'not-allowed' })
    this.#bcmWrite(updateCommand(task))
  }

  protected override stopPeriodicInternal(task: PeriodicTask): void {
    clearTimeout(this.#jobTimers.get(task))
    this.#jobTimers.delete(task)
    const message = task.messages[0]!
    const key = jobKey(message.arbitrationId, message.isExtendedId)
    if (this.#jobs.get(key) !== task) return
    this.#jobs.delete(key)
    this.#bcmWrite(deleteCommand(task))
  }

  protected override async shutdownInternal(): Promise<void> {
    this.#queue.close()
    for (const timer of this.#jobTimers.values()) clearTimeout(timer)
    this.#jobTimers.clear()
    await Promise.all([
      this.#main.close('the bus is shutting down'),
      this.#bcm?.close('the bus is shutting down'),
    ])
  }

  /** The connection that takes BCM commands: the main one in BCM mode, else a second one. */
  #bcmLink(): ReconnectingLink {
    if (this.mode === 'bcm') return this.#main
    if (this.#bcm === undefined) {
      this.#bcm = new ReconnectingLink(
        { ...this.#linkOptions, mode: 'bcm', extensionFeatures: [], role: 'bcm' },
        {
          frame: () => this.#ignore('bcm', 'frame'),
          chunkEnd: () => {},
          serverError: (text) => this.#serverError('bcm', text),
          ignored: (message) => this.#ignore('bcm', message),
          up: () => this.#bcmUp(),
          down: (reason) => this.#down('bcm', reason),
        },
        this.#policy ?? DEFAULT_RECONNECT,
      )
      this.#bcm.startInBackground()
    }
    return this.#bcm
  }

  /** Writes a BCM command when the BCM connection is up; otherwise `#bcmUp` sends the state. */
  #bcmWrite(command: string): void {
    const link = this.#bcmLink().link
    if (link === undefined) return
    link.write(command).catch((error: unknown) => {
      if (!(error instanceof SocketcandLinkError)) throw error
      // the connection died: its reconnect sends every running job again
      this.#logger.debug({ error: error.message }, 'socketcand BCM command not written')
    })
  }

  #mainUp(): void {
    const link = this.#main.link!
    this.#logger.info(
      { server: this.channelInfo, features: [...link.features] },
      `socketcand ${this.channelInfo} connected`,
    )
    if (this.mode === 'bcm') {
      for (const subscription of this.#subscriptions) this.#bcmWrite(subscribeCommand(subscription))
      this.#sendJobs()
    }
    this.emit('connected', { link: 'main', features: [...link.features] })
  }

  #bcmUp(): void {
    this.#sendJobs()
    this.emit('connected', { link: 'bcm', features: [] })
  }

  #sendJobs(): void {
    for (const task of this.#jobs.values()) {
      const remaining = task.remainingMs()
      if (task.running && (remaining === undefined || remaining > 0))
        this.#bcmWrite(addCommand(task))
    }
  }

  #down(link: SocketcandLinkRole, reason: string): void {
    if (this.isShutdown) return
    if (link === 'main') this.#records.flush()
    this.#logger.warn({ link, reason }, `socketcand ${link} connection lost: ${reason}`)
    this.emit('disconnected', { link, reason })
    if (link === 'main' && this.#policy === null) {
      this.shutdown().catch((error: unknown) =>
        this.#logger.error({ error: String(error) }, 'shutdown failed'),
      )
    }
  }

  #resubscribe(next: Subscription[]): void {
    const keys = new Set(next.map((s) => jobKey(s.id, s.extended)))
    const before = new Set(this.#subscriptions.map((s) => jobKey(s.id, s.extended)))
    const link = this.#main.link
    if (link !== undefined) {
      for (const old of this.#subscriptions) {
        if (!keys.has(jobKey(old.id, old.extended))) this.#bcmWrite(unsubscribeCommand(old))
      }
      for (const added of next) {
        if (!before.has(jobKey(added.id, added.extended))) this.#bcmWrite(subscribeCommand(added))
      }
    }
    this.#subscriptions = next
  }

  #serverError(link: SocketcandLinkRole, text: string): void {
    this.#serverErrors++
    this.#logger.warn({ link, text }, `socketcand refused a command: ${text}`)
    this.emit('serverError', { link, text })
  }

  #ignore(link: SocketcandLinkRole, message: SocketcandServerMessage | string): void {
    this.#ignored++
    this.#logger.debug(
      { link, message: typeof message === 'string' ? message : message.type },
      'socketcand message ignored',
    )
  }

  #pause(): void {
    if (this.#paused) return
    this.#paused = true
    this.#main.link?.pause()
  }

  #resume(): void {
    if (!this.#paused) return
    this.#paused = false
    this.#main.link?.resume()
  }
}

/** Wall-clock time in nanoseconds (microsecond resolution), for own messages' timestamps. */
function nowNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n
}
