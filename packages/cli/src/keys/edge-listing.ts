// Which edges have files in edges/: ids from the names <edgeId>.crt / .key / .token.
import { readdir } from 'node:fs/promises'
import { EDGE_ID_PATTERN } from './inputs.ts'
import type { PkiLayout } from './layout.ts'

export type EdgeFileKind = 'crt' | 'key' | 'token'

/** Sorted ids of edges with at least one file of the given kinds (none when edges/ is absent). */
export async function edgeIdsOnDisk(
  layout: PkiLayout,
  kinds: readonly EdgeFileKind[] = ['crt', 'key', 'token'],
): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(layout.edgesDir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
  const ids = new Set<string>()
  for (const name of names) {
    const dot = name.lastIndexOf('.')
    const id = name.slice(0, dot)
    if (
      dot > 0 &&
      kinds.includes(name.slice(dot + 1) as EdgeFileKind) &&
      EDGE_ID_PATTERN.test(id)
    ) {
      ids.add(id)
    }
  }
  return [...ids].sort()
}
