// Messages between the supervisor and the socketcand worker. As with the other workers,
// a type the receiver does not know is a fatal bug, never ignored.
import type { LogMessage } from '../messages.ts'
import type { TxPolicySettings } from '../tx-policy/tx-policy.ts'

export interface SocketcandWorkerData {
  /** undefined = every address */
  host: string | undefined
  port: number
  /** send the UDP discovery beacon */
  beacon: boolean
  /** the edge's channels as configured */
  channels: string[]
  /** listen-only, --tx-allow, --tx-rate-limit: the same rules as for the canbridge link */
  txPolicy: TxPolicySettings
  /** the refusal counters the supervisor reports (shared with the poll worker) */
  txRefusals: SharedArrayBuffer
  /** transmit requests that may wait per client when the CAN TX queue is full */
  txQueueLimit: number
  /** how long such a request may wait */
  txTimeoutMs: number
  /** --socketcand-error-mask: error classes sent to raw-mode clients */
  errorMask: number
  /** --socketcand-line-feeds */
  lineFeeds: boolean
}

export type SupervisorToSocketcand = { type: 'stop' }

export type SocketcandToSupervisor =
  | LogMessage
  | { type: 'listening'; address: string; port: number }
  | { type: 'listen-failed'; code: string; message: string }
  | { type: 'stopped' }
