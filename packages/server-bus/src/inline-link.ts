// TCPBus's link on the application's own thread: an EdgeServer feeding a ReceiveQueue.
import type { BusStateName, TxFrame } from '@canbridge/protocol'
import { EdgeServer, type PeriodicSpec } from './edge-server.ts'
import type { EdgeInfo } from './edge-session.ts'
import type { CanFilter } from './filters.ts'
import type { Logger } from './logger.ts'
import { ReceiveQueue } from './receive-queue.ts'
import type { TCPBusAddress, TCPBusStats } from './tcp-bus-events.ts'
import type { TCPBusLink, TCPBusLinkHost } from './tcp-bus-link.ts'
import type { ResolvedTCPBusOptions } from './tcp-bus-options.ts'

export class InlineLink implements TCPBusLink {
  readonly queue: ReceiveQueue
  readonly #server: EdgeServer

  static async start(
    options: ResolvedTCPBusOptions,
    logger: Logger,
    host: TCPBusLinkHost,
  ): Promise<InlineLink> {
    let server: EdgeServer | undefined
    const queue = new ReceiveQueue({
      capacity: options.receiveQueueFrames,
      onDrain: () => server?.resumeEdges(),
    })
    queue.ownMessages = options.receiveOwnMessages
    queue.filters = host.filters()
    server = await EdgeServer.listen({
      options,
      logger,
      sink: queue,
      periodicTasks: () => host.periodicTasks(),
      filters: () => host.filters(),
    })
    server.on('edgeConnected', (...args) => host.emit('edgeConnected', ...args))
    server.on('edgeDisconnected', (...args) => host.emit('edgeDisconnected', ...args))
    server.on('edgeError', (...args) => host.emit('edgeError', ...args))
    server.on('gap', (...args) => host.emit('gap', ...args))
    server.on('drops', (...args) => host.emit('drops', ...args))
    server.on('stateChange', (...args) => host.emit('stateChange', ...args))
    return new InlineLink(server, queue)
  }

  private constructor(server: EdgeServer, queue: ReceiveQueue) {
    this.#server = server
    this.queue = queue
  }

  get address(): TCPBusAddress {
    return this.#server.address
  }

  get channels(): string[] {
    return this.#server.channels
  }

  get edges(): EdgeInfo[] {
    return this.#server.edges
  }

  findEdge(edgeId: string | undefined): EdgeInfo | undefined {
    return this.#server.findEdge(edgeId)
  }

  get state(): BusStateName {
    return this.#server.state
  }

  channelState(channel: string): BusStateName {
    return this.#server.channelState(channel)
  }

  stats(): TCPBusStats {
    return this.#server.stats()
  }

  send(channel: string, frame: TxFrame, timeoutMs: number): Promise<void> {
    return this.#server.send(channel, frame, timeoutMs)
  }

  pushFilters(_filters: readonly CanFilter[] | null): void {
    this.#server.pushFilters()
  }

  startPeriodic(task: PeriodicSpec): void {
    this.#server.startPeriodic(task)
  }

  modifyPeriodic(task: PeriodicSpec): void {
    this.#server.modifyPeriodic(task)
  }

  stopPeriodic(task: PeriodicSpec): void {
    this.#server.stopPeriodic(task)
  }

  async shutdown(): Promise<void> {
    this.queue.close()
    await this.#server.shutdown()
  }
}
