// Every message between TCPBus (the application's thread) and its worker, typed. Frames do not
// travel here: they cross in the frame ring (frame-ring-layout.ts).
import type { BusStateName, TxFrame } from '@canbridge/protocol'
import type { EdgeInfo } from '../edge-session.ts'
import type { CanFilter } from '../filters.ts'
import type {
  DropsEvent,
  GapEvent,
  PeerInfo,
  StateChangeEvent,
  TCPBusAddress,
  TCPBusStats,
} from '../tcp-bus-events.ts'
import type { ResolvedTCPBusOptions } from '../tcp-bus-options.ts'
import type { TransferredError } from '../worker-host/transferred-error.ts'
import type { FrameRingBuffers } from './frame-ring-layout.ts'

export interface BusWorkerInit {
  options: ResolvedTCPBusOptions
  ring: FrameRingBuffers
  filters: readonly CanFilter[] | null
}

/** A periodic task as the worker keeps it (to start it again on an edge that reconnects). */
export interface PeriodicTaskData {
  taskId: number
  channel: string
  frames: TxFrame[]
  periodMs: number
  /** duration left when it was sent; undefined: until stopped */
  remainingMs: number | undefined
}

/** What the application's thread mirrors of the link, sent with every change. */
export interface LinkView {
  edges: EdgeInfo[]
  channels: [name: string, connected: boolean, state: BusStateName][]
}

/** Application's thread → worker. */
export type ToBusWorker =
  /** sentAt: the wall clock (ms, fractional) of send() in the caller's thread */
  | { type: 'send'; id: number; channel: string; frame: TxFrame; timeoutMs: number; sentAt: number }
  | { type: 'filters'; filters: readonly CanFilter[] | null }
  | { type: 'periodicStart'; task: PeriodicTaskData }
  | { type: 'periodicModify'; task: PeriodicTaskData }
  | { type: 'periodicStop'; taskId: number; channel: string }
  /** a synchronous call: the reply is TCPBusStats */
  | { type: 'stats' }
  | { type: 'shutdown' }

/** Worker → application's thread. */
export type FromBusWorker =
  | { type: 'listening'; address: TCPBusAddress; view: LinkView }
  /** a send settled: no error means the edge accepted the frame */
  | {
      type: 'sendResult'
      id: number
      error: TransferredError | undefined
      view: LinkView | undefined
    }
  | { type: 'edgeConnected'; edge: EdgeInfo; view: LinkView }
  | { type: 'edgeDisconnected'; edge: EdgeInfo; reason: string; view: LinkView }
  | { type: 'edgeError'; error: TransferredError; peer: PeerInfo }
  | { type: 'gap'; gap: GapEvent }
  | { type: 'drops'; drops: DropsEvent }
  | { type: 'stateChange'; change: StateChangeEvent; view: LinkView }
  | {
      type: 'log'
      level: 'error' | 'warn' | 'info' | 'debug'
      fields: Record<string, unknown>
      message: string
    }
  /** the server is shut down: the worker ends */
  | { type: 'closed' }

export type BusWorkerReply = TCPBusStats
