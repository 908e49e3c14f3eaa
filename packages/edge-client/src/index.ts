// Public API of @canbridge/edge-client: the daemon's parts, for embedding and tests. The
// command is `canbridge-edge` (src/main.ts).
export { busStateOfError, CAN_ERR, CAN_ERR_CRTL } from './can/bus-state.ts'
export {
  CAN_OPEN_ERROR,
  CanOpenError,
  type CanOpenErrorCode,
  type CanSource,
  type CanSourceEvents,
  kernelFilters,
  type LinkState,
  matchesFilters,
  type SendOutcome,
} from './can/can-source.ts'
export { FrameBatch } from './can/frame-batch.ts'
export { interfaceState, SocketCanSource } from './can/socketcan-source.ts'
export {
  parseVirtualChannel,
  VIRTUAL_PATTERNS,
  type VirtualOptions,
  type VirtualPattern,
  VirtualSource,
} from './can/virtual-source.ts'
export {
  ConfigError,
  DROP_POLICIES,
  type DropPolicy,
  type EdgeConfig,
  type FlagValues,
  loadConfig,
  SETTINGS,
  type ServerAddress,
} from './config.ts'
export {
  type ConnectTransport,
  type Link,
  type LinkHandlers,
  type LinkOptions,
  type OpenLink,
  openServerLink,
  ServerLink,
  type Transport,
} from './link/connection.ts'
export { describeAddress } from './link/server-address.ts'
export { createLogger, type Logger } from './logger.ts'
export { EXIT, main, parseFlags, versionText } from './main.ts'
export { PeriodicScheduler } from './periodic.ts'
export {
  createDoorbell,
  createRing,
  DOORBELL,
  MAX_RING_BYTES,
  MIN_RING_BYTES,
  RING_CONTROL,
  RING_COUNTER,
  RingConsumer,
  RingMonitor,
  RingProducer,
  RUN_KIND,
} from './ring.ts'
export {
  type ChannelSnapshot,
  type Snapshot,
  StartupError,
  Supervisor,
  type WorkerKind,
} from './supervisor.ts'
export { packageVersion } from './version.ts'
