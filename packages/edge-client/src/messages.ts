// Messages between the supervisor (main thread), the poll worker and the socket-write
// worker. Every receiver treats a type it does not know as a fatal bug, never ignores it.

import type { MessagePort } from 'node:worker_threads'
import type {
  BusStateName,
  CanFilter,
  PeriodicModify,
  PeriodicStart,
  PeriodicStop,
  TransmitResult,
  TxFrame,
} from '@canbridge/protocol'
import type { CanOpenErrorCode, SourceAccounting } from './can/can-source.ts'
import type { ServerAddress } from './config.ts'
import type { LinkSecurity } from './link/security/link-security.ts'
import type { TxPolicySettings } from './tx-policy/tx-policy.ts'

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'

export interface LogMessage {
  type: 'log'
  level: LogLevel
  msg: string
  fields?: Record<string, unknown>
}

export interface ChannelInfo extends SourceAccounting {
  name: string
  fd: boolean
}

export interface PollWorkerData {
  channels: string[]
  rings: SharedArrayBuffer[]
  doorbell: SharedArrayBuffer
  /** listen-only, --tx-allow, --tx-rate-limit */
  txPolicy: TxPolicySettings
  /** counters of refused transmits (tx-policy/refusal-counters.ts), shared with the others */
  txRefusals: SharedArrayBuffer
  /** most transmit requests waiting per channel (beyond: tx-queue-full at once) */
  txQueueLimit: number
  /** how long a transmit without ttlMs may wait for room in the TX queue */
  txTimeoutMs: number
  /** SO_RCVBUF of each CAN socket: bytes, or auto (one second at the interface's frame rate) */
  receiveBuffer: number | 'auto'
  /** take echoes of own frames from the kernel (CAN_RAW_RECV_OWN_MSGS) where the binding can */
  kernelEcho: boolean
  /** the longest a frame waits in the kernel's queue so that a steady bus is read in batches */
  maxReadDelayMs: number
}

export interface SpoolSettings {
  dir: string
  maxBytes: number
}

export interface WriteWorkerData {
  /** tried in this order; a failed or lost connection moves to the next (link/reconnector.ts) */
  servers: ServerAddress[]
  edgeId: string
  instanceId: string
  software: string
  channels: ChannelInfo[]
  rings: SharedArrayBuffer[]
  doorbell: SharedArrayBuffer
  spool: SpoolSettings | null
  dropPolicy: 'drop-newest' | 'drop-oldest'
  listenOnly: boolean
  /** TLS, token, --insecure (link/security/link-security.ts) */
  security: LinkSecurity
  /** the poll worker's counters of refused transmits, for STATS */
  txRefusals: SharedArrayBuffer
  statsIntervalMs: number
  /** fraction of the ring above which unacknowledged records move to the spool */
  highWater: number
  reconnectMinMs: number
  reconnectMaxMs: number
  handshakeTimeoutMs: number
  /** heartbeat interval before WELCOME says otherwise */
  heartbeatMs: number
  /**
   * The CAN side's settings when this worker hosts it (the default shape): it opens the
   * channels itself, and `channels` is empty until then. null: a poll worker reads them.
   */
  channelHost: PollWorkerData | null
}

// supervisor → workers
export type SupervisorToPoll = { type: 'port'; port: MessagePort } | { type: 'stop' }
export type SupervisorToWrite =
  | { type: 'port'; port: MessagePort }
  | { type: 'flush'; deadlineMs: number }

// workers → supervisor
export type PollToSupervisor =
  | LogMessage
  | { type: 'ready'; channels: ChannelInfo[] }
  | { type: 'open-failed'; channel: string; code: CanOpenErrorCode; message: string }
  | { type: 'stopped' }

export interface ChannelCounters {
  framesSent: number
  framesAcked: number
  ringBytes: number
  spoolBytes: number
  spoolFrames: number
  /** spool operations that failed since start */
  spoolErrors: number
  dropsSpoolFull: number
  dropsRingOldest: number
}

export interface WriteStats {
  connected: boolean
  /** the server connected to, or being tried when not connected (host:port) */
  server: string
  reconnects: number
  /** connections that moved on to another server of the list */
  failovers: number
  channels: ChannelCounters[]
}

export type WriteToSupervisor =
  | LogMessage
  /** channels: those it opened, when it hosts the CAN side */
  | { type: 'ready'; channels?: ChannelInfo[] }
  | { type: 'open-failed'; channel: string; code: CanOpenErrorCode; message: string }
  | { type: 'stats'; stats: WriteStats }
  | { type: 'flushed'; unacked: number; spooled: number; lost: number }

// socket-write side ↔ CAN side (can/channel-host.ts): over a MessagePort with a poll worker,
// by a call deferred to a microtask when the socket-write worker hosts the channels
export type WriteToPoll =
  | {
      type: 'transmit'
      requestId: number
      channel: number
      frame: TxFrame
      ttlMs: number | undefined
      /** Date.now() when the request arrived */
      receivedAt: number
    }
  | { type: 'filters'; channel: number | null; filters: CanFilter[] }
  | { type: 'periodic-start'; task: PeriodicStart }
  | { type: 'periodic-modify'; task: PeriodicModify }
  | { type: 'periodic-stop'; task: PeriodicStop }
  | { type: 'link'; connected: boolean; ownMessages: boolean }

export type PollToWrite =
  | { type: 'transmit-result'; result: TransmitResult }
  /** frames the interface lost (controller, driver): reported without a range */
  | { type: 'interface-loss'; channel: number; count: number }
  | { type: 'bus-state'; channel: number; state: BusStateName; timeMs: number }
  | { type: 'notice'; code: string; message: string }
