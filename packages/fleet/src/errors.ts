// The fleet package's one error root: every failure a caller can act on has a code here.

export const FLEET_ERROR = {
  /** no NATS server answered at the given address(es) */
  NATS_UNREACHABLE: 'NATS_UNREACHABLE',
  /** the stream a reader names does not exist (a gateway makes it on its first start) */
  NO_STREAM: 'NO_STREAM',
  /** the stream exists with settings canbridge cannot keep its promise with */
  STREAM_CONFIG: 'STREAM_CONFIG',
  /** an edge id or channel that cannot be a subject token (empty, too long) */
  BAD_NAME: 'BAD_NAME',
  /** another writer stored to this channel's subject since we last read it */
  PUBLISH_CONFLICT: 'PUBLISH_CONFLICT',
  /** a stored message that is not a canbridge batch */
  BAD_MESSAGE: 'BAD_MESSAGE',
  /** the client was closed */
  CLOSED: 'CLOSED',
} as const

export type FleetErrorCode = (typeof FLEET_ERROR)[keyof typeof FLEET_ERROR]

export class FleetError extends Error {
  override name = 'FleetError'
  readonly code: FleetErrorCode

  constructor(code: FleetErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}
