// Reads a log file in a child process whose heap cannot hold it: the reader gets through only
// if it keeps no more than the block it is on. Prints and returns the count, time and RSS.
import { spawnSync } from 'node:child_process'
import { expect } from 'vitest'

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
