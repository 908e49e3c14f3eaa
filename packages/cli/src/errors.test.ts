import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

describe('one error root', () => {
  it('no class in the sources but CliError extends Error directly', async () => {
    const direct: string[] = []
    for (const entry of await readdir(import.meta.dirname, {
      withFileTypes: true,
      recursive: true,
    })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.test.ts'))
        continue
      const file = join(entry.parentPath, entry.name)
      for (const match of (await readFile(file, 'utf8')).matchAll(/class (\w+) extends Error\b/g))
        if (match[1] !== 'CliError') direct.push(`${match[1]} in ${file}`)
    }
    expect(direct).toEqual([])
  })
})

describe('the errors the command raises', () => {
  it('are CliErrors with their own names', async () => {
    const { CliError } = await import('./errors.ts')
    const { UsageError } = await import('./exit.ts')
    const { KeysError } = await import('./keys/errors.ts')
    const { LocalCanError } = await import('./vcan/local-can.ts')
    for (const error of [
      new UsageError('x'),
      new KeysError('NO_PKI', 'x'),
      new LocalCanError('x'),
    ]) {
      expect(error).toBeInstanceOf(CliError)
      expect(error.name).toBe(error.constructor.name)
    }
  })
})
