// Files that hold secrets (--token-file, --tls-key): readable by their owner only, like ssh
// demands of private keys; and the token file's single line (PROTOCOL.md §5.13).
import { readFileSync, statSync } from 'node:fs'
import { tokenProblem } from '@canbridge/protocol/auth'
import { ConfigError } from '../../config.ts'

function readable(path: string, setting: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') {
      throw new ConfigError(
        `${setting} ${path}: no such file: copy it to this device (made by "canbridge keys" on the workstation) or correct the path`,
      )
    }
    if (code === 'EACCES') {
      throw new ConfigError(
        `${setting} ${path}: permission denied: make it readable by the user the edge runs as (chown that user, chmod 600)`,
      )
    }
    throw new ConfigError(`${setting} ${path}: cannot read it: ${(error as Error).message}`)
  }
}

/** Reads a file any user may see (a certificate). */
export function readPublicFile(path: string, setting: string): string {
  return readable(path, setting)
}

/** Reads a secret, refusing a file that other users can read or change. */
export function readSecretFile(path: string, setting: string): string {
  const content = readable(path, setting)
  const mode = statSync(path).mode & 0o777
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(
      `${setting} ${path} is accessible by other users (mode ${mode.toString(8).padStart(4, '0')}): it holds a secret; run chmod 600 ${path} and make it owned by the user the edge runs as`,
    )
  }
  return content
}

/** The token: the file's one line (a final line break is fine), checked by tokenProblem. */
export function readTokenFile(path: string): string {
  const content = readSecretFile(path, '--token-file')
  const lines = content.replace(/\r?\n$/, '').split(/\r?\n/)
  if (lines.length > 1) {
    throw new ConfigError(
      `--token-file ${path} holds ${lines.length} lines: it must hold the edge's token alone, on one line`,
    )
  }
  const token = lines[0]!
  if (token === '')
    throw new ConfigError(`--token-file ${path} is empty: put the edge's token in it`)
  const problem = tokenProblem(token)
  if (problem !== undefined) throw new ConfigError(`--token-file ${path}: ${problem}`)
  return token
}
