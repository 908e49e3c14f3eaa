import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { type InProcessSide, InProcessWorker } from './in-process-worker.ts'
import { type ThreadEnd, threadEnd } from './thread-end.ts'

/** A side that records its disposal. */
function side(events: unknown[]): InProcessSide {
  return {
    dispose: async () => {
      events.push('disposed')
    },
  }
}

/** Resolves with the exit code; errors before it go into `events` (events.once rejects on them). */
function exited(worker: InProcessWorker, events: unknown[]): Promise<unknown> {
  worker.on('error', (error: Error) => events.push(error.message))
  return new Promise((resolve) => worker.on('exit', resolve))
}

const restore: (() => void)[] = []
afterEach(() => {
  for (const undo of restore.splice(0)) undo()
})

describe('InProcessWorker (--threads 1)', () => {
  it('hands the side its end, also as threadEnd(): the data, and a port the supervisor hears', async () => {
    let given: ThreadEnd | undefined
    const worker = new InProcessWorker(
      async (end) => {
        given = end
        expect(threadEnd()).toBe(end)
        expect(end.inProcess).toBe(true)
        end.port.postMessage({ type: 'ready', echo: end.data })
        return side([])
      },
      { answer: 42 },
    )
    const [message] = await once(worker, 'message')
    expect(message).toEqual({ type: 'ready', echo: { answer: 42 } })
    expect(given?.data).toEqual({ answer: 42 })
    await worker.terminate()
  })

  it('terminate(): the side is disposed of, then exit 1, once however often it is called', async () => {
    const events: unknown[] = []
    const worker = new InProcessWorker(async () => side(events), {})
    const exit = exited(worker, events)
    const codes = await Promise.all([worker.terminate(), worker.terminate()])
    events.push(await exit)
    expect(codes).toEqual([1, 1])
    expect(events).toEqual(['disposed', 1])
  })

  it('a side that fails to start: error, then exit 1', async () => {
    const events: unknown[] = []
    const worker = new InProcessWorker(() => Promise.reject(new Error('no such module')), {})
    events.push(await exited(worker, events))
    expect(events).toEqual(['no such module', 1])
  })

  it('a failure the side reports (its end.fail): error, disposed of, exit 1', async () => {
    const events: unknown[] = []
    const worker = new InProcessWorker(async (end) => {
      // as the socket-write side does when opening its spools fails after the start
      setTimeout(() => end.fail(new Error('spool gone')), 10)
      return side(events)
    }, {})
    events.push(await exited(worker, events))
    expect(events).toEqual(['spool gone', 'disposed', 1])
  })

  it('an exception nobody catches while the side runs is its fault: error, disposed of, exit 1', async () => {
    // the test runner's own handler would report the exception as the test's failure: the
    // process is left as the daemon's is, with no other handler, for this test
    const runners = process.listeners('uncaughtException')
    process.removeAllListeners('uncaughtException')
    restore.push(() => {
      process.removeAllListeners('uncaughtException')
      for (const listener of runners) process.on('uncaughtException', listener)
    })
    const events: unknown[] = []
    const worker = new InProcessWorker(async () => side(events), {})
    const exit = exited(worker, events)
    setImmediate(() => {
      throw new Error('a bug in the sending side')
    })
    events.push(await exit)
    expect(events).toEqual(['a bug in the sending side', 'disposed', 1])
    // the handler goes with the side: a later exception is not taken for the ended one's
    expect(process.listenerCount('uncaughtException')).toBe(0)
  })

  it('a side that cannot be disposed of (a spool stuck in its disk) is wedged, and never exits: no successor may open its spools', async () => {
    const events: unknown[] = []
    const worker = new InProcessWorker(
      async () => ({ dispose: () => new Promise<void>(() => {}) }),
      {},
      { disposeWaitMs: 50, wedged: (reason) => events.push(reason) },
    )
    worker.on('exit', (code) => events.push(code))
    expect(await worker.terminate()).toBe(1)
    expect(events).toEqual([
      'the sending side did not end within 50 ms of its fault (a spool stuck in its disk?)',
    ])
  })

  it('a side whose disposal fails still ends: that error, then exit 1', async () => {
    const events: unknown[] = []
    const worker = new InProcessWorker(
      async () => ({ dispose: () => Promise.reject(new Error('spool close failed')) }),
      {},
    )
    const exit = exited(worker, events)
    await worker.terminate()
    events.push(await exit)
    expect(events).toEqual(['spool close failed', 1])
  })
})
