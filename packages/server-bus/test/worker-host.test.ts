// The worker host, with a scripted session module: messages both ways, synchronous calls, a
// clean stop, and every way a worker fails reported once as a CanError.
import { afterEach, describe, expect, it } from 'vitest'
import { CanError } from '../src/index.ts'
import { WorkerHost } from '../src/worker-host/worker-host.ts'
import type { ScriptedCommand, ScriptedInit } from './support/worker-sessions/scripted-session.ts'

const MODULE = new URL('./support/worker-sessions/scripted-session.ts', import.meta.url)

type Host = WorkerHost<ScriptedCommand, string, number>

const hosts: Host[] = []
afterEach(async () => {
  for (const host of hosts.splice(0)) await host.stop(1000)
})

async function start(
  options: { failStart?: boolean; stallMs?: number } = {},
): Promise<{ host: Host; received: string[]; failures: CanError[] }> {
  const received: string[] = []
  const failures: CanError[] = []
  const host = await WorkerHost.start<ScriptedInit, ScriptedCommand, string, number>({
    moduleUrl: MODULE,
    init: { failStart: options.failStart ?? false },
    name: 'test worker',
    heartbeatMs: 50,
    stallMs: options.stallMs ?? 5000,
    errorClasses: { RangeError },
    onMessage: (message) => received.push(message),
    onFailure: (error) => failures.push(error),
  })
  hosts.push(host)
  return { host, received, failures }
}

function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  return new Promise((resolve, reject) => {
    const check = () => {
      if (condition()) resolve()
      else if (performance.now() > deadline) reject(new Error('timed out'))
      else setTimeout(check, 5)
    }
    check()
  })
}

describe('WorkerHost', () => {
  it('carries messages both ways and answers synchronous calls', async () => {
    const { host, received } = await start()
    host.post({ do: 'echo', text: 'one' })
    host.post({ do: 'echo', text: 'two' })
    // the call is answered after the messages posted before it were handled
    expect(host.call({ do: 'echo', text: 'ignored' }, 5000)).toBe(2)
    // drain() hands over at once what the worker posted before it answered
    host.drain()
    expect(received).toEqual(['one', 'two'])
  })

  it('stops cleanly when the session closes', async () => {
    const { host, received, failures } = await start()
    host.post({ do: 'close' })
    await host.stop(5000)
    expect(received).toEqual(['closing'])
    expect(failures).toEqual([])
  })

  it('rejects start with the error the session module threw, of its class', async () => {
    const error = await start({ failStart: true }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RangeError)
    expect((error as Error).message).toBe('this session does not start')
  })

  it.each([
    ['an uncaught error', { do: 'throw', text: 'boom' } as const, /test worker failed: boom/],
    [
      'an exit it was not asked for',
      { do: 'exit', code: 3 } as const,
      /exited unexpectedly \(exit code 3\)/,
    ],
    ['a message on a channel the host does not read', { do: 'stray' } as const, /unknown message/],
  ])('reports %s once, as a CanError', async (_what, command, pattern) => {
    const { host, failures } = await start()
    host.post(command)
    await until(() => failures.length > 0)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(failures).toHaveLength(1)
    expect(failures[0]).toBeInstanceOf(CanError)
    expect(failures[0]!.message).toMatch(pattern)
    expect(host.failure).toBe(failures[0])
  })

  it('takes a worker whose heartbeat stops for stuck, and ends it', async () => {
    const { host, failures } = await start({ stallMs: 300 })
    host.post({ do: 'spin' })
    await until(() => failures.length > 0)
    expect(failures[0]!.message).toMatch(/stopped answering: no heartbeat for \d+ ms/)
    // a call to a failed worker throws its failure
    expect(() => host.call({ do: 'echo', text: 'x' }, 100)).toThrow(failures[0]!)
  })

  it('a call the worker does not answer in time fails, and the worker with it', async () => {
    const { host, failures } = await start()
    host.post({ do: 'spin' })
    expect(() => host.call({ do: 'echo', text: 'x' }, 200)).toThrow(/did not answer within 200 ms/)
    expect(failures).toHaveLength(1)
  })
})
