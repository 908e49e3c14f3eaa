// `@canbridge/server-bus/edge-server`: the building blocks of TCPBus for servers and buses of
// other kinds (the fleet gateway, fleet.bus): edges accepted exactly as TCPBus accepts them
// (TLS, tokens, allow-lists, limits), their frames handed to a sink of the caller's; and the
// receive queue and queue-backed Bus base that TCPBus and SocketcandBus read from.
export { ChannelTracker } from './channel-tracker.ts'
export {
  type DurableStore,
  EdgeServer,
  type EdgeServerInit,
  type PeriodicSpec,
  type ReceiveSink,
} from './edge-server.ts'
export { type FrameSource, QueueBackedBus } from './queue-backed-bus.ts'
export { ReceiveQueue, type ReceiveQueueOptions } from './receive-queue.ts'
export type { DropsEvent, GapEvent, StateChangeEvent, TCPBusEvents } from './tcp-bus-events.ts'
export {
  type ResolvedTCPBusOptions,
  resolveTCPBusOptions,
  type TCPBusOptions,
} from './tcp-bus-options.ts'
