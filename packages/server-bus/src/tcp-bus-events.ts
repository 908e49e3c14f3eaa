// What TCPBus reports: its address, its events and its counters (the same in both modes).
import type { BusStateName } from '@canbridge/protocol'
import type { ChannelStats } from './channel-tracker.ts'
import type { EdgeInfo } from './edge-session.ts'

export type TCPBusAddress = { port: number; host: string } | { path: string }

export interface GapEvent {
  channel: string
  /** the sequence number the server expected */
  expectedSeq: number
  /** the first sequence number that arrived instead */
  firstSeq: number
  /** frames missing */
  missing: number
  /**
   * frames of it not counted lost before: less than `missing` when the edge reported (some
   * of) them in a DROPS already. Sum this, and `DropsEvent.newlyLost`, to count each loss once
   */
  newlyLost: number
}

/**
 * Frames the edge reports lost: one event per range counted. A report the edge resends
 * after a reconnect (the same range) counts once and emits nothing the second time.
 */
export interface DropsEvent {
  channel: string
  count: number
  reason: string
  fromSeq: number | null
  /**
   * frames of it not counted lost before: 0 when a sequence gap (or a report with another
   * reason) already showed them. Sum this, and `GapEvent.newlyLost`, to count each loss once
   */
  newlyLost: number
}

export interface StateChangeEvent {
  channel: string
  state: BusStateName
  previous: BusStateName
}

/** Where a connection came from, for 'edgeError'. */
export interface PeerInfo {
  peer: string
  /** known once the connection sent its HELLO */
  edgeId: string | undefined
}

export interface TCPBusEvents {
  edgeConnected: [edge: EdgeInfo]
  edgeDisconnected: [edge: EdgeInfo, reason: string]
  edgeError: [error: Error, peer: PeerInfo]
  gap: [gap: GapEvent]
  drops: [drops: DropsEvent]
  stateChange: [change: StateChangeEvent]
}

export interface TCPBusStats {
  channels: Record<string, ChannelStats>
  receiveQueue: {
    /** frames waiting now */
    frames: number
    /** the bound (`receiveQueueFrames`) */
    capacity: number
    /** most frames ever queued at once */
    peak: number
    /** edges whose socket is paused for backpressure */
    pausedEdges: number
  }
  /** edges connected now */
  edges: number
  /** connections in their handshake now */
  handshaking: number
  /** connections refused or closed before completing their handshake, by reason */
  refused: Record<string, number>
}
