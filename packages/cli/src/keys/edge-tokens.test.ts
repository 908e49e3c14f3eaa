import { describe, expect, it } from 'vitest'
import { generateEdgeToken, parseTokenTable } from './edge-tokens.ts'
import { KeysError } from './errors.ts'

describe('edge tokens', () => {
  it('are 32 random bytes in base64url, different each time', () => {
    const tokens = new Set(Array.from({ length: 100 }, generateEdgeToken))
    expect(tokens.size).toBe(100)
    for (const token of tokens) {
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(Buffer.from(token, 'base64url')).toHaveLength(32)
    }
  })

  it('a table parses only as { version: 1, edges: { id: string } }', () => {
    expect(parseTokenTable('{"version":1,"edges":{"pi":"t"}}', 'f')).toEqual({
      version: 1,
      edges: { pi: 't' },
    })
    for (const bad of [
      '',
      'null',
      '1',
      '{"version":1}',
      '{"version":"1","edges":{}}',
      '{"version":1,"edges":{"a":null}}',
    ]) {
      expect(() => parseTokenTable(bad, 'edge-tokens.json')).toThrow(KeysError)
    }
  })
})
