// The version `canbridge --version` prints: this package's, with the protocol it speaks.
import { readFileSync } from 'node:fs'
import { PROTOCOL_VERSION } from '@canbridge/protocol'

/** @canbridge/cli's version, from its package.json (beside src/ and dist/ alike). */
export function packageVersion(): string {
  const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8')
  return (JSON.parse(text) as { version: string }).version
}

export function versionText(): string {
  return `canbridge ${packageVersion()}\nprotocol ${PROTOCOL_VERSION}\nnode ${process.version}`
}
