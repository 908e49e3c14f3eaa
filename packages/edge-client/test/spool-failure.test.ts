// An unusable spool directory, at startup and at run time, against the real daemon: it
// must refuse to start, never spin, and always end within the shutdown deadline.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url))
/** an address nothing listens on: the edge keeps its frames */
const NO_SERVER = '127.0.0.1:1'

type Line = Record<string, unknown> & { msg: string }

interface Run {
  child: ChildProcess
  lines: Line[]
  stderr: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>
}

function run(args: string[]): Run {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: Line[] = []
  let pending = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk
    const parts = pending.split('\n')
    pending = parts.pop()!
    for (const part of parts) if (part.startsWith('{')) lines.push(JSON.parse(part) as Line)
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>(
    (resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal, at: performance.now() })),
  )
  return { child, lines, stderr: () => err, exited }
}

async function waitFor<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
  const until = performance.now() + timeoutMs
  for (;;) {
    const value = check()
    if (value !== undefined) return value
    if (performance.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

interface Stats {
  uptimeMs: number
  cpuUserMs: number
  cpuSystemMs: number
  channels: { spoolBytes: number; spoolErrors: number; dropsRingOldest: number }[]
}
const statsLines = (r: Run): Stats[] =>
  r.lines.filter((l) => l.msg === 'stats') as unknown as Stats[]

/** CPU of the whole process (all threads) per wall second between two stats lines */
function cpuShare(from: Stats, to: Stats): number {
  const cpu = to.cpuUserMs + to.cpuSystemMs - from.cpuUserMs - from.cpuSystemMs
  return cpu / (to.uptimeMs - from.uptimeMs)
}

let root: string
const children: ChildProcess[] = []
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'canbridge-spool-failure-'))
})
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL')
  await rm(root, { recursive: true, force: true })
})

function start(args: string[]): Run {
  const r = run(args)
  children.push(r.child)
  return r
}

describe('a spool directory that cannot be used at startup', () => {
  // /proc/nope: mkdir says ENOENT under an existing parent, which made Node's recursive
  // mkdir loop forever; a path under a regular file says ENOTDIR
  for (const [name, dir] of [
    ['under /proc', () => '/proc/nope'],
    ['under a regular file', () => join(root, 'file', 'spool')],
  ] as const) {
    it(`stops the edge with exit 1 and names the directory (${name})`, async () => {
      await writeFile(join(root, 'file'), 'not a directory\n')
      const spoolDir = dir()
      const startedAt = performance.now()
      const r = start(['--server', NO_SERVER, '--channel', 'virtual:x', '--spool-dir', spoolDir])
      const exit = await r.exited
      // a spinning or hanging start never gets here within the test's timeout
      expect(exit.at - startedAt).toBeLessThan(5000)
      expect(exit).toMatchObject({ code: 1, signal: null })
      expect(r.stderr()).toContain(`cannot use the spool (--spool-dir ${spoolDir})`)
      expect(r.stderr()).toMatch(/ENOENT|ENOTDIR/)
      expect(r.stderr()).toContain('leave out --spool-dir')
      expect(r.lines.some((l) => l.msg === 'connecting')).toBe(false)
    })
  }
})

describe('a channel spool that is not a spool', () => {
  it('stops the edge with exit 1, the spool named as the cause (the write worker fails to open it)', async () => {
    // the channel's sub-directory holds someone else's file: opening it as a spool would
    // write among them, so the socket-write worker refuses (SpoolCorruptError)
    const spoolDir = join(root, 'spool')
    const channelDir = join(spoolDir, encodeURIComponent('virtual:x'))
    await mkdir(channelDir, { recursive: true })
    await writeFile(join(channelDir, 'notes.txt'), 'not a spool\n')
    const r = start(['--server', NO_SERVER, '--channel', 'virtual:x', '--spool-dir', spoolDir])
    const exit = await r.exited
    expect(exit).toMatchObject({ code: 1, signal: null })
    expect(r.stderr()).toContain(`cannot use the spool (--spool-dir ${spoolDir})`)
    expect(r.stderr()).toContain('is not a spool: it holds notes.txt')
    expect(r.lines.find((l) => l.msg.startsWith('cannot use the spool'))?.['code']).toBe('spool')
  })
})

describe('a spool directory that fails at run time', () => {
  it('keeps frames in the ring without spinning, counts the errors, and stops on SIGTERM in time', async () => {
    const parent = join(root, 'parent')
    const spoolDir = join(parent, 'spool')
    await mkdir(parent)
    const r = start([
      '--server',
      NO_SERVER,
      '--channel',
      'virtual:x?rate=5000',
      '--spool-dir',
      spoolDir,
      '--ring-bytes',
      '64K',
      '--spool-bytes',
      '1M',
      '--drop-policy',
      'drop-oldest',
      '--stats-interval',
      '250ms',
      '--shutdown-timeout',
      '1s',
      '--log-level',
      'info',
    ])
    await waitFor(
      'frames in the spool',
      () => statsLines(r).find((s) => s.channels[0]!.spoolBytes > 0),
      10_000,
    )
    // the directory goes away and a regular file takes its parent's place: appends to the
    // open segment may still work, the next segment or state write cannot
    await rm(parent, { recursive: true, force: true })
    await writeFile(parent, 'not a directory\n')
    const failed = await waitFor(
      'the spool failure',
      () => r.lines.find((l) => l.msg.startsWith('spool append failed')),
      15_000,
    )
    expect(failed['error']).toMatch(/ENOTDIR|ENOENT/)
    expect(failed['retryInMs']).toBeGreaterThanOrEqual(1000)
    const from = await waitFor('stats after the failure', () => statsLines(r).at(-1), 2000)
    await new Promise((resolve) => setTimeout(resolve, 3000))
    const to = statsLines(r).at(-1)!
    expect(to.uptimeMs - from.uptimeMs).toBeGreaterThan(2000)
    // a spinning loop costs a whole core (1.0); generating and ring-dropping 5000 frames/s
    // costs about a tenth of one
    expect(cpuShare(from, to)).toBeLessThan(0.5)
    expect(to.channels[0]!.spoolErrors).toBeGreaterThanOrEqual(1)
    // the ring filled: drop-oldest, reported as usual
    expect(to.channels[0]!.dropsRingOldest).toBeGreaterThan(0)
    // logged once per outage, not once per retry
    expect(r.lines.filter((l) => l.msg.startsWith('spool append failed')).length).toBe(1)

    const signalledAt = performance.now()
    r.child.kill('SIGTERM')
    const exit = await r.exited
    // --shutdown-timeout 1s plus the margin
    expect(exit.at - signalledAt).toBeLessThan(4000)
    expect(exit).toMatchObject({ code: 0, signal: null })
    expect(r.lines.some((l) => l.msg === 'flushed')).toBe(true)
  }, 40_000)
})

describe('a spool that hangs', () => {
  it('does not hold the shutdown past --shutdown-timeout plus the margin', async () => {
    // state.json as a FIFO nobody writes: opening it blocks the worker in the file system,
    // like a dead disk or a stuck network mount; such a worker cannot even be terminated
    const spoolDir = join(root, 'spool')
    const channelDir = join(spoolDir, encodeURIComponent('virtual:x'))
    await mkdir(channelDir, { recursive: true })
    const mkfifo = spawn('mkfifo', [join(channelDir, 'state.json')])
    expect(await new Promise((resolve) => mkfifo.on('exit', resolve))).toBe(0)
    const r = start([
      '--server',
      NO_SERVER,
      '--channel',
      'virtual:x',
      '--spool-dir',
      spoolDir,
      '--shutdown-timeout',
      '1s',
    ])
    await waitFor('the poll worker', () => r.lines.find((l) => l.msg === 'channel up'), 10_000)
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(r.lines.some((l) => l.msg === 'spool opened')).toBe(false)
    const signalledAt = performance.now()
    r.child.kill('SIGTERM')
    const exit = await r.exited
    // 1 s deadline + 2 s margin for the flush + 1 s for terminate(), with some slack
    expect(exit.at - signalledAt).toBeLessThan(6000)
    expect(exit.code === 0).toBe(false) // not a clean exit: killed, or exit code 1
    expect(r.lines.find((l) => l.msg === 'worker did not answer in time')?.['waitingFor']).toBe(
      'write-flushed',
    )
    expect(r.lines.some((l) => l.msg === 'killing the process')).toBe(true)
  }, 20_000)
})
