// End to end: SocketcandBus against canbridge-edge's own socketcand server (the built daemon, a virtual channel with loopback, dialing a real TCPBus), all on loopback TCP:
// the counter pattern arrives in order, sends (a remote frame through the extension too)
// come back. Periodic tasks are not checked here: the virtual channel's loopback does not
// return frames of the edge's BCM jobs to other clients, so nothing could observe them.
import { type ChildProcess, spawn } from 'node:child_process'
import { MAIN as EDGE_MAIN } from '@canbridge/edge-client/testing'
import { CanMessage, SocketcandBus, silentLogger, TCPBus } from '@canbridge/server-bus'
import { afterEach, describe, expect, it } from 'vitest'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Starts the edge serving socketcand for `channel`; resolves with its socketcand port. */
async function startEdge(channel: string): Promise<number> {
  const server = await TCPBus.listen({ port: 0, host: '127.0.0.1', logger: silentLogger })
  cleanups.push(() => server.shutdown())
  const { port } = server.address as { port: number }
  const child: ChildProcess = spawn(
    process.execPath,
    [
      EDGE_MAIN,
      ...['--server', `127.0.0.1:${port}`, '--channel', channel],
      ...['--socketcand', '127.0.0.1:0', '--no-socketcand-beacon', '--log-level', 'info'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const exited = new Promise((resolve) => child.once('exit', resolve))
  cleanups.push(async () => {
    child.kill('SIGTERM')
    // the test must end even if the daemon does not: SIGKILL after 3 s
    const force = setTimeout(() => child.kill('SIGKILL'), 3000)
    await exited
    clearTimeout(force)
  })
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  return new Promise<number>((resolve, reject) => {
    let buffered = ''
    const timer = setTimeout(
      () => reject(new Error(`the edge did not serve socketcand: ${stderr}`)),
      15_000,
    )
    child.once('exit', (code) => reject(new Error(`the edge exited with ${code}: ${stderr}`)))
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk
      const lines = buffered.split('\n')
      buffered = lines.pop()!
      for (const line of lines) {
        // the edge logs pino JSON lines; this one says where socketcand is served
        const entry = JSON.parse(line) as { msg?: string; address?: string }
        if (entry.msg !== 'serving socketcand') continue
        clearTimeout(timer)
        resolve(Number(entry.address?.split(':').at(-1)))
      }
    })
  })
}

/** Frame n of the virtual counter pattern: id 0x100 + n % 16, data n as u64 little-endian. */
function counterOf(message: CanMessage): number {
  const n = Number(
    new DataView(message.data.buffer, message.data.byteOffset, 8).getBigUint64(0, true),
  )
  expect(message.arbitrationId).toBe(0x100 + (n % 16))
  return n
}

async function receiveUntil(bus: SocketcandBus, match: (m: CanMessage) => boolean, what: string) {
  const deadline = performance.now() + 5000
  while (performance.now() < deadline) {
    const message = await bus.recv(500)
    if (message !== null && match(message)) return message
  }
  throw new Error(`no ${what} within 5 s`)
}

describe('SocketcandBus against canbridge-edge --socketcand', () => {
  it('receives the virtual bus in order, sends, and negotiates the extension', async () => {
    const port = await startEdge('virtual:e2e?rate=500&loopback=1')
    const bus = await SocketcandBus.connect({
      host: '127.0.0.1',
      port,
      channel: 'virtual:e2e',
      keepaliveMs: 0,
      logger: silentLogger,
    })
    cleanups.push(() => bus.shutdown())
    expect([...bus.features].sort()).toEqual(['errdata', 'rtr'])
    const numbers: number[] = []
    while (numbers.length < 50) {
      const message = await bus.recv(2000)
      if (message === null) throw new Error(`only ${numbers.length} frames`)
      if (message.dlc === 8) numbers.push(counterOf(message))
    }
    expect(numbers).toEqual(numbers.map((_, i) => numbers[0]! + i))
    const last = await bus.recv(2000)
    expect(Math.abs(last!.timestamp - Date.now() / 1000)).toBeLessThan(10)

    await bus.send(
      new CanMessage({ arbitrationId: 0x123, isExtendedId: false, data: [0xaa, 0xbb] }),
    )
    await receiveUntil(
      bus,
      (m) => m.arbitrationId === 0x123 && m.data[0] === 0xaa,
      'the sent frame back',
    )
    await bus.send(new CanMessage({ arbitrationId: 0x1abcdef0, isRemoteFrame: true, dlc: 3 }))
    const remote = await receiveUntil(
      bus,
      (m) => m.arbitrationId === 0x1abcdef0,
      'the remote frame back',
    )
    expect([remote.isRemoteFrame, remote.isExtendedId, remote.dlc]).toEqual([true, true, 3])
    expect(bus.stats().serverErrors).toBe(0)
  })
})
