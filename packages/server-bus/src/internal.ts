// Building blocks that the canbridge tools (@canbridge/cli, @canbridge/soak) share with the
// library: `@canbridge/server-bus/internal`. Not a public API: it changes with the tools.

export type { CandumpLineFormat } from './logs/candump-line.ts'
export { HEX_BYTE, hex3, hex8 } from './logs/hex.ts'
export { InterfaceNames } from './logs/interface-name.ts'
export { LineSplitter } from './logs/line-splitter.ts'
export { checkLogSuffix } from './logs/log-reader.ts'
export { formatMicroseconds, microsecondsOf } from './logs/log-time.ts'
export { drained } from './logs/text-sink.ts'
export { isLoopbackHost } from './security/exposure.ts'
export {
  parseTokenTable,
  TOKEN_TABLE_VERSION,
  type TokenTable,
} from './security/token-table-format.ts'
