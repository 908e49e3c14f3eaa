// The key tool's programmatic API: what "canbridge keys" does, for programs and tests
// (e.g. a test's own CA, or an expired edge certificate through `now`).
export { type AddEdgeOptions, type AddEdgeResult, addEdge } from './add-edge.ts'
export { DEFAULT_CA_DAYS } from './certificate-authority.ts'
export { createKeysCommand, type KeysCommandOutput } from './command.ts'
export {
  generateEdgeToken,
  parseTokenTable,
  readTokenTable,
  TOKEN_TABLE_VERSION,
  type TokenTable,
} from './edge-tokens.ts'
export { KeysError, type KeysErrorCode } from './errors.ts'
export { fingerprintOfDer, fingerprintOfFile } from './fingerprint.ts'
export { defaultServerNames, type InitOptions, type InitResult, initPki } from './init.ts'
export { checkEdgeId, MAX_DAYS } from './inputs.ts'
export {
  type CertificateSummary,
  type EdgeSummary,
  EXPIRY_WARNING_DAYS,
  inspectPki,
  type PkiSummary,
} from './inspect.ts'
export {
  DEFAULT_PKI_DIR,
  type EdgeFiles,
  edgeFiles,
  FILE_MODE,
  type PkiLayout,
  pkiLayout,
} from './layout.ts'
export { DEFAULT_LEAF_DAYS, edgeUri } from './leaf-certificates.ts'
export { type RevokeEdgeOptions, type RevokeEdgeResult, revokeEdge } from './revoke-edge.ts'
