// Test tooling shipped with the package (`@canbridge/server-bus/testing`): hostile peers for
// flood tests of a TCPBus, used by this package's flood benchmark and the edge's flood test;
// a scripted edge that drives a TCPBus step by step, used by this package's and the CLI's tests.
export {
  BOGUS_KINDS,
  type BogusKind,
  type BogusOptions,
  type BogusTally,
  runBogusPeers,
} from './bogus-peers.ts'
export {
  type FrameSpec,
  ScriptedEdge,
  type ScriptedEdgeOptions,
  sequenceFrame,
  sequenceOf,
} from './scripted-edge.ts'
