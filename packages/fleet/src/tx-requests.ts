// What travels on `<prefix>.tx.<edge>` (NATS request/reply, JSON): a consumer's request to
// whichever gateway holds the edge (a send, a periodic task started, renewed or stopped) and
// the gateway's reply, which carries TCPBus.send's confirmation or its failure reason.
import type { TxFrame } from '@canbridge/protocol'
import type { SendFailureReason } from '@canbridge/server-bus'

/** A frame as JSON. */
export interface TxFrameJson {
  id: number
  flags: number
  /** data length, or the DLC of a remote frame (default: data.length) */
  len?: number
  data: number[]
}

/** Send one frame on a channel of the edge; the reply comes with the edge's TRANSMIT result. */
export interface TxSendRequest {
  op?: 'send'
  /** the edge's interface, e.g. `can0` */
  channel: string
  frame: TxFrameJson
  timeoutMs?: number
}

/**
 * Start a periodic task on the edge, or renew its lease (and change its frames). The gateway
 * stops it when no renewal came within `leaseMs`: a consumer that dies leaves no task behind.
 */
export interface TxPeriodicRequest {
  op: 'periodic'
  /** the consumer's name for the task, unique among consumers (a FleetBus id and its task id) */
  task: string
  channel: string
  frames: TxFrameJson[]
  periodMs: number
  /** duration left, for a task with one */
  durationMs?: number
  leaseMs: number
}

export interface TxPeriodicStopRequest {
  op: 'periodic-stop'
  task: string
}

export type TxRequest = TxSendRequest | TxPeriodicRequest | TxPeriodicStopRequest

export interface TxReply {
  ok: boolean
  /** the failure as TCPBus.send words it (`send on veh-1/can0 failed: ...`) */
  error?: string
  reason?: SendFailureReason
}

export function frameToJson(frame: TxFrame): TxFrameJson {
  return { id: frame.id, flags: frame.flags, len: frame.len, data: [...frame.data] }
}

export function frameOfJson(json: TxFrameJson): TxFrame {
  if (!Number.isInteger(json?.id) || !Number.isInteger(json.flags) || !Array.isArray(json.data)) {
    throw new TypeError('frame must be { id, flags, len?, data: number[] }')
  }
  return {
    id: json.id,
    flags: json.flags,
    len: json.len ?? json.data.length,
    data: Uint8Array.from(json.data),
  }
}
