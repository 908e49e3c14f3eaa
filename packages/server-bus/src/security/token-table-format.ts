// The server's token table, edge-tokens.json: { "version": 1, "edges": { "<edgeId>": "<token>" } }.
// Parsing only, without node:crypto: TCPBus reads the table without loading OpenSSL for it.
// The library owns the format (it reads the table); `canbridge keys` writes it.
import { CanInitializationError } from '../errors.ts'

export const TOKEN_TABLE_VERSION = 1

export interface TokenTable {
  version: typeof TOKEN_TABLE_VERSION
  edges: Record<string, string>
}

export function parseTokenTable(text: string, path: string): TokenTable {
  const broken = (why: string, cause?: unknown): CanInitializationError =>
    new CanInitializationError(
      `${path} is not a canbridge token table (${why}): fix it to { "version": 1, "edges": { "<edgeId>": "<token>" } } or move it away and add the edges again`,
      cause === undefined ? undefined : { cause },
    )
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (error) {
    if (error instanceof SyntaxError) throw broken(`invalid JSON: ${error.message}`, error)
    throw error
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw broken('not an object')
  const { version, edges } = data as { version?: unknown; edges?: unknown }
  if (version !== TOKEN_TABLE_VERSION) throw broken(`version ${JSON.stringify(version)}, not 1`)
  if (typeof edges !== 'object' || edges === null || Array.isArray(edges)) {
    throw broken('"edges" is not an object')
  }
  for (const [edgeId, token] of Object.entries(edges)) {
    if (typeof token !== 'string')
      throw broken(`the token of ${JSON.stringify(edgeId)} is not a string`)
  }
  return { version: TOKEN_TABLE_VERSION, edges: { ...(edges as Record<string, string>) } }
}
