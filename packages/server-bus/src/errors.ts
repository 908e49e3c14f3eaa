// The one error hierarchy of the package, after python-can's can/exceptions.py:
// CanError → CanInitializationError | CanOperationError | CanTimeoutError. Errors with
// fields of their own extend these: EdgeSessionError, SocketcandLinkError, and the log
// readers' and writers' LogParseError, LogFormatError and FileWriteError.

/** Base class of every CAN error this package raises. */
export class CanError extends Error {
  override readonly name: string = 'CanError'
}

/** The bus could not be set up (listening failed, bad options that are fine by type). */
export class CanInitializationError extends CanError {
  override readonly name: string = 'CanInitializationError'
}

/**
 * Why a send failed: the edge's TRANSMIT_RESULT error string (PROTOCOL.md §5.6), or one of
 * the server's own: `timeout` (no result in time), `queue-full` (the disconnected-send
 * queue is at its bound), `shutdown` (the bus was shut down first).
 */
export type SendFailureReason =
  | 'not-connected'
  | 'listen-only'
  | 'tx-queue-full'
  | 'interface-down'
  | 'timeout'
  | 'ttl-expired'
  | 'not-allowed'
  | 'invalid-frame'
  | 'rate-limited'
  | 'internal'
  | 'queue-full'
  | 'shutdown'

export interface CanOperationErrorOptions extends ErrorOptions {
  /** machine-readable cause of a failed send */
  reason?: SendFailureReason | undefined
  /** the channel involved, e.g. `pi-garage/can0` */
  channel?: string | undefined
}

/** An operation on a working bus failed: a send was refused, timed out or was cut off. */
export class CanOperationError extends CanError {
  override readonly name: string = 'CanOperationError'
  readonly reason: SendFailureReason | undefined
  readonly channel: string | undefined

  constructor(message: string, options: CanOperationErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.reason = options.reason
    this.channel = options.channel
  }
}

/** An operation did not finish in time (e.g. `waitForEdge`). */
export class CanTimeoutError extends CanError {
  override readonly name: string = 'CanTimeoutError'
}
