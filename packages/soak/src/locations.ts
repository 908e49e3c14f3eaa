// Where the soak finds what it runs: the edge's entry through the edge package's exports, and
// the kernel harness in the workspace root of a canbridge checkout (absent once installed).
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** dist/main.js of the installed @canbridge/edge-client, or undefined if missing or not built. */
export function builtEdgeMain(): string | undefined {
  let path: string
  try {
    path = fileURLToPath(import.meta.resolve('@canbridge/edge-client/main'))
  } catch (error) {
    // not installed beside the soak: the caller falls back to canbridge-edge on PATH
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return undefined
    throw error
  }
  return existsSync(path) ? path : undefined
}

/** The checkout's root (where pnpm-workspace.yaml is) above this module, if there is one. */
export function workspaceRoot(from: string = fileURLToPath(import.meta.url)): string | undefined {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir
    if (dirname(dir) === dir) return undefined
  }
}

/** scripts/kernel-harness.sh of the checkout, if the soak runs from one. */
export function kernelHarness(): string | undefined {
  const root = workspaceRoot()
  const harness = root === undefined ? undefined : join(root, 'scripts', 'kernel-harness.sh')
  return harness !== undefined && existsSync(harness) ? harness : undefined
}
