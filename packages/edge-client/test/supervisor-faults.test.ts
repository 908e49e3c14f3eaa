// The supervisor against workers that misbehave: a message it does not know (a bug on one
// side: fatal, never ignored) from a running worker or from one still starting, and a stop
// that comes while it is starting. The Worker class is wrapped to reach the supervisor's
// workers: an unknown message is emitted on a worker the way a real one arrives.

import { Writable } from 'node:stream'
import type { Worker, WorkerOptions } from 'node:worker_threads'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { loadConfig } from '../src/config.ts'
import { createLogger } from '../src/logger.ts'
import { StartupError, Supervisor } from '../src/supervisor.ts'
import { ScriptedServer } from './helpers/scripted-server.ts'

const workers = vi.hoisted(() => ({
  created: [] as { name: string; worker: Worker }[],
  /** called for each worker the supervisor creates, right after it is created */
  onCreate: undefined as ((name: string, worker: Worker) => void) | undefined,
}))

vi.mock('node:worker_threads', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:worker_threads')>()
  class RecordedWorker extends actual.Worker {
    constructor(url: string | URL, options?: WorkerOptions) {
      super(url, options)
      const name = options?.name ?? ''
      workers.created.push({ name, worker: this })
      workers.onCreate?.(name, this)
    }
  }
  return { ...actual, Worker: RecordedWorker }
})

const cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  workers.created.length = 0
  workers.onCreate = undefined
})

type Line = { level: number; msg: string; [key: string]: unknown }

function capture() {
  const lines: Line[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line))
      callback()
    },
  })
  return { lines, log: createLogger('debug', stream) }
}

/** threads 3: a poll worker reads the channels; 2: the socket-write worker does */
async function supervisor(channel: string, threads = 2) {
  const server = new ScriptedServer({ heartbeatMs: 300 })
  const port = await server.listen(0)
  cleanups.push(() => server.close())
  const config = loadConfig(
    { server: `127.0.0.1:${port}`, channels: [channel], statsIntervalMs: '200ms', threads },
    {},
  )
  const { lines, log } = capture()
  const s = new Supervisor(config, log)
  cleanups.push(() => s.stop('test over'))
  return { server, supervisor: s, lines }
}

function worker(name: 'canbridge-poll' | 'canbridge-socket-write'): Worker {
  const found = workers.created.filter((w) => w.name === name).at(-1)
  if (!found) throw new Error(`no ${name} worker was created`)
  return found.worker
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const start = performance.now()
  while (!check()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('supervisor: unknown messages and stops while starting', () => {
  it.each([
    ['poll', 'canbridge-poll'],
    ['write', 'canbridge-socket-write'],
  ] as const)(
    'an unknown message from the running %s worker is logged as fatal, and the worker restarted with it as the reason',
    async (kind, name) => {
      const {
        server,
        supervisor: s,
        lines,
      } = await supervisor('virtual:u?rate=2000', kind === 'poll' ? 3 : 2)
      await s.start()
      await server.waitFor(() => server.state.count(0) > 200, 10_000, '200 frames')
      const before = workers.created.length
      worker(name).emit('message', { type: 'no-such-type', detail: 42 })

      await until(() => lines.some((l) => l.msg === 'restarting worker'), 'the restart')
      const fatal = lines.find((l) => l.msg === 'unknown message from a worker: restarting it')
      expect(fatal).toMatchObject({
        level: 60,
        worker: kind,
        message: { type: 'no-such-type', detail: 42 },
      })
      const restart = lines.find((l) => l.msg === 'restarting worker')!
      expect(restart['worker']).toBe(kind)
      expect(String(restart['reason'])).toBe(
        `unknown message from the ${kind} worker: {"type":"no-such-type","detail":42}`,
      )
      expect(s.snapshot().workerRestarts).toBe(1)
      expect(workers.created.length).toBe(before + 1)
      // the daemon carries on: a new worker of that kind, frames still arriving
      const count = server.state.count(0)
      await server.waitFor(() => server.state.count(0) > count + 200, 10_000, 'more frames')
      if (kind === 'write') expect(server.connections).toBe(2)
      expect(server.state.gaps).toEqual([])
      expect(lines.some((l) => l.msg === 'giving up')).toBe(false)
    },
  )

  it.each([
    ['poll', 'canbridge-poll'],
    ['write', 'canbridge-socket-write'],
  ] as const)(
    'an unknown message from the %s worker while it starts fails the start, naming it',
    async (kind, name) => {
      const { supervisor: s, lines } = await supervisor(
        'virtual:s?rate=100',
        kind === 'poll' ? 3 : 2,
      )
      workers.onCreate = (created, w) => {
        if (created === name) queueMicrotask(() => w.emit('message', { type: 'surprise' }))
      }
      const error = await s.start().then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(StartupError)
      expect((error as StartupError).code).toBe('worker')
      expect((error as StartupError).message).toBe(
        `${kind} worker failed while starting: unknown message from the ${kind} worker: {"type":"surprise"}`,
      )
      expect(lines.find((l) => l.level === 60)).toMatchObject({
        msg: 'unknown message from a worker: restarting it',
        worker: kind,
        message: { type: 'surprise' },
      })
      expect(s.snapshot().workerRestarts).toBe(0)
    },
  )

  it('stop() while the poll worker is starting ends it and starts nothing more (--threads 3)', async () => {
    const { server, supervisor: s, lines } = await supervisor('virtual:t?rate=1000', 3)
    const started = s.start()
    const stopped = s.stop('SIGTERM')
    await Promise.all([started, stopped])
    expect(workers.created.map((w) => w.name)).toEqual(['canbridge-poll'])
    expect(lines.map((l) => l.msg)).toContain('stopping')
    expect(lines.some((l) => l.msg === 'worker did not answer in time')).toBe(false)
    expect(server.connections).toBe(0)
  })
})
