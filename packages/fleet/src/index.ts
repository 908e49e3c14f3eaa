// Public API of @canbridge/fleet.
export { BATCH_HEADER, batchMessageId } from './batch-headers.ts'
export { ChannelOrder, type DropReport, type Gap } from './channel-order.ts'
export { ChannelPublisher, type ChannelPublisherOptions } from './channel-publisher.ts'
export { FLEET_ERROR, FleetError, type FleetErrorCode } from './errors.ts'
export { FleetBus, type FleetBusOptions } from './fleet-bus.ts'
export {
  type ConsumeOptions,
  type FleetBatch,
  FleetClient,
  type FleetClientEvents,
  type FleetClientOptions,
  type FrameSelection,
} from './fleet-client.ts'
export { FleetFrame } from './fleet-frame.ts'
export { Gateway, type GatewayOptions } from './gateway.ts'
export { JetStreamSink, type JetStreamSinkEvents } from './jetstream-sink.ts'
export { LossCounter } from './loss-counter.ts'
export { DEFAULT_STREAM, ensureStream, type FleetStreamOptions, streamProblems } from './stream.ts'
export {
  FleetSubjects,
  nameOfToken,
  SUBJECT_KIND,
  type SubjectKind,
  subjectToken,
} from './subjects.ts'
export type {
  TxFrameJson,
  TxPeriodicRequest,
  TxPeriodicStopRequest,
  TxReply,
  TxRequest,
  TxSendRequest,
} from './tx-requests.ts'
