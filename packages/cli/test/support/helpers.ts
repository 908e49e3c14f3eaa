// Helpers for the CLI's tests: candump text as messages, temporary files, cleanups after a test.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { type CanMessage, LogReader } from '@canbridge/server-bus'
import { afterEach } from 'vitest'

/** The messages of candump -L text. */
export async function readText(text: string): Promise<CanMessage[]> {
  const messages: CanMessage[] = []
  for await (const message of new LogReader(Readable.from([text]))) messages.push(message)
  return messages
}

const dirs: string[] = []
const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** Runs `cleanup` after the test. */
export function afterTest(cleanup: () => unknown): void {
  cleanups.push(cleanup)
}

/** Lines joined as a file holds them, each with its `\n`. */
export function lines(...items: string[]): string {
  return items.map((line) => `${line}\n`).join('')
}

/** A fresh directory, removed after the test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'canbridge-cli-'))
  dirs.push(dir)
  return dir
}

/** Runs `body` (and waits for it) with process.env.TZ set: Node re-reads it for local times. */
export async function withTimeZone<T>(zone: string, body: () => T | Promise<T>): Promise<T> {
  const previous = process.env['TZ']
  process.env['TZ'] = zone
  try {
    return await body()
  } finally {
    if (previous === undefined) delete process.env['TZ']
    else process.env['TZ'] = previous
  }
}
