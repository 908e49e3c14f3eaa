// The server's table of edge tokens (`edge-tokens.json`, written by `canbridge keys`): read
// once at listen, refused when other users could read it, every token checked for strength.
import { readFile, stat } from 'node:fs/promises'
import { tokenProblem } from '@canbridge/protocol'
import { CanInitializationError } from '../errors.ts'
import { parseTokenTable } from './token-table-format.ts'

export class TokenTable {
  readonly #tokens: ReadonlyMap<string, string>

  private constructor(tokens: ReadonlyMap<string, string>) {
    this.#tokens = tokens
  }

  /** From `{ edgeId: token }`; throws CanInitializationError naming the bad entry. */
  static fromRecord(record: Readonly<Record<string, unknown>>, source = 'auth.tokens'): TokenTable {
    const tokens = new Map<string, string>()
    for (const [edgeId, token] of Object.entries(record)) {
      if (edgeId.length < 1 || edgeId.length > 64) {
        throw new CanInitializationError(
          `${source}: edge id ${JSON.stringify(edgeId)} must have 1..64 characters`,
        )
      }
      if (typeof token !== 'string') {
        throw new CanInitializationError(
          `${source}: the token of edge ${JSON.stringify(edgeId)} must be a string`,
        )
      }
      const problem = tokenProblem(token)
      if (problem !== undefined) {
        throw new CanInitializationError(`${source}: edge ${JSON.stringify(edgeId)}: ${problem}`)
      }
      tokens.set(edgeId, token)
    }
    if (tokens.size === 0) {
      throw new CanInitializationError(
        `${source} lists no edge: add one with "canbridge keys add-edge ID"`,
      )
    }
    return new TokenTable(tokens)
  }

  /** Reads `{ "version": 1, "edges": { edgeId: token } }`; the file must be private (0600). */
  static async fromFile(path: string): Promise<TokenTable> {
    let text: string
    try {
      const info = await stat(path)
      if ((info.mode & 0o077) !== 0) {
        throw new CanInitializationError(
          `${path} is readable by other users (mode ${(info.mode & 0o777).toString(8)}): run "chmod 600 ${path}"`,
        )
      }
      text = await readFile(path, 'utf8')
    } catch (error) {
      if (error instanceof CanInitializationError) throw error
      throw new CanInitializationError(
        `cannot read the tokens file ${path}: ${(error as Error).message}`,
        {
          cause: error,
        },
      )
    }
    let edges: Record<string, string>
    try {
      edges = parseTokenTable(text, path).edges
    } catch (error) {
      throw new CanInitializationError((error as Error).message, { cause: error })
    }
    return TokenTable.fromRecord(edges, path)
  }

  get size(): number {
    return this.#tokens.size
  }

  entries(): Record<string, string> {
    return Object.fromEntries(this.#tokens)
  }

  tokenFor(edgeId: string): string | undefined {
    return this.#tokens.get(edgeId)
  }
}
