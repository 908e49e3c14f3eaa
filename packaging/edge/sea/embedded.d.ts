// Types of the virtual modules that packaging/edge/build.ts generates for each bundle.

declare module 'canbridge-sea:embedded' {
  /** What was built: shown by --version and by error messages. */
  export interface BuildInfo {
    /** canbridge-edge version (packages/edge-client/package.json) */
    version: string
    /** linux-x64, linux-arm64, linux-armv7 */
    target: string
    /** Node runtime the executable carries, e.g. 24.21.0 */
    node: string
    /** socketcan package version the addon was compiled from */
    socketcan: string
    /** sha256 of patches/socketcan@<version>.patch, applied to its source */
    socketcanPatch: string
    /** N-API version the addon was compiled against (NAPI_VERSION) */
    addonNapi: number
    /** oldest glibc the addon and the runtime need, e.g. 2.28 */
    glibc: string
    /** git commit of the tree that was built, or 'unknown' */
    commit: string
    /** ISO date of the build (SOURCE_DATE_EPOCH when set) */
    date: string
  }
  export const BUILD: BuildInfo
  /** The bundled workers' virtual paths (e.g. packages/edge-client/dist/poll.worker.js). */
  export const WORKER_NAMES: readonly string[]
  /** A worker's bundle by its virtual path (the blob's asset, or an embedded string). */
  export function workerSource(file: string): Buffer | undefined
  /** Small files the code reads at run time (package.json), by virtual path. */
  export const FILES: Readonly<Record<string, string>>
}

declare module 'canbridge-sea:addon' {
  /** The native addon (can.node) for this bundle's architecture. */
  export const ADDON: { readonly name: string; readonly sha256: string; readonly base64: string }
}
