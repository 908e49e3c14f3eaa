// Test tooling shipped with the package (`@canbridge/edge-client/testing`), used by its own
// tests and by packages/e2e: the daemon as a child process with its JSON log, certificates made
// with openssl for its TLS options, and candump as ground truth on a real (v)can interface.
export { canReceivers, settled, waitForNewReceiver } from './can-receivers.ts'
export {
  CandumpLog,
  type CandumpMessage,
  candumpLine,
  candumpTimeUs,
  withoutTime,
} from './candump.ts'
export {
  createTestPki,
  type KeyPair,
  opensslFingerprint,
  pem,
  type TestPki,
} from './certificates.ts'
export { DIST_MAIN, EdgeProcess, type LogLine, MAIN, startEdge } from './edge-process.ts'
