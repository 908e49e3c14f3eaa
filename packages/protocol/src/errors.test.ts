import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

describe('one error root', () => {
  it('no class in the sources but CodecError extends Error directly', async () => {
    const direct: string[] = []
    for (const entry of await readdir(import.meta.dirname, {
      withFileTypes: true,
      recursive: true,
    })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.test.ts'))
        continue
      const file = join(entry.parentPath, entry.name)
      for (const match of (await readFile(file, 'utf8')).matchAll(/class (\w+) extends Error\b/g))
        if (match[1] !== 'CodecError') direct.push(`${match[1]} in ${file}`)
    }
    expect(direct).toEqual([])
  })
})

describe("the codecs' errors", () => {
  it('are CodecErrors with their own names', async () => {
    const { CodecError, ProtocolError } = await import('./errors.ts')
    const { SocketcandError } = await import('./socketcand/errors.ts')
    for (const error of [
      new ProtocolError('BAD_MAGIC', 'x'),
      new SocketcandError('BAD_FRAME', 'x'),
    ]) {
      expect(error).toBeInstanceOf(CodecError)
      expect(error.name).toBe(error.constructor.name)
    }
  })
})
