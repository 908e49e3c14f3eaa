// The error a server raises about one edge connection's behaviour (that connection closes).
import { CanError } from './errors.ts'

/** Why the server closed an edge connection, when the decoder itself found nothing wrong. */
export type EdgeSessionErrorCode =
  | 'HANDSHAKE_TIMEOUT'
  | 'HEARTBEAT_TIMEOUT'
  | 'BAD_HELLO'
  | 'UNEXPECTED_MESSAGE'
  | 'BAD_CHANNEL'
  | 'EDGE_FATAL_ERROR'
  | 'EDGE_ERROR'
  | 'AUTH_REQUIRED'
  | 'AUTH_FAILED'
  | 'TOO_MANY_EDGES'
  | 'SLOW_PEER'
  /** the server could not admit the edge now (its store is unreachable): the edge retries */
  | 'ADMIT_FAILED'

/** A connection-level fault the server found in an edge's behaviour (closes that connection). */
export class EdgeSessionError extends CanError {
  override readonly name: string = 'EdgeSessionError'
  readonly code: EdgeSessionErrorCode

  constructor(code: EdgeSessionErrorCode, message: string, options?: ErrorOptions) {
    super(`${code}: ${message}`, options)
    this.code = code
  }
}
