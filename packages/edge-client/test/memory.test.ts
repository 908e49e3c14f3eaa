// What keeps the daemon's memory down (README: memory): the poll worker's thread loads the
// frame helpers of @canbridge/protocol only, never its control-message codec (msgpackr),
// each thread can compact its heap once it has started, and the ring is resident from the start.
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import { compactHeap, enableHeapCompaction } from '../src/heap.ts'
import { createRing } from '../src/ring.ts'
import { EdgeProcess } from '../src/testing/edge-process.ts'

/** The kernel's count of this process's resident anonymous memory (Linux /proc). */
function residentAnonymousBytes(): number {
  const line = /^RssAnon:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))
  if (line === null) throw new Error('no RssAnon in /proc/self/status')
  return Number(line[1]) * 1024
}

const SRC = fileURLToPath(new URL('../src/', import.meta.url))

/**
 * Module specifiers a source file loads at run time: every import or export ... from,
 * except `import type` / `export type` (erased). An import whose specifiers are all
 * inline types still loads its module, so it counts.
 */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const found: string[] = []
  const statement = /^(import|export)\s+(type\s+)?([^;'"]*?)\s*from\s+'([^']+)'/gms
  for (const match of text.matchAll(statement)) {
    if (match[2] === undefined) found.push(match[4]!)
  }
  for (const match of text.matchAll(/^import\s+'([^']+)'/gm)) found.push(match[1]!)
  return found
}

/**
 * What `entry` loads at run time through its static imports (the dynamic import()s of
 * doctor, metrics and --threads 1 come later, or never): the source files, and each
 * package or built-in specifier with the first file that imports it.
 */
function modulesReached(entry: string): { files: Set<string>; specifiers: Map<string, string> } {
  const specifiers = new Map<string, string>()
  const files = new Set<string>()
  const walk = (file: string): void => {
    if (files.has(file)) return
    files.add(file)
    for (const specifier of runtimeImports(file)) {
      if (specifier.startsWith('.')) walk(resolve(dirname(file), specifier))
      else if (!specifiers.has(specifier)) specifiers.set(specifier, file.slice(SRC.length))
    }
  }
  walk(entry)
  return { files, specifiers }
}

/** Every bare (package) specifier reachable at run time from `entry` through relative imports. */
function packagesReached(entry: string): Map<string, string> {
  const { specifiers } = modulesReached(entry)
  return new Map([...specifiers].filter(([specifier]) => !specifier.startsWith('node:')))
}

describe('memory', () => {
  it('the poll worker never loads the control-message codec of @canbridge/protocol', () => {
    const reached = packagesReached(resolve(SRC, 'poll.worker.ts'))
    expect(reached.has('@canbridge/protocol/frames')).toBe(true)
    expect(Object.fromEntries(reached)).not.toHaveProperty(['@canbridge/protocol'])
    expect([...reached.keys()].sort()).toEqual(['@canbridge/protocol/frames'])
  })

  // The main thread supervises (with two or three threads): the link, the protocol's codec
  // and the spool's writer load in the socket-write worker, not in the main thread too.
  it('the main thread loads neither the link (node:tls), nor the control-message codec, nor the spool', () => {
    const { files, specifiers } = modulesReached(resolve(SRC, 'main.ts'))
    const loaded = [...files].map((file) => file.slice(SRC.length))
    expect(loaded).toContain('supervisor.ts')
    for (const file of ['link/connection.ts', 'spool/spool.ts', 'socket-write.worker.ts'])
      expect(loaded).not.toContain(file)
    for (const specifier of ['@canbridge/protocol', 'node:tls', 'node:zlib', 'msgpackr'])
      expect(Object.fromEntries(specifiers)).not.toHaveProperty([specifier])
  })

  it('finds runtime imports, not type-only ones', () => {
    expect(runtimeImports(resolve(SRC, 'poll.worker.ts'))).not.toContain('@canbridge/protocol')
    expect(runtimeImports(resolve(SRC, 'socket-write-side.ts'))).toContain('@canbridge/protocol')
  })

  it('compacts a heap once gc is exposed, and only when asked to', () => {
    enableHeapCompaction({})
    expect(() => runInNewContext('gc')).toThrow(/gc is not defined/)
    expect(() => compactHeap()).not.toThrow()
    // CANBRIDGE_COMPACT_HEAP=1 exposes gc to contexts created afterwards, process-wide
    enableHeapCompaction({ CANBRIDGE_COMPACT_HEAP: '1' })
    expect(typeof runInNewContext('gc')).toBe('function')
    expect(() => compactHeap()).not.toThrow()
  })

  it('the ring is resident as soon as it is created, not as frames first fill it', () => {
    const capacity = 64 * 1024 * 1024
    const before = residentAnonymousBytes()
    const ring = createRing(capacity)
    const grown = residentAnonymousBytes() - before
    // an untouched SharedArrayBuffer would add almost nothing until written
    expect(grown).toBeGreaterThan(capacity * 0.9)
    expect(ring.byteLength).toBeGreaterThan(capacity)
  })

  it('large rings are announced before their pages are touched, and the time it took after', async () => {
    // 2 × 128M = 256M: the size from which the start says what it is doing
    const edge = new EdgeProcess([
      '--server',
      '127.0.0.1:1',
      '--ring-bytes',
      '128M',
      '--channel',
      'virtual:a?rate=0',
      '--channel',
      'virtual:b?rate=0',
    ])
    try {
      const reserved = await edge.waitForMsg('rings reserved', 60_000)
      const announced = edge.logs.findIndex((l) => l.msg.startsWith('reserving 256M of memory'))
      expect(announced).toBeGreaterThanOrEqual(0)
      expect(announced).toBeLessThan(edge.logs.indexOf(reserved))
      expect(edge.logs[announced]).toMatchObject({ channels: 2, bytes: 256 * 1024 * 1024 })
      expect(typeof reserved['ms']).toBe('number')
    } finally {
      await edge.stop('SIGKILL')
    }
  })
})
