// One compaction of each thread's heap once it has started, for resident memory on a Pi.
// Loading modules leaves garbage behind and grows each isolate's young generation (the main
// thread's to 4 MB); V8 gives those pages back only on a memory-reducing full collection,
// which an idle daemon never triggers by itself. One such collection per thread after
// startup returns ~10 MB for a few milliseconds (README: memory). V8 offers it through its
// gc extension only: `--expose-gc`, set once at runtime before the workers start, puts
// `gc` in contexts created afterwards, such as the one this module makes to reach it.
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

type GcFunction = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void

let collect: GcFunction | null | undefined

/**
 * Main thread, before the workers start: makes compactHeap() available to every thread when
 * CANBRIDGE_COMPACT_HEAP=1. Off by default: Node documents changing V8 flags after start-up
 * as possibly unpredictable, too much risk in a daemon that runs for months for ~10 MB.
 */
export function enableHeapCompaction(env: NodeJS.ProcessEnv = process.env): void {
  if (env['CANBRIDGE_COMPACT_HEAP'] === '1') setFlagsFromString('--expose-gc')
}

/**
 * A full, memory-reducing collection of this thread's heap (young generation shrunk, free
 * pages released). Does nothing when enableHeapCompaction() was not called in this process.
 */
export function compactHeap(): void {
  if (collect === undefined) {
    try {
      collect = runInNewContext('gc') as GcFunction
    } catch (error) {
      // gc is not exposed (a ReferenceError from the new context): nothing to do
      if ((error as Error | undefined)?.name !== 'ReferenceError') throw error
      collect = null
    }
  }
  collect?.({ type: 'major', execution: 'sync', flavor: 'last-resort' })
}
