// What this build of canbridge-edge is. Undefined when the edge runs from the repository
// (`node dist/main.js`); in the single executable, packaging/edge/build.ts replaces
// dist/build-info.js with the details of that build, which --version and `doctor` print.
// Keep this file to these two exports: the build replaces it whole.

export interface BuildInfo {
  /** canbridge-edge version (packages/edge-client/package.json) */
  version: string
  /** linux-x64, linux-arm64, linux-armv7 */
  target: string
  /** the Node runtime inside the executable, e.g. 24.21.0 */
  node: string
  /** socketcan package version the embedded addon was compiled from */
  socketcan: string
  /** sha256 of patches/socketcan@<version>.patch, applied to the addon's source */
  socketcanPatch: string
  /** N-API version the addon was compiled against */
  addonNapi: number
  /** oldest glibc the executable needs, e.g. 2.28 */
  glibc: string
  /** git commit that was built (`-dirty` with local changes), or 'unknown' */
  commit: string
  /** ISO date of the build (SOURCE_DATE_EPOCH when set) */
  date: string
}

export const BUILD_INFO: BuildInfo | undefined = undefined
