// The whole daemon with --socketcand on loopback, its channels virtual: socketcand clients
// beside the canbridge link (a scripted server), the beacon on UDP 42000, the worker's
// restart and shutdown, and Debian's python-can 4.1.0 as a real client where installed.
import { spawnSync } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { createServer } from 'node:net'
import { Writable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.ts'
import { createLogger } from '../../src/logger.ts'
import { Supervisor } from '../../src/supervisor.ts'
import { type EdgeProcess, startEdge } from '../../src/testing/edge-process.ts'
import { ScriptedServer } from '../helpers/scripted-server.ts'
import { pythonCan, runPython } from './support/python-can.ts'
import { TextClient } from './support/text-client.ts'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function edge(
  channel: string,
  extra: string[] = [],
): Promise<{ e: EdgeProcess; port: number }> {
  const server = new ScriptedServer()
  const serverPort = await server.listen(0)
  cleanups.push(() => server.close())
  const e = await startEdge(
    [
      '--server',
      `127.0.0.1:${serverPort}`,
      '--channel',
      channel,
      '--socketcand',
      '127.0.0.1:0',
      ...extra,
    ],
    {},
    'serving socketcand',
  )
  cleanups.push(() => e.stop('SIGKILL'))
  const serving = await e.waitForMsg('serving socketcand')
  const port = Number(String(serving['address']).split(':').at(-1))
  return { e, port }
}

async function client(port: number): Promise<TextClient> {
  const c = await TextClient.connect(port)
  cleanups.push(() => c.close())
  await c.expect('< hi >')
  return c
}

/** `< frame ID SEC.USEC DATA >` of the virtual counter pattern: frame n has id 0x100 + n % 16, data n (LE). */
const FRAME = /< frame ([0-9A-F]{3}) (\d+)\.(\d{6}) ([0-9A-F]{16}) >/g

function counterNumbers(text: string): number[] {
  return [...text.matchAll(FRAME)].map((m) => {
    const n = Number(Buffer.from(m[4]!, 'hex').readBigUInt64LE())
    expect(Number.parseInt(m[1]!, 16)).toBe(0x100 + (n % 16))
    return n
  })
}

describe('canbridge-edge --socketcand (virtual channels, loopback)', () => {
  it('serves a raw-mode client every frame in order with its timestamp, and puts its sends on the bus', async () => {
    const { e, port } = await edge('virtual:demo?rate=500&loopback=1')
    const c = await client(port)
    c.send('< open virtual:demo >< rawmode >')
    await c.expect('< hi >< ok >< ok >')
    await c.until((r) => counterNumbers(r).length >= 100, '100 frames')
    const numbers = counterNumbers(c.received)
    expect(numbers).toEqual(numbers.map((_, i) => numbers[0]! + i))
    const seconds = [...c.received.matchAll(FRAME)].map((m) => Number(m[2]))
    expect(Math.abs(seconds[0]! - Date.now() / 1000)).toBeLessThan(10)
    // loopback=1: what this client sends comes back as received traffic of its bus
    c.send('< send 123 2 aa bb >')
    await c.until((r) => /< frame 123 \d+\.\d{6} AABB >/.test(r), 'its own frame back')
    const connected = await e.waitForMsg('socketcand client connected')
    expect(connected).toMatchObject({ worker: 'socketcand' })
    c.close()
    const gone = await e.waitForMsg('socketcand client disconnected')
    expect(gone).toMatchObject({ bus: 'virtual:demo', framesIn: 1 })
  })

  it('control mode: statistics of a virtual bus are the client’s own counts', async () => {
    const { port } = await edge('virtual:stats?rate=200')
    const c = await client(port)
    c.send('< open virtual:stats >< controlmode >< statistics 300 >')
    await c.until((r) => /< stat \d+ \d+ 0 0 >< stat/.test(r), 'two stat messages')
    const stats = [...c.received.matchAll(/< stat (\d+) (\d+) 0 0 >/g)]
    const [rxBytes, rxPackets] = [Number(stats[1]![1]), Number(stats[1]![2])]
    expect(rxPackets).toBeGreaterThan(0)
    expect(rxBytes).toBe(rxPackets * 8)
  })

  it('serving beyond loopback (*) warns that socketcand authenticates no one; loopback does not', async () => {
    const quiet = await edge('virtual:lo?rate=0')
    expect(quiet.e.logs.some((l) => /authenticates no one/.test(l.msg))).toBe(false)
    const { e } = await edge('virtual:all?rate=0', [
      '--socketcand',
      '*:0',
      '--no-socketcand-beacon',
    ])
    const warning = await e.waitForLog((l) => /socketcand authenticates no one/.test(l.msg))
    expect(warning['level']).toBe(40)
    expect(String(warning['address'])).toMatch(/^(\[::\]|0\.0\.0\.0):\d+$/)
  })

  it('listen-only: sends are refused with a reason', async () => {
    const { port } = await edge('virtual:ro?rate=0', ['--listen-only'])
    const c = await client(port)
    c.send('< open virtual:ro >< rawmode >< send 123 0 >')
    await c.expect('< error listen-only: the edge runs in listen-only mode >')
  })

  it('sends the beacon to UDP 42000 of the network it listens on (here loopback)', async () => {
    const socket = createSocket({ type: 'udp4', reuseAddr: true })
    const beacons: string[] = []
    socket.on('message', (message) => beacons.push(message.toString('utf8')))
    await new Promise<void>((resolve) => socket.bind(42000, resolve))
    cleanups.push(() => socket.close())
    const { port } = await edge('virtual:beacon?rate=0')
    const ours = (): string[] =>
      beacons.filter((b) => b.includes(`<URL>can://127.0.0.1:${port}</URL>`))
    const deadline = Date.now() + 8000
    while (ours().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    expect(ours().length).toBeGreaterThanOrEqual(2)
    expect(ours()[0]).toMatch(
      new RegExp(
        `^<CANBeacon name="[^"]+" type="SocketCAN" description="canbridge-edge">\\n<URL>can://127\\.0\\.0\\.1:${port}</URL><Bus name="virtual:beacon"/></CANBeacon>$`,
      ),
    )
  })

  it('a socketcand port already taken stops the start with what to do (exit 1)', async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => taken.close())
    const port = (taken.address() as { port: number }).port
    const result = spawnSync(
      process.execPath,
      [
        new URL('../../src/main.ts', import.meta.url).pathname,
        '--server',
        '127.0.0.1:9',
        '--channel',
        'virtual:x?rate=0',
        '--socketcand',
        `127.0.0.1:${port}`,
        '--log-level',
        'silent',
      ],
      { encoding: 'utf8', timeout: 20_000 },
    )
    expect(result.status).toBe(1)
    expect(result.stderr).toContain(
      `canbridge-edge: cannot serve socketcand on 127.0.0.1 port ${port}: listen EADDRINUSE: address already in use 127.0.0.1:${port}; another program (a socketcand?) listens there; choose another port with --socketcand HOST:PORT`,
    )
  })

  it('SIGTERM ends the clients’ connections and exits 0', async () => {
    const { e, port } = await edge('virtual:t?rate=100')
    const c = await client(port)
    c.send('< open virtual:t >< rawmode >')
    await c.expect('< ok >< ok >')
    expect(await e.stop('SIGTERM')).toBe(0)
    await c.waitClosed()
    expect(e.logs.find((l) => l.msg === 'socketcand client disconnected')).toMatchObject({
      reason: 'the edge is stopping',
    })
  })
})

describe('the socketcand worker under the supervisor', () => {
  it('restarts after a crash (logged, counted) and serves new clients on the same port', async () => {
    const server = new ScriptedServer()
    const serverPort = await server.listen(0)
    cleanups.push(() => server.close())
    const free = createServer()
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve))
    const port = (free.address() as { port: number }).port
    await new Promise((resolve) => free.close(resolve))
    const config = loadConfig(
      {
        server: `127.0.0.1:${serverPort}`,
        channels: ['virtual:r?rate=50'],
        socketcand: `127.0.0.1:${port}`,
        socketcandBeacon: false,
      },
      {},
    )
    const lines: { msg: string; [key: string]: unknown }[] = []
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString('utf8').split('\n'))
          if (line) lines.push(JSON.parse(line))
        callback()
      },
    })
    const supervisor = new Supervisor(config, createLogger('debug', stream))
    await supervisor.start()
    cleanups.push(() => supervisor.stop('test over'))
    const before = await client(port)
    await supervisor.terminateWorker('socketcand')
    await before.waitClosed()
    const deadline = Date.now() + 10_000
    while (lines.filter((l) => l.msg === 'serving socketcand').length < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20))
    expect(lines.find((l) => l.msg === 'restarting worker')).toMatchObject({
      worker: 'socketcand',
      restarts: 1,
    })
    expect(supervisor.snapshot().workerRestarts).toBe(1)
    const after = await client(port)
    after.send('< open virtual:r >')
    await after.expect('< hi >< ok >')
  })
})

describe.skipIf(pythonCan() === undefined)(
  'python-can socketcand interface (Debian python3-can) against the edge',
  () => {
    // Skipped where no python3 with python-can's socketcand interface is installed; the
    // kernel harness installs Debian's python3-can (test/kernel/socketcand.test.ts runs it there).
    it('receives the frames of a virtual bus, and sends one that comes back', async () => {
      // python-can 4.1.0 loses a frame its 1024-byte reads cut in two unless each has a line feed,
      // and its handshake needs the reply alone in one read (patched in the script below)
      const { port } = await edge('virtual:py?rate=1000&loopback=1', ['--socketcand-line-feeds'])
      const result = await runPython(
        `
import can, json, time
import can.interfaces.socketcand.socketcand as socketcand

# python-can 4.1.0 checks each handshake reply against whatever one recv(256) returns: on a
# busy bus the first frame after '< rawmode >' can arrive in the same read (the real
# socketcand daemon sends them the same way), and it fails. Read exactly the reply instead;
# what follows stays for python-can's own frame parsing.
def expect_reply(self, msg):
    sock = self._SocketCanDaemonBus__socket
    got = b''
    while len(got) < len(msg):
        chunk = sock.recv(len(msg) - len(got))
        if not chunk:
            break
        got += chunk
    if got.decode('ascii') != msg:
        raise can.CanError(f'{msg} expected, got {got!r}')
socketcand.SocketCanDaemonBus._expect_msg = expect_reply

bus = can.Bus(interface='socketcand', host='127.0.0.1', port=${port}, channel='virtual:py')
frames = []
deadline = time.time() + 20
while len(frames) < 500 and time.time() < deadline:
    m = bus.recv(1.0)
    if m is not None:
        frames.append([m.arbitration_id, m.data.hex(), m.timestamp, m.is_extended_id])
bus.send(can.Message(arbitration_id=0x321, data=[9, 8, 7], is_extended_id=False))
echo = None
while echo is None and time.time() < deadline:
    m = bus.recv(1.0)
    if m is not None and m.arbitration_id == 0x321:
        echo = [m.arbitration_id, m.data.hex()]
bus.shutdown()
print(json.dumps({'frames': frames, 'echo': echo}))
`,
        30_000,
      )
      const { frames, echo } = JSON.parse(result) as {
        frames: [number, string, number, boolean][]
        echo: [number, string] | null
      }
      expect(frames.length).toBe(500)
      const numbers = frames.map(([id, data]) => {
        const n = Number(Buffer.from(data, 'hex').readBigUInt64LE())
        expect(id).toBe(0x100 + (n % 16))
        return n
      })
      expect(numbers).toEqual(numbers.map((_, i) => numbers[0]! + i))
      // python-can 4.1.0 marks every received frame extended (ANCHORS: its quirks)
      expect(frames.every(([, , , extended]) => extended)).toBe(true)
      expect(echo).toEqual([0x321, '090807'])
    })
  },
)
