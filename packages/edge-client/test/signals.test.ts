// SIGTERM while the daemon is still starting: it stops at once, cleanly (exit code 0),
// starts nothing more, and loses nothing it already read. A preloaded fixture holds one
// worker at its start (test/fixtures/slow-worker-start.mjs) so that the signal lands there.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { EdgeProcess, type LogLine } from '../src/testing/edge-process.ts'
import { frameNumber, ScriptedServer } from './helpers/scripted-server.ts'

const SLOW_START = fileURLToPath(new URL('./fixtures/slow-worker-start.mjs', import.meta.url))

const cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function edge(args: string[], slowWorker: 'poll' | 'write'): EdgeProcess {
  const e = new EdgeProcess(['--log-level', 'debug', '--stats-interval', '1s', ...args], {
    NODE_OPTIONS: `--import ${SLOW_START}`,
    EDGE_TEST_SLOW_WORKER: slowWorker,
    EDGE_TEST_SLOW_MS: '2000',
  })
  cleanups.push(() => e.stop('SIGKILL'))
  return e
}

const messages = (e: EdgeProcess) => e.logs.map((l) => l.msg)

describe('SIGTERM during startup', () => {
  it.each([
    ['the poll worker starts (--threads 3)', ['--threads', '3'], 'poll' as const, false],
    [
      'the socket-write worker opens the channels (--threads 2)',
      ['--threads', '2'],
      'write' as const,
      true,
    ],
  ])('while %s: exits 0 at once', async (_, shape, slowWorker, mayConnect) => {
    const e = edge(
      ['--server', '127.0.0.1:1', '--channel', 'virtual:a?rate=1000', ...shape],
      slowWorker,
    )
    await e.waitForMsg('starting')
    const signalledAt = performance.now()
    e.child.kill('SIGTERM')
    expect(await e.exited()).toBe(0)
    // the worker is held for 2 s; nothing waits for a timeout beyond that
    expect(performance.now() - signalledAt).toBeLessThan(6000)
    expect(e.logs.find((l) => l.msg === 'stopping')).toMatchObject({ reason: 'SIGTERM' })
    // three threads: the socket-write worker never starts; two: it has started, and flushes
    if (!mayConnect) expect(messages(e)).not.toContain('connecting')
    expect(messages(e)).not.toContain('worker did not answer in time')
    expect(e.logs.filter((l) => l.level >= 50)).toEqual([])
    expect(e.stderr).toBe('')
  })

  it('while the socket-write worker opens the spool: what was read goes to the spool, then to the server on the next start', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'canbridge-signal-'))
    cleanups.push(() => rmSync(spoolDir, { recursive: true, force: true }))
    const channel = 'virtual:b?rate=2000'
    // three threads: the poll worker reads while the socket-write worker is held
    const first = edge(
      ['--server', '127.0.0.1:1', '--channel', channel, '--spool-dir', spoolDir, '--threads', '3'],
      'write',
    )
    // the poll worker is reading already; the socket-write worker is held
    await first.waitForMsg('channel up')
    await new Promise((resolve) => setTimeout(resolve, 300))
    first.child.kill('SIGTERM')
    expect(await first.exited()).toBe(0)
    expect(first.stderr).toBe('')
    const flushed = first.logs.find((l) => l.msg === 'flushed') as LogLine
    const stats = first.lastStats() as LogLine & { channels: { framesRead: number }[] }
    const read = stats.channels[0]!.framesRead
    expect(read).toBeGreaterThan(100)
    expect(flushed).toMatchObject({ why: 'not connected', unacked: read, spooled: read, lost: 0 })

    // the next start sends them from the spool: all of them, in order, numbered from 0
    const server = new ScriptedServer()
    const port = await server.listen(0)
    cleanups.push(() => server.close())
    const second = new EdgeProcess([
      '--server',
      `127.0.0.1:${port}`,
      '--channel',
      'virtual:b?rate=0',
      '--spool-dir',
      spoolDir,
    ])
    cleanups.push(() => second.stop('SIGKILL'))
    await server.waitFor(() => server.state.count(0) === read, 15_000, `${read} spooled frames`)
    const frames = server.state.channel(0)
    expect(frames.map((f) => f.seq)).toEqual([...frames.keys()])
    expect(frames.map((f) => frameNumber(f))).toEqual([...frames.keys()])
    expect(server.state.drops).toEqual([])
  })
})
