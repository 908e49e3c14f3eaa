// Test tooling shipped with the package (`@canbridge/server-bus/testing`): hostile peers for
// flood tests of a TCPBus, used by this package's flood benchmark and the edge's flood test.
export {
  BOGUS_KINDS,
  type BogusKind,
  type BogusOptions,
  type BogusTally,
  runBogusPeers,
} from './bogus-peers.ts'
