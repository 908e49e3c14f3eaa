// Per-edge secret tokens (for challenge-response login without a client certificate) and the
// server's table of them, edge-tokens.json: { "version": 1, "edges": { "<edgeId>": "<token>" } }.
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { KeysError } from './errors.ts'
import { FILE_MODE } from './layout.ts'
import { writeFileAtomic } from './secure-files.ts'

export const TOKEN_TABLE_VERSION = 1
const TOKEN_BYTES = 32

export interface TokenTable {
  version: typeof TOKEN_TABLE_VERSION
  edges: Record<string, string>
}

/** 32 random bytes, base64url (43 characters, no padding). */
export function generateEdgeToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url')
}

/** The table at `path`, or an empty one when there is no file yet. */
export async function readTokenTable(path: string): Promise<TokenTable> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return { version: TOKEN_TABLE_VERSION, edges: {} }
    }
    throw new KeysError(
      'FILE_UNREADABLE',
      `cannot read the token table ${path} (${(error as NodeJS.ErrnoException).code}): run as the user who owns it, or fix its permissions`,
      { cause: error },
    )
  }
  return parseTokenTable(text, path)
}

export function parseTokenTable(text: string, path: string): TokenTable {
  const broken = (why: string, cause?: unknown): KeysError =>
    new KeysError(
      'BAD_TOKEN_TABLE',
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

/** Written 0600, edges sorted by id so the file diffs cleanly. */
export async function writeTokenTable(path: string, table: TokenTable): Promise<void> {
  const edges = Object.fromEntries(
    Object.entries(table.edges).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  )
  const text = `${JSON.stringify({ version: TOKEN_TABLE_VERSION, edges }, null, 2)}\n`
  await writeFileAtomic(path, text, FILE_MODE.SECRET)
}
