// The version lines of `canbridge-edge --version` (and of `doctor`'s header).
import { readFileSync } from 'node:fs'
import { PROTOCOL_VERSION } from '@canbridge/protocol/frames'
import { BUILD_INFO } from './build-info.ts'

/** This edge's version: the build's, else packages/edge-client/package.json's. */
export function packageVersion(): string {
  if (BUILD_INFO !== undefined) return BUILD_INFO.version
  const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8')
  return (JSON.parse(text) as { version: string }).version
}

/** The daemon, protocol, Node (and its flags) and N-API versions; a single executable adds its addon and build. */
export function versionText(): string {
  const lines = [
    `canbridge-edge ${packageVersion()}`,
    `protocol ${PROTOCOL_VERSION}`,
    `node ${process.version}`,
    // the V8 settings in effect (src/runtime-flags.ts: the single executable carries them)
    ...(process.execArgv.length > 0 ? [`node-flags ${process.execArgv.join(' ')}`] : []),
    `n-api ${process.versions.napi ?? 'unknown'}`,
  ]
  const build = BUILD_INFO
  if (build !== undefined) {
    lines.push(
      `addon socketcan ${build.socketcan} n-api ${build.addonNapi} (${build.target}, glibc >= ${build.glibc})`,
      `addon patch sha256 ${build.socketcanPatch}`,
      `build ${build.commit} ${build.date} single-executable`,
    )
  }
  return lines.join('\n')
}
