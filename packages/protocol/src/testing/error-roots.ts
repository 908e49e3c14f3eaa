// For each package's "one error root" test: the classes in a source tree that extend Error
// directly, found by reading the files (a new one must extend the package's root instead).
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** Every class declared as extending Error directly in dir's .ts files (tests left out), but those `allowed`. */
export async function classesExtendingError(
  dir: string,
  allowed: readonly string[],
): Promise<string[]> {
  const found: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.test.ts')) continue
    const file = join(entry.parentPath, entry.name)
    for (const match of (await readFile(file, 'utf8')).matchAll(/class (\w+) extends Error\b/g))
      if (!allowed.includes(match[1]!)) found.push(`${match[1]} in ${file}`)
  }
  return found
}
