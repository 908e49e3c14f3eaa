// TCPBus's worker link when its worker fails: sends in flight reject (CanOperationError,
// reason internal, the worker's failure as cause), the bus is told once, and a waiting
// receive is woken. The session is a scripted one that fails on command.
import { afterEach, describe, expect, it } from 'vitest'
import { WorkerLink } from '../src/bus-worker/worker-link.ts'
import { CanError, CanOperationError, silentLogger } from '../src/index.ts'
import type { TCPBusLinkHost } from '../src/tcp-bus-link.ts'
import { resolveTCPBusOptions } from '../src/tcp-bus-options.ts'

const SESSION = new URL('./support/worker-sessions/failing-bus-session.ts', import.meta.url)

const links: WorkerLink[] = []
afterEach(async () => {
  for (const link of links.splice(0)) await link.shutdown()
})

async function start(): Promise<{ link: WorkerLink; failures: Error[] }> {
  const failures: Error[] = []
  const host: TCPBusLinkHost = {
    emit: () => {},
    periodicTasks: () => [],
    filters: () => null,
    failed: (error) => failures.push(error),
  }
  const options = resolveTCPBusOptions({ port: 0, worker: true })
  const link = await WorkerLink.start(options, silentLogger, host, SESSION)
  links.push(link)
  return { link, failures }
}

const frame = { id: 1, flags: 0, len: 1, data: new Uint8Array([1]) }

describe('a failing bus worker', () => {
  it.each([
    ['an uncaught error', 'crash/can0', /failed: the session broke/],
    ['an exit', 'exit/can0', /exited unexpectedly \(exit code 7\)/],
  ])(
    '%s rejects the send in flight and later ones, and tells the bus once',
    async (_what, channel, pattern) => {
      const { link, failures } = await start()
      const waiting = link.queue.wait()
      const error = await link.send(channel, frame, 60_000).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(CanOperationError)
      expect((error as CanOperationError).reason).toBe('internal')
      expect((error as Error).cause).toBeInstanceOf(CanError)
      expect(((error as Error).cause as Error).message).toMatch(pattern)
      await waiting // woken: the receive side sees the failure instead of hanging
      expect(failures).toHaveLength(1)
      expect(failures[0]).toBe((error as Error).cause)
      const later = await link.send('pi/can0', frame, 1000).catch((e: unknown) => e)
      expect((later as CanOperationError).reason).toBe('internal')
    },
  )
})
