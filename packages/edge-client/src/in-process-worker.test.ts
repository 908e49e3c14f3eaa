import { once } from 'node:events'
import { describe, expect, it } from 'vitest'
import { InProcessWorker } from './in-process-worker.ts'
import { threadEnd } from './thread-end.ts'

describe('InProcessWorker (--threads 1)', () => {
  it('hands the module its end: the data, and a port whose messages the supervisor receives', async () => {
    const worker = new InProcessWorker(
      async () => {
        const end = threadEnd()!
        expect(end.inProcess).toBe(true)
        end.port.postMessage({ type: 'ready', echo: end.data })
      },
      { answer: 42 },
    )
    const [message] = await once(worker, 'message')
    expect(message).toEqual({ type: 'ready', echo: { answer: 42 } })
    await worker.terminate()
  })

  it('a module that fails to load: error, then exit 1', async () => {
    const events: unknown[] = []
    const worker = new InProcessWorker(() => Promise.reject(new Error('no such module')), {})
    worker.on('error', (error: Error) => events.push(error.message))
    // not events.once: it rejects on the 'error' that comes first
    events.push(await new Promise((resolve) => worker.on('exit', resolve)))
    expect(events).toEqual(['no such module', 1])
  })

  it('a failure after the module was evaluated (its end.fail): error, then exit 1', async () => {
    const events: unknown[] = []
    const worker = new InProcessWorker(async () => {
      // as socket-write.worker.ts does when opening the channels fails later
      setTimeout(() => threadEnd()!.fail(new Error('spool gone')), 10)
    }, {})
    worker.on('error', (error: Error) => events.push(error.message))
    // not events.once: it rejects on the 'error' that comes first
    events.push(await new Promise((resolve) => worker.on('exit', resolve)))
    expect(events).toEqual(['spool gone', 1])
  })
})
