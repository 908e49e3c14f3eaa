// What TCPBus needs from its link to the edges, whether the link runs on the application's
// thread (InlineLink) or in a worker thread (WorkerLink): the Bus API is the same over both.
import type { BusStateName, TxFrame } from '@canbridge/protocol'
import type { PeriodicSpec } from './edge-server.ts'
import type { EdgeInfo } from './edge-session.ts'
import type { CanFilter } from './filters.ts'
import type { FrameSource } from './queue-backed-bus.ts'
import type { TCPBusAddress, TCPBusEvents, TCPBusStats } from './tcp-bus-events.ts'

export interface TCPBusLink {
  readonly address: TCPBusAddress
  /** every channel seen so far, `edgeId/interface` */
  readonly channels: string[]
  readonly edges: EdgeInfo[]
  /** the edge connected under this id, or any edge when none is given */
  findEdge(edgeId: string | undefined): EdgeInfo | undefined
  readonly state: BusStateName
  channelState(channel: string): BusStateName
  stats(): TCPBusStats
  /** where received frames wait for the application */
  readonly queue: FrameSource
  send(channel: string, frame: TxFrame, timeoutMs: number): Promise<void>
  pushFilters(filters: readonly CanFilter[] | null): void
  startPeriodic(task: PeriodicSpec): void
  modifyPeriodic(task: PeriodicSpec): void
  stopPeriodic(task: PeriodicSpec): void
  shutdown(): Promise<void>
}

/** How a link reports to its bus. */
export interface TCPBusLinkHost {
  emit<K extends keyof TCPBusEvents>(event: K, ...args: TCPBusEvents[K]): void
  /** the running periodic tasks, started again on each edge that connects */
  periodicTasks(): Iterable<PeriodicSpec>
  /** the filters in force */
  filters(): readonly CanFilter[] | null
  /** the link failed for good (its worker died or stopped answering) */
  failed(error: Error): void
}
