// The supervisor in-process: worker crash and restart (logged, counted, no frame lost), and
// the Prometheus endpoint.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.ts'
import { createLogger } from '../src/logger.ts'
import { startMetrics } from '../src/metrics.ts'
import { Supervisor } from '../src/supervisor.ts'
import { expectTwoRuns } from './helpers/frame-accounting.ts'
import { frameNumber, ScriptedServer } from './helpers/scripted-server.ts'

const cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function capture() {
  const lines: { level: number; msg: string; [key: string]: unknown }[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line))
      callback()
    },
  })
  return { lines, log: createLogger('debug', stream) }
}

async function running(channel: string, extra: Record<string, unknown> = {}) {
  const server = new ScriptedServer({ heartbeatMs: 300 })
  const port = await server.listen(0)
  cleanups.push(() => server.close())
  const config = loadConfig(
    { server: `127.0.0.1:${port}`, channels: [channel], statsIntervalMs: '200ms', ...extra },
    {},
  )
  const { lines, log } = capture()
  const supervisor = new Supervisor(config, log)
  await supervisor.start()
  cleanups.push(() => supervisor.stop('test over'))
  return { server, supervisor, lines }
}

describe('supervisor', () => {
  it('restarts a crashed worker with a logged reason and a counter, losing no frame (--threads 3)', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'canbridge-supervisor-'))
    cleanups.push(() => rmSync(spoolDir, { recursive: true, force: true }))
    // with a spool: the restarted write worker opens it again
    const { server, supervisor, lines } = await running('virtual:w?rate=5000&count=15000', {
      spoolDir,
      threads: 3,
    })
    await server.waitFor(() => server.state.count(0) > 2000, 10_000, '2,000 frames')
    await supervisor.terminateWorker('write')
    await server.waitFor(
      () => server.connections === 2,
      10_000,
      'a reconnect from the new write worker',
    )
    await supervisor.terminateWorker('poll')
    await server.waitFor(
      () => lines.filter((l) => l.msg === 'restarting worker').length === 2,
      10_000,
      'two restarts',
    )
    // the restarted poll worker reopens the channel: its virtual generator starts again at 0
    await server.waitFor(() => server.state.count(0) >= 15_000, 20_000, '15,000 frames')
    const frames = server.state.channel(0)
    expect(frames.map((f) => f.seq)).toEqual([...frames.keys()])
    const firstRun = frames.findIndex((f, i) => i > 0 && frameNumber(f) === 0)
    expect(firstRun).toBeGreaterThan(2000)
    const wrong = frames.slice(0, firstRun).findIndex((f, i) => frameNumber(f) !== i)
    expect(
      wrong === -1
        ? 'ok'
        : {
            wrong,
            around: frames.slice(wrong - 2, wrong + 3).map((f) => [f.seq, frameNumber(f)]),
            firstRun,
            restarts: lines.filter((l) => l.level >= 40).map((l) => l.msg),
          },
    ).toBe('ok')
    expect(server.state.gaps).toEqual([])
    const restarts = lines.filter((l) => l.msg === 'restarting worker')
    expect(restarts.map((l) => l['worker'])).toEqual(['write', 'poll'])
    expect(String(restarts[0]!['reason'])).toMatch(/exit code 1/)
    expect(supervisor.snapshot().workerRestarts).toBe(2)
  })

  it.each([
    ['the socket-write worker (default shape)', 2, false],
    ['the socket-write side in the main thread (--threads 1)', 1, false],
    ['the socket-write side in the main thread (--threads 1, a spool: closed, reopened)', 1, true],
  ])('restarts %s with the channels it hosts, losing no frame', async (_, threads, spooled) => {
    const extra: Record<string, unknown> = { threads }
    if (spooled) {
      const spoolDir = mkdtempSync(join(tmpdir(), 'canbridge-supervisor-'))
      cleanups.push(() => rmSync(spoolDir, { recursive: true, force: true }))
      extra['spoolDir'] = spoolDir
    }
    const { server, supervisor, lines } = await running('virtual:h?rate=5000&count=10000', extra)
    await expect(supervisor.terminateWorker('poll')).rejects.toThrow(/no poll worker/)
    await server.waitFor(() => server.state.count(0) > 2000, 10_000, '2,000 frames')
    await supervisor.terminateWorker('write')
    await server.waitFor(() => server.connections === 2, 10_000, 'a reconnect')
    // the restarted worker reopens the channel: its virtual generator starts again at 0, and
    // what the first one read and had not sent is still in the ring, numbered where it was
    const secondRun = await expectTwoRuns(server, 10_000, 20_000)
    expect(secondRun).toBeGreaterThan(2000)
    expect(server.state.drops).toEqual([])
    const restarts = lines.filter((l) => l.msg === 'restarting worker')
    expect(restarts.map((l) => l['worker'])).toEqual(['write'])
    expect(supervisor.snapshot().workerRestarts).toBe(1)
  })

  it('serves Prometheus metrics', async () => {
    const { server, supervisor } = await running('virtual:m?rate=2000&count=500')
    await server.waitFor(() => server.state.count(0) === 500, 10_000, '500 frames')
    const { log } = capture()
    const metrics = await startMetrics(0, supervisor, log)
    cleanups.push(() => metrics.close())
    const response = await fetch(`http://127.0.0.1:${metrics.port}/metrics`)
    expect(response.status).toBe(200)
    const text = await response.text()
    expect(text).toMatch(/canbridge_edge_frames_read_total\{channel="virtual:m"\} 500/)
    expect(text).toMatch(/canbridge_edge_connected 1/)
    expect(text).toMatch(/canbridge_edge_ring_capacity_bytes\{channel="virtual:m"\} 8388608/)
    expect(text).toContain('canbridge_edge_process_')
    expect((await fetch(`http://127.0.0.1:${metrics.port}/other`)).status).toBe(404)
  })
})
