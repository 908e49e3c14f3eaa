// Helpers for the key tool's tests: a temporary directory per test, "canbridge keys" run in
// process with its output and exit status captured, openssl run as a child process.
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { type Command, CommanderError } from 'commander'
import { afterEach } from 'vitest'
import { createKeysCommand } from '../../src/keys/index.ts'

const run = promisify(execFile)

/** A fresh directory, removed after the test. */
export function useTempDir(): () => Promise<string> {
  const made: string[] = []
  afterEach(async () => {
    for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true })
  })
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), 'canbridge-keys-test-'))
    made.push(dir)
    return dir
  }
}

export interface KeysRun {
  code: number
  stdout: string
  stderr: string
}

function throwInsteadOfExit(command: Command): void {
  command.exitOverride()
  for (const sub of command.commands) throwInsteadOfExit(sub)
}

/** `canbridge keys <args>` in this process; commander's exits become the returned code. */
export async function keys(...args: string[]): Promise<KeysRun> {
  let stdout = ''
  let stderr = ''
  const command = createKeysCommand({
    out: (text) => {
      stdout += text
    },
    err: (text) => {
      stderr += text
    },
  })
  throwInsteadOfExit(command)
  try {
    await command.parseAsync(args, { from: 'user' })
    return { code: 0, stdout, stderr }
  } catch (error) {
    if (error instanceof CommanderError) return { code: error.exitCode, stdout, stderr }
    throw error
  }
}

/** Runs `keys` and fails the test with its stderr unless it exited 0. */
export async function keysOk(...args: string[]): Promise<KeysRun> {
  const result = await keys(...args)
  if (result.code !== 0) {
    throw new Error(`canbridge keys ${args.join(' ')} exited ${result.code}: ${result.stderr}`)
  }
  return result
}

/** openssl with these arguments; the machine's openssl is the independent reference. */
export async function openssl(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('openssl', args)
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as NodeJS.ErrnoException & {
      code?: unknown
      stdout?: string
      stderr?: string
    }
    if (failed.code === 'ENOENT') {
      throw new Error(
        'openssl is not installed: these tests check our output against it (apt-get install openssl)',
      )
    }
    return { code: Number(failed.code), stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' }
  }
}

export const DAY_MS = 86_400_000

/** What "keys init" puts at the top of its directory (with edges/ once there is an edge). */
export const PKI_TOP_LEVEL = [
  'ca.crt',
  'ca.key',
  'edge-tokens.json',
  'edges',
  'server.crt',
  'server.key',
]

/**
 * Command-line words: argv`init --dir ${dir} --edge pi` splits the literal text at spaces and
 * keeps each interpolated value as one argument (a path with spaces stays whole).
 */
export function argv(text: TemplateStringsArray, ...values: string[]): string[] {
  const words: string[] = []
  text.forEach((part, index) => {
    words.push(...part.split(/\s+/).filter((word) => word !== ''))
    if (index < values.length) words.push(values[index]!)
  })
  return words
}
