// Replaces `node:module` for the bundled edge code: createRequire(...)(id) of a native
// addon (socketcan/build/Release/can.node, or any path ending in can.node) returns the
// addon embedded in this executable; every other id goes to Node's own require.

import { ADDON } from 'canbridge-sea:addon'
import * as nodeModule from 'node:module'
import { loadAddon } from '../runtime.ts'

// (esbuild re-exports every property; TypeScript objects to export * of an `export =` module)
// @ts-expect-error TS2498
export * from 'node:module'

const ADDON_ID = /(^|[\\/])can\.node$/

export function createRequire(filename: string | URL): NodeJS.Require {
  const real = nodeModule.createRequire(filename)
  const require = ((id: string) =>
    ADDON_ID.test(id) ? loadAddon(ADDON) : real(id)) as NodeJS.Require
  return Object.assign(require, {
    resolve: real.resolve,
    cache: real.cache,
    extensions: real.extensions,
    main: real.main,
  })
}

export default { ...nodeModule, createRequire }
