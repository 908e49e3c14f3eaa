// `@canbridge/server-bus/edge-server`: the link side of TCPBus for servers of other kinds (the
// fleet gateway): edges accepted exactly as TCPBus accepts them (TLS, tokens, allow-lists,
// limits), their frames handed to a sink of the caller's.
export type { ChannelTracker } from './channel-tracker.ts'
export {
  type DurableStore,
  EdgeServer,
  type EdgeServerInit,
  type PeriodicSpec,
  type ReceiveSink,
} from './edge-server.ts'
export type { DropsEvent, GapEvent, StateChangeEvent, TCPBusEvents } from './tcp-bus-events.ts'
export {
  type ResolvedTCPBusOptions,
  resolveTCPBusOptions,
  type TCPBusOptions,
} from './tcp-bus-options.ts'
