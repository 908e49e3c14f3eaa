// Helpers for the log tests: read candump text, collect what a writer wrote, temporary files.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { afterEach } from 'vitest'
import { type CanMessage, LogReader, type TCPBus } from '../../src/index.ts'
import { ScriptedEdge, type ScriptedEdgeOptions } from '../../src/testing/scripted-edge.ts'
import { listen } from '../support/helpers.ts'

/** The messages of candump -L text. */
export async function readText(text: string): Promise<CanMessage[]> {
  const messages: CanMessage[] = []
  for await (const message of new LogReader(Readable.from([text]))) messages.push(message)
  return messages
}

/** A Writable that keeps what it is given. */
export function collector(): { stream: Writable; text: () => string } {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(String(chunk))
      callback()
    },
  })
  return { stream, text: () => chunks.join('') }
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

/** A TCPBus on loopback with a scripted edge `pi` connected; both closed after the test. */
export async function busWithEdge(
  options: ScriptedEdgeOptions = {},
): Promise<{ bus: TCPBus; edge: ScriptedEdge }> {
  const { bus } = await listen()
  afterTest(() => bus.shutdown())
  const edge = await ScriptedEdge.start(bus.address, {
    edgeId: 'pi',
    channels: [{ name: 'can0', fd: true }],
    ...options,
  })
  afterTest(() => edge.destroy())
  await bus.waitForEdge({ timeoutMs: 1000 })
  return { bus, edge }
}

/** Lines joined as a file holds them, each with its `\n`. */
export function lines(...items: string[]): string {
  return items.map((line) => `${line}\n`).join('')
}

/** A fresh directory, removed after the test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'canbridge-logs-'))
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

export function hex(data: Uint8Array): string {
  return Buffer.from(data).toString('hex')
}
