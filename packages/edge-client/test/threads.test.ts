// The daemon's shapes (--threads, README: threads) as a process: which threads it runs, and in
// one thread (everything in the main thread) that it streams, stops and fails to start as the
// others do.
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { EdgeProcess, startEdge } from '../src/testing/edge-process.ts'
import { expectTwoRuns } from './helpers/frame-accounting.ts'
import { frameNumber, ScriptedServer } from './helpers/scripted-server.ts'

const cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** The names of a process's threads (Linux: /proc/PID/task/TID/comm). */
function threadNames(pid: number): string[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) =>
    readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(),
  )
}

const SOCKET_WRITE_FAULT = fileURLToPath(
  new URL('./fixtures/socket-write-fault.mjs', import.meta.url),
)

async function streaming(threads: string, frames: number, env: Record<string, string> = {}) {
  const server = new ScriptedServer()
  const port = await server.listen(0)
  cleanups.push(() => server.close())
  const args = ['--server', `127.0.0.1:${port}`, '--log-level', 'debug']
  args.push('--channel', `virtual:t?rate=5000&count=${frames}`, '--threads', threads)
  const edge = await startEdge(args, env)
  cleanups.push(() => edge.stop('SIGKILL'))
  return { server, edge }
}

/** A daemon for a start that fails: no server (port 1) is ever reached. */
function nowhere(channel: string, threads: string): EdgeProcess {
  const args = ['--server', '127.0.0.1:1', '--channel', channel, '--threads', threads]
  const edge = new EdgeProcess(args)
  cleanups.push(() => edge.stop('SIGKILL'))
  return edge
}

describe('--threads', () => {
  it.each([
    ['1', []],
    ['2', ['canbridge-socke']],
    ['3', ['canbridge-poll', 'canbridge-socke']],
  ])(
    '--threads %s runs the workers of its shape, and streams every frame once',
    async (threads, workers) => {
      const { server, edge } = await streaming(threads, 3000)
      await server.waitFor(() => server.state.count(0) === 3000, 20_000, '3,000 frames')
      const names = threadNames(edge.child.pid!)
      expect(names.filter((n) => n.startsWith('canbridge-')).sort()).toEqual(workers)
      const frames = server.state.channel(0)
      expect(frames.map((f) => f.seq)).toEqual([...frames.keys()])
      expect(frames.map(frameNumber)).toEqual([...frames.keys()])
      expect(server.state.gaps).toEqual([])
      expect(await edge.stop('SIGTERM')).toBe(0)
      expect(edge.logs.filter((l) => l.level >= 50)).toEqual([])
    },
  )

  it('--threads 1: a SIGTERM flushes what was read to the server before the exit', async () => {
    const { server, edge } = await streaming('1', 1_000_000)
    await server.waitFor(() => server.state.count(0) > 2000, 20_000, '2,000 frames')
    expect(await edge.stop('SIGTERM')).toBe(0)
    const flushed = edge.logs.find((l) => l.msg === 'flushed')
    expect(flushed).toMatchObject({ unacked: 0, lost: 0 })
    const read = (edge.lastStats() as unknown as { channels: { framesRead: number }[] })
      .channels[0]!.framesRead
    expect(server.state.count(0)).toBe(read)
  })

  it('--threads 1: an exception in the sending side restarts it in the main thread, and no frame is lost', async () => {
    // the 40th TCP write of the main thread throws (test/fixtures/socket-write-fault.mjs)
    const { server, edge } = await streaming('1', 10_000, {
      NODE_OPTIONS: `--import ${SOCKET_WRITE_FAULT}`,
      EDGE_TEST_FAULT_AT: '40',
    })
    await server.waitFor(() => server.connections === 2, 20_000, 'a reconnect from the new side')
    // the new side reopens the channel: its virtual generator starts again at 0, and what the
    // first one read and the server had not acknowledged is still in the ring, numbered where it was
    await expectTwoRuns(server, 10_000, 30_000)
    const crashed = edge.logs.filter((l) => l.msg === 'worker crashed')
    expect(crashed.map((l) => (l['err'] as { message: string }).message)).toEqual([
      'injected fault: a socket write threw',
    ])
    const restarts = edge.logs.filter((l) => l.msg === 'restarting worker')
    expect(restarts.map((l) => [l['worker'], l['restarts']])).toEqual([['write', 1]])
    expect(await edge.stop('SIGTERM')).toBe(0)
  })

  it('--threads 1: a channel that cannot be opened fails the start, once, with what to fix', async () => {
    const edge = nowhere('nosuchcan9', '1')
    expect(await edge.exited()).toBe(1)
    expect(edge.stderr).toMatch(/^canbridge-edge: .*nosuchcan9/m)
    expect(edge.logs.filter((l) => l.msg === 'worker crashed')).toEqual([])
  })

  it('refuses a shape that does not exist', async () => {
    const edge = nowhere('vcan0', '4')
    expect(await edge.exited()).toBe(2)
    expect(edge.stderr).toMatch(/threads "4".*expected an integer from 1 to 3/)
  })
})
