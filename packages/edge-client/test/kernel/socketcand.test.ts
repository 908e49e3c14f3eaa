// canbridge-edge --socketcand on real SocketCAN (vcan), with real clients: Debian's
// python3-can 4.1.0 (`interface='socketcand'`) and raw TCP, checked against candump -L on the
// same interface. Run inside scripts/kernel-harness.sh (which installs python3-can) by
// `pnpm test:kernel`; skipped anywhere else.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { FRAME_FLAG } from '@canbridge/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CandumpLog } from '../../src/testing/candump.ts'
import { DIST_MAIN, type EdgeProcess, startEdge } from '../../src/testing/edge-process.ts'
import { ScriptedServer } from '../helpers/scripted-server.ts'
import { pythonCan } from '../socketcand/support/python-can.ts'
import { TextClient } from '../socketcand/support/text-client.ts'

const inKernel = process.env['CANBRIDGE_KERNEL'] !== undefined
const fd = process.env['CANBRIDGE_VCAN_FD'] === '1'

/** `(sec.usec) iface ID#DATA`, `ID#R[dlc]`, `ID##<flags>DATA`: time, id, `#` or `##`, the rest. */
const CANDUMP_LINE = /^\((\d+\.\d{6})\) \S+ ([0-9A-F]{3}|[0-9A-F]{8})(##?)(.*)$/

type DumpLine = [time: string, id: string, separator: string, rest: string]

function dumpLine(line: string): DumpLine {
  const match = CANDUMP_LINE.exec(line)
  if (!match) throw new Error(`not a candump -L line: ${line}`)
  return match.slice(1) as DumpLine
}

/** What the edge must send a raw-mode client for that frame (socketcand's raw format). */
function wireFrame([time, id, separator, rest]: DumpLine): string {
  if (separator === '##') {
    // candump's digit may carry CANFD_FDF (4); the wire has BRS (1) and ESI (2) only
    const flags = (Number.parseInt(rest.slice(0, 1), 16) & 0x3).toString(16).padStart(2, '0')
    return `\n< fdframe ${id} ${flags.toUpperCase()} ${time} ${rest.slice(1)} >`
  }
  if (rest.startsWith('R')) return `\n< rtr ${id} ${time} ${rest.slice(1) || '0'} >`
  return `\n< frame ${id} ${time} ${rest} >`
}

function sh(command: string, ...args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8' })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits until candump's lines so far pass `check` (no time limit of its own: the test's). */
async function framesOnBus(dump: CandumpLog, check: (lines: string[]) => boolean): Promise<void> {
  while (!check(dump.lines)) await sleep(20)
}

/** A python-can script as a child process; stdout lines as they come. */
class PythonClient {
  readonly child: ChildProcess
  readonly lines: string[] = []
  stderr = ''
  readonly #exit: Promise<number | null>

  constructor(script: string) {
    this.child = spawn(pythonCan()!.python, ['-u', '-c', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let rest = ''
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n')
      rest = parts.pop()!
      this.lines.push(...parts)
    })
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk
    })
    this.#exit = new Promise((resolve) => this.child.once('exit', resolve))
  }

  async waitLine(text: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!this.lines.includes(text)) {
      if (this.child.exitCode !== null || Date.now() > deadline)
        throw new Error(
          `python did not print ${text}; stdout ${this.lines.join('|')}; stderr ${this.stderr.slice(-3000)}`,
        )
      await sleep(20)
    }
  }

  async finished(timeoutMs = 120_000): Promise<string[]> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs)
    const code = await this.#exit
    clearTimeout(timer)
    if (code !== 0) throw new Error(`python exited ${code}; stderr ${this.stderr.slice(-3000)}`)
    return this.lines
  }
}

/** python-can 4.1.0 on the edge: prints `ready`, then each received frame as JSON until `count`. */
function receiver(port: number, channel: string, count: number): string {
  return `
import can, json, sys, time
bus = can.Bus(interface='socketcand', host='127.0.0.1', port=${port}, channel='${channel}')
print('ready', flush=True)
got = 0
deadline = time.time() + 90
while got < ${count} and time.time() < deadline:
    m = bus.recv(1.0)
    if m is None:
        continue
    got += 1
    print(json.dumps([m.arbitration_id, m.is_extended_id, m.data.hex().upper(), '%.6f' % m.timestamp]))
bus.shutdown()
`
}

/**
 * A raw TCP client with `bus` open in raw mode (then `extra`, answered with the same text,
 * as the extension's handshake is), and candump started on the bus.
 */
async function rawClient(bus: string, extra = ''): Promise<{ c: TextClient; dump: CandumpLog }> {
  const c = await TextClient.connect(port)
  c.send(`< open ${bus} >< rawmode >${extra}`)
  await c.expect(`< hi >< ok >< ok >${extra}`)
  c.take()
  const dump = new CandumpLog(bus)
  await dump.listening()
  return { c, dump }
}

let server: ScriptedServer
let edge: EdgeProcess
let port = 0

describe.skipIf(!inKernel)('canbridge-edge --socketcand on vcan (kernel tests)', () => {
  beforeAll(async () => {
    server = new ScriptedServer()
    const serverPort = await server.listen(0)
    const channels = fd ? ['vcan0', 'vcan1'] : ['vcan0']
    edge = await startEdge(
      [
        '--server',
        `127.0.0.1:${serverPort}`,
        ...channels.flatMap((c) => ['--channel', c]),
        // loopback (the default), any free port: the beacon goes out on loopback
        '--socketcand',
        '0',
        // python-can 4.1.0 needs them (README: socketcand); the wire tests below see both
        '--socketcand-line-feeds',
        '--socketcand-error-mask',
        '1FFFFFFF',
        '--log-level',
        'debug',
      ],
      {},
      'serving socketcand',
      DIST_MAIN,
      90_000,
    )
    const serving = await edge.waitForMsg('serving socketcand')
    port = Number(String(serving['address']).split(':').at(-1))
    await edge.waitForMsg('connected to the server', 60_000)
  })

  afterAll(async () => {
    await edge?.stop('SIGTERM')
    await server?.close()
  })

  it('has python-can 4.1.0 (Debian python3-can) with the socketcand interface', () => {
    expect(pythonCan()).toMatchObject({ version: '4.1.0' })
  })

  it('python-can receives cangen traffic: ids, data and timestamps as candump -L sees them', async () => {
    const frames = 600
    const client = new PythonClient(receiver(port, 'vcan0', frames))
    await client.waitLine('ready')
    const dump = new CandumpLog('vcan0')
    await dump.listening()
    // bursts of 40 frames (~2 KB of text): python-can's 1024-byte reads cut messages in two
    sh('cangen', 'vcan0', '-n', String(frames / 2), '-g', '20', '-c', '40')
    sh('cangen', 'vcan0', '-e', '-n', String(frames / 2), '-g', '20', '-c', '40')
    const got = (await client.finished())
      .filter((l) => l.startsWith('['))
      .map((l) => JSON.parse(l) as [number, boolean, string, string])
    const want = (await dump.stop()).map(dumpLine)
    expect(dump.dropReports).toEqual([])
    expect(want).toHaveLength(frames)
    expect(got).toHaveLength(frames)
    for (const [i, [id, extended, data, time]] of got.entries()) {
      const [truthTime, truthId, , truthData] = want[i]!
      expect({ id, data }).toEqual({ id: Number.parseInt(truthId, 16), data: truthData })
      // python-can 4.1.0 marks every received frame extended, whatever the id's digits
      expect(extended).toBe(true)
      // the kernel's receive time of every frame, the first one included
      expect(time).toBe(truthTime)
    }
  })

  it('sends the raw-mode wire format byte for byte: %03X / %08X ids, error frames', async () => {
    const { c, dump } = await rawClient('vcan0')
    sh('cansend', 'vcan0', '123#DEADBEEF')
    sh('cansend', 'vcan0', '00000123#11')
    sh('cansend', 'vcan0', '18DAF110#0102030405060708')
    sh('cansend', 'vcan0', '7FF#')
    await c.until((r) => (r.match(/</g) ?? []).length === 4, 'four frames')
    const want = (await dump.stop()).map(dumpLine)
    // the first frame of a socket may carry the time of SIOCGSTAMP's first call: compare
    // the rest exactly, the first without its time
    const wire = c.take()
    expect(wire.replace(/^(\n< frame 123 )\d+\.\d{6}/, '$1T')).toBe(
      want
        .map(wireFrame)
        .join('')
        .replace(/^(\n< frame 123 )\d+\.\d{6}/, '$1T'),
    )
    expect(wire).toMatch(/^\n< frame 123 \d+\.\d{6} DEADBEEF >\n< frame 00000123 /)
    // an error frame: vcan hands frames with CAN_ERR_FLAG to error-frame subscribers
    sh('cansend', 'vcan0', '20000040#0000000000000000')
    await c.until((r) => r.includes('< error 040 '), 'the error frame')
    expect(c.take()).toMatch(/^\n< error 040 \d+\.\d{6} >$/)
    c.close()
  })

  it('python-can sends frames that candump sees (and the canbridge link too), with 4.1.0’s %X ids', async () => {
    const dump = new CandumpLog('vcan0')
    await dump.listening()
    const before = server.state.count(0)
    const client = new PythonClient(`
import can
bus = can.Bus(interface='socketcand', host='127.0.0.1', port=${port}, channel='vcan0')
bus.send(can.Message(arbitration_id=0x123, data=[1, 2, 3], is_extended_id=False))
bus.send(can.Message(arbitration_id=0x18DAF110, data=[1, 2, 3, 4, 5, 6, 7, 8], is_extended_id=True))
bus.send(can.Message(arbitration_id=0x1ABCDE, data=[0xAA], is_extended_id=True))
bus.send(can.Message(arbitration_id=0x123, data=[0x55], is_extended_id=True))
bus.send(can.Message(arbitration_id=0x7FF, data=[], is_extended_id=False))
bus.send(can.Message(arbitration_id=0x7, data=[0], is_extended_id=False))
import time; time.sleep(0.5)
bus.shutdown()
print('sent')
`)
    await client.finished()
    // python-can's frames start at its first 123#010203: a frame of the previous test may
    // still reach the link after `before` was taken
    const sent = () => {
      const since = server.state.channel(0).slice(before)
      const start = since.findIndex((f) => f.id === 0x123 && f.data.join() === '1,2,3')
      return start < 0 ? [] : since.slice(start, start + 6)
    }
    await server.waitFor(() => sent().length === 6, 20_000, 'six frames on the link')
    const lines = (await dump.stop()).map((l) => l.replace(/^\(\d+\.\d{6}\) /, ''))
    expect(lines).toEqual([
      'vcan0 123#010203',
      'vcan0 18DAF110#0102030405060708',
      // `%X` gives 1ABCDE: above 0x7FF, so read as the extended id it is
      'vcan0 001ABCDE#AA',
      // `%X` gives 123: an extended id this small goes out as standard (python-can 4.1.0's quirk)
      'vcan0 123#55',
      'vcan0 7FF#',
      'vcan0 007#00',
    ])
    const link = sent()
    expect(link.map((f) => [f.id, f.flags & FRAME_FLAG.EXT])).toEqual([
      [0x123, 0],
      [0x18daf110, FRAME_FLAG.EXT],
      [0x1abcde, FRAME_FLAG.EXT],
      [0x123, 0],
      [0x7ff, 0],
      [0x7, 0],
    ])
  })

  it('BCM add: cyclic frames on the bus at the interval without drift, until delete', async () => {
    const c = await TextClient.connect(port)
    c.send('< open vcan0 >')
    await c.expect('< hi >< ok >')
    const dump = new CandumpLog('vcan0')
    await dump.listening()
    // steps wait on the frames, not on a clock: a loaded machine only makes them take longer
    c.send('< add 0 50000 321 2 AB CD >')
    await framesOnBus(dump, (lines) => lines.length >= 20)
    c.send('< update 321 1 EF >')
    await framesOnBus(dump, (lines) => lines.filter((l) => l.endsWith('#EF')).length >= 10)
    c.send('< delete 321 >')
    // stop() waits until the log has been quiet for 300 ms (six intervals): the job ended
    const lines = (await dump.stop()).map(dumpLine)
    const times = lines.map(([time]) => Number(time))
    const updatedAt = lines.findIndex(([, , , data]) => data === 'EF')
    expect(lines.slice(0, updatedAt).every(([, , , data]) => data === 'ABCD')).toBe(true)
    expect(lines.slice(updatedAt).every(([, , , data]) => data === 'EF')).toBe(true)
    expect(lines.every(([, id, separator]) => id === '321' && separator === '#')).toBe(true)
    expect(lines[0]![3]).toBe('ABCD')
    expect(lines.at(-1)![3]).toBe('EF')
    // never early: the average period is at least the interval
    const periodMs = ((times.at(-1)! - times[0]!) * 1000) / (times.length - 1)
    expect(periodMs).toBeGreaterThan(48)
    // at the interval: the typical (median) gap is the interval. Not the average's upper
    // side: one frame held up by the machine at the end moves it (55 ms once in CI under
    // UML); the drift-free schedule itself is proven with an injected clock in
    // src/periodic.test.ts
    const gapsMs = times
      .slice(1)
      .map((time, i) => (time - times[i]!) * 1000)
      .sort((a, b) => a - b)
    const medianGapMs = gapsMs[Math.floor(gapsMs.length / 2)]!
    expect(medianGapMs).toBeGreaterThan(48)
    expect(medianGapMs).toBeLessThan(53)
    c.close()
  })

  it('control mode: statistics are the interface counters (as ip -s reports them)', async () => {
    sh('cansend', 'vcan0', '100#01')
    const c = await TextClient.connect(port)
    c.send('< open vcan0 >< controlmode >< statistics 200 >')
    await c.until((r) => r.includes('< stat '), 'a stat message')
    const stat = /< stat (\d+) (\d+) (\d+) (\d+) >/.exec(c.received)!
    const ip = JSON.parse(sh('ip', '-s', '-j', 'link', 'show', 'vcan0')) as {
      stats64: { rx: { bytes: number; packets: number }; tx: { bytes: number; packets: number } }
    }[]
    const { rx, tx } = ip[0]!.stats64
    expect(stat.slice(1).map(Number)).toEqual([rx.bytes, rx.packets, tx.bytes, tx.packets])
    c.close()
  })

  it('sends the discovery beacon every 3 s; python-can 4.1.0 has no detect_beacon, so a UDP listener reads it', async () => {
    const detect = execFileSync(
      pythonCan()!.python,
      ['-c', "import can.interfaces.socketcand as s; print(hasattr(s, 'detect_beacon'))"],
      { encoding: 'utf8' },
    ).trim()
    expect(detect).toBe('False')
    const socket = createSocket({ type: 'udp4', reuseAddr: true })
    const beacons: { at: number; text: string }[] = []
    socket.on('message', (m) => beacons.push({ at: performance.now(), text: m.toString('utf8') }))
    await new Promise<void>((resolve) => socket.bind(42000, resolve))
    try {
      const deadline = Date.now() + 12_000
      while (beacons.length < 3 && Date.now() < deadline) await sleep(50)
    } finally {
      socket.close()
    }
    expect(beacons.length).toBeGreaterThanOrEqual(3)
    const buses = (fd ? ['vcan0', 'vcan1'] : ['vcan0']).map((b) => `<Bus name="${b}"/>`).join('')
    const host = sh('hostname').trim()
    expect(beacons[0]!.text).toBe(
      `<CANBeacon name="${host}" type="SocketCAN" description="canbridge-edge">\n<URL>can://127.0.0.1:${port}</URL>${buses}</CANBeacon>`,
    )
    const gap = beacons[2]!.at - beacons[1]!.at
    expect(gap).toBeGreaterThan(2500)
    expect(gap).toBeLessThan(3500)
  })

  // CAN FD needs an mtu-72 interface: the harness gives vcan1 one with --fd (as test:kernel passes).
  it.skipIf(!fd)('with the canbridge extension: CAN FD and remote frames both ways', async () => {
    const { c, dump } = await rawClient('vcan1', '< canbridge-ext 1 rtr fd >')
    sh('cansend', 'vcan1', `123##1${'11'.repeat(12)}`)
    sh('cansend', 'vcan1', '7DF#R')
    sh('cansend', 'vcan1', `1ABCDE00##0${'A5'.repeat(64)}`)
    await c.until((r) => (r.match(/</g) ?? []).length === 3, 'three frames')
    c.send(`< fdsend 456 01 12 ${'5A '.repeat(12)}>< sendrtr 7DE 2 >< echo >`)
    await c.expect('< echo >')
    const want = (await dump.stop()).map(dumpLine)
    const wire = c.take().replace('< echo >', '')
    // BRS as sent (flags 01), exact times from the first frame on
    expect(wire).toBe(want.slice(0, 3).map(wireFrame).join(''))
    // BRS as sent, no ESI; the kernel may add CANFD_FDF (4), which marks any FD frame
    const [fdFrame, remote] = want.slice(3) as [DumpLine, DumpLine]
    expect([fdFrame[1], fdFrame[2], Number.parseInt(fdFrame[3][0]!, 16) & 0x3]).toEqual([
      '456',
      '##',
      1,
    ])
    expect(fdFrame[3].slice(1)).toBe('5A'.repeat(12))
    expect(remote.slice(1)).toEqual(['7DE', '#', 'R2'])
    c.close()
  })
})
