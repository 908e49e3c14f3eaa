// Per-edge secret tokens (for challenge-response login without a client certificate) and the
// server's table of them, edge-tokens.json: { "version": 1, "edges": { "<edgeId>": "<token>" } }.
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { CanInitializationError } from '@canbridge/server-bus'
import {
  parseTokenTable as parseTableText,
  TOKEN_TABLE_VERSION,
  type TokenTable,
} from '@canbridge/server-bus/internal'
import { KeysError } from './errors.ts'
import { FILE_MODE } from './layout.ts'
import { writeFileAtomic } from './secure-files.ts'

export { TOKEN_TABLE_VERSION, type TokenTable }

/** The table in `text` (read from `path`); a KeysError BAD_TOKEN_TABLE saying how to fix it. */
export function parseTokenTable(text: string, path: string): TokenTable {
  try {
    return parseTableText(text, path)
  } catch (error) {
    if (error instanceof CanInitializationError) {
      throw new KeysError('BAD_TOKEN_TABLE', error.message, { cause: error })
    }
    throw error
  }
}

const TOKEN_BYTES = 32

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

/** Written 0600, edges sorted by id so the file diffs cleanly. */
export async function writeTokenTable(path: string, table: TokenTable): Promise<void> {
  const edges = Object.fromEntries(
    Object.entries(table.edges).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  )
  const text = `${JSON.stringify({ version: TOKEN_TABLE_VERSION, edges }, null, 2)}\n`
  await writeFileAtomic(path, text, FILE_MODE.SECRET)
}
