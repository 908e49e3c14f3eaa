// Reads a log file in a child process whose heap cannot hold it: the reader gets through only
// if it keeps no more than the block it is on. Prints and returns the count, time and RSS.
import { spawnSync } from 'node:child_process'
import { statSync } from 'node:fs'
import { expect } from 'vitest'
import type { CanMessage } from '../../../src/message.ts'

const INDEX = new URL('../../../src/index.ts', import.meta.url).href

export function readInSmallHeap(
  path: string,
  oldSpaceMb = 24,
): { count: number; seconds: number; rssMb: number } {
  const script = `
    const { LogReader } = await import(${JSON.stringify(INDEX)})
    let count = 0
    const started = performance.now()
    for await (const m of new LogReader(${JSON.stringify(path)})) count++
    const seconds = (performance.now() - started) / 1000
    console.log(JSON.stringify({ count, seconds, rssMb: process.memoryUsage().rss / 1e6 }))
  `
  const result = spawnSync(
    process.execPath,
    [
      `--max-old-space-size=${oldSpaceMb}`,
      '--max-semi-space-size=2',
      '--input-type=module',
      '-e',
      script,
    ],
    { encoding: 'utf8' },
  )
  expect(result.stderr).toBe('')
  expect(result.status).toBe(0)
  return JSON.parse(result.stdout) as { count: number; seconds: number; rssMb: number }
}

/** A binary log writer as the big-file tests use it: back-pressure through onMessage's promise. */
interface LogWriter {
  onMessage(message: CanMessage): void | Promise<void>
  stop(): Promise<void>
}

/**
 * Writes `total` frames (the `frames` over and over) to `path`, reads them back in a small
 * heap, prints both rates, and checks every frame came back.
 */
export async function writeAndReadInSmallHeap(
  format: string,
  path: string,
  writer: LogWriter,
  frames: readonly CanMessage[],
  total: number,
): Promise<void> {
  const started = performance.now()
  for (let i = 0; i < total; i++) {
    const pending = writer.onMessage(frames[i % frames.length]!)
    if (pending !== undefined) await pending
  }
  await writer.stop()
  const writeSeconds = (performance.now() - started) / 1000
  const { count, seconds, rssMb } = readInSmallHeap(path)
  console.log(
    `${format}: wrote ${total} frames in ${writeSeconds.toFixed(2)} s (${Math.round(total / writeSeconds)}/s, ${(statSync(path).size / 1e6).toFixed(1)} MB), read them in ${seconds.toFixed(2)} s (${Math.round(count / seconds)}/s) with a 24 MB old space, RSS ${rssMb.toFixed(0)} MB`,
  )
  expect(count).toBe(total)
}
