// The socketcand server over real loopback TCP, each client's bus a scripted CAN source:
// every expected reply and frame is the literal text socketcand (and python-can) use.
import { FRAME_FLAG } from '@canbridge/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { SocketcandServer, type SocketcandServerOptions } from '../../src/socketcand/server.ts'
import { parseAllowList } from '../../src/tx-policy/allow-list.ts'
import { createRefusalCounters } from '../../src/tx-policy/refusal-counters.ts'
import { OPEN_TX_POLICY, TxPolicy, type TxPolicySettings } from '../../src/tx-policy/tx-policy.ts'
import { ScriptedSource } from './support/scripted-source.ts'
import { TextClient } from './support/text-client.ts'

interface LogEntry {
  level: string
  msg: string
  fields: Record<string, unknown> | undefined
}

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** The edge's transmit policy for the two buses (open unless told otherwise). */
function policy(settings: Partial<TxPolicySettings> = {}): TxPolicy {
  return new TxPolicy({ ...OPEN_TX_POLICY, ...settings }, 2, createRefusalCounters(2))
}

async function serve(options: Partial<SocketcandServerOptions> = {}) {
  const sources: ScriptedSource[] = []
  const logs: LogEntry[] = []
  const server = new SocketcandServer({
    host: '127.0.0.1',
    port: 0,
    buses: [
      { name: 'vcan0', spec: 'vcan0', channel: 0 },
      { name: 'classic0', spec: 'classic0', channel: 1 },
    ],
    openSource: (spec) => {
      const source = new ScriptedSource(spec, spec !== 'classic0')
      sources.push(source)
      return source
    },
    txPolicy: policy(),
    txQueueLimit: 16,
    txTimeoutMs: 200,
    log: (level, msg, fields) => logs.push({ level, msg, fields }),
    statistics: (name) =>
      name === 'vcan0'
        ? { rxBytes: 4000000001, rxPackets: 2, txBytes: 3, txPackets: 4 }
        : undefined,
    ...options,
  })
  const { port } = await server.listen()
  cleanups.push(() => server.close())
  return { server, port, sources, logs }
}

async function client(port: number): Promise<TextClient> {
  const c = await TextClient.connect(port)
  cleanups.push(() => c.close())
  await c.expect('< hi >')
  return c
}

/** Connected, `vcan0` open (BCM mode), and optionally switched to `mode`. */
async function opened(port: number, bus = 'vcan0', mode?: string): Promise<TextClient> {
  const c = await client(port)
  c.send(`< open ${bus} >`)
  await c.expect('< hi >< ok >')
  if (mode) {
    c.send(`< ${mode} >`)
    await c.expect('< hi >< ok >< ok >')
  }
  c.take()
  return c
}

/** A server and one client: greeted, or with `bus` open (and switched to `mode`). */
async function session(
  setup: { bus?: string; mode?: string; options?: Partial<SocketcandServerOptions> } = {},
) {
  const served = await serve(setup.options)
  const c = setup.bus ? await opened(served.port, setup.bus, setup.mode) : await client(served.port)
  return { ...served, c }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function waitFor(check: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (check()) resolve()
      else if (Date.now() > deadline) reject(new Error(`timed out waiting for ${what}`))
      else setTimeout(poll, 5)
    }
    poll()
  })
}

describe('socketcand server: handshake', () => {
  it('greets with < hi > alone, opens a served bus with < ok >, and logs the client', async () => {
    const { c, logs } = await session()
    await sleep(50)
    expect(c.received).toBe('< hi >')
    c.send('< open vcan0 >')
    await c.expect('< ok >')
    expect(c.received).toBe('< hi >< ok >')
    expect(logs.map((l) => l.msg)).toEqual(['socketcand client connected', 'socketcand bus opened'])
    expect(logs[1]!.fields).toMatchObject({ bus: 'vcan0' })
  })

  it('refuses a bus the edge does not serve, naming those it does, and hangs up as socketcand does', async () => {
    const { c, logs, sources } = await session()
    c.send('< open can9 >')
    await c.waitClosed()
    expect(c.received).toBe(
      `< hi >< error could not open bus can9: this edge serves vcan0, classic0 >`,
    )
    expect(sources).toEqual([])
    await waitFor(() => logs.some((l) => l.msg === 'socketcand client disconnected'), 'the log')
    expect(logs.at(-1)!.fields).toMatchObject({
      reason: 'asked for bus can9, which this edge does not serve',
    })
  })

  it('wants a bus before anything else, and answers unknown commands as socketcand does', async () => {
    const { c } = await session()
    c.send('< rawmode >< send 123 0 >< frobnicate >< echo >')
    await c.expect('< echo >')
    expect(c.take()).toBe(
      `< hi >< error open a bus first: open BUS, one of vcan0, classic0 >< error open a bus first: open BUS, one of vcan0, classic0 >< error unknown command >< echo >`,
    )
    c.send('< open vcan0 >< open vcan0 >< isotpmode >< foo 1 2 >')
    await c.expect('< error unknown command >')
    expect(c.take()).toBe(
      `< ok >< error bus vcan0 is open already (one bus per connection) >< error ISO-TP mode is not supported by canbridge-edge >< error unknown command >`,
    )
  })

  it('takes several commands per read and commands split across reads', async () => {
    const { c } = await session()
    c.send('< open vc')
    await sleep(30)
    c.send('an0 >  \n< rawm')
    await sleep(30)
    c.send('ode >< echo >')
    await c.expect('< echo >')
    expect(c.received).toBe('< hi >< ok >< ok >< echo >')
  })

  it('closes the connection on bytes that are no socketcand stream, saying why', async () => {
    const { c, logs } = await session()
    c.send('< open vcan0 >\u0001')
    await c.waitClosed()
    expect(c.received).toBe(
      `< hi >< ok >< error UNEXPECTED_BYTE: byte 0x01 outside a '[ ... ]' message (not whitespace) (at offset 14) >`,
    )
    await waitFor(() => logs.some((l) => l.msg === 'socketcand client disconnected'), 'the log')
    expect(String(logs.at(-1)!.fields!['reason'])).toMatch(/^malformed input: UNEXPECTED_BYTE/)
  })

  it('turns away clients beyond the limit with a reason', async () => {
    const { port, logs } = await serve({ maxClients: 1 })
    await client(port)
    const second = await TextClient.connect(port)
    cleanups.push(() => second.close())
    await second.waitClosed()
    expect(second.received).toBe('< error too many clients: 1 are connected >')
    expect(logs.find((l) => l.msg === 'socketcand client turned away')?.fields).toMatchObject({
      reason: '1 clients already connected',
    })
  })
})

describe('socketcand server: raw mode', () => {
  /** The frames of the first test: classic, extended, empty, an error frame, RTR, FD, classic. */
  const MIXED = [
    { seconds: 1700000000, microseconds: 123456, id: 0x123, data: [0xde, 0xad, 0xbe, 0xef] },
    {
      seconds: 1700000000,
      microseconds: 123457,
      id: 0x18daf110,
      flags: FRAME_FLAG.EXT,
      data: [1, 2, 3, 4, 5, 6, 7, 8],
    },
    { seconds: 1700000000, microseconds: 1, id: 0x7ff },
    // an error frame of class CAN_ERR_CRTL (0x004)
    {
      seconds: 1700000001,
      microseconds: 0,
      id: 0x004,
      flags: FRAME_FLAG.ERR,
      data: [0, 0x10, 0, 0, 0, 0, 0, 0],
    },
    // not sent to a client without the extension: counted as withheld
    { seconds: 1700000001, microseconds: 1, id: 0x7df, flags: FRAME_FLAG.RTR, len: 3 },
    {
      seconds: 1700000001,
      microseconds: 2,
      id: 0x456,
      flags: FRAME_FLAG.FD | FRAME_FLAG.BRS,
      data: new Array(12).fill(0x5a),
    },
    { seconds: 5, microseconds: 7, id: 0x001, data: [0] },
  ]

  it('streams frames as socketcand writes them: nothing between messages, no error frames unless asked', async () => {
    const { c, sources } = await session({ bus: 'vcan0', mode: 'rawmode' })
    expect(sources[0]!.filters).toEqual([])
    sources[0]!.emit(MIXED)
    await c.expect('< frame 001 5.000007 00 >')
    // byte for byte what socketcand (without -e) writes: no line feeds, no < error … >
    expect(c.take()).toBe(
      '< frame 123 1700000000.123456 DEADBEEF >' +
        '< frame 18DAF110 1700000000.123457 0102030405060708 >' +
        '< frame 7FF 1700000000.000001  >' +
        '< frame 001 5.000007 00 >',
    )
  })

  it('with an error mask (socketcand -e), error frames of those classes only', async () => {
    // CAN_ERR_CRTL (0x004) is in 0x00C, CAN_ERR_PROT (0x008) is not asked for by 0x004
    const { c, sources } = await session({
      bus: 'vcan0',
      mode: 'rawmode',
      options: { errorMask: 0x004 },
    })
    sources[0]!.emit([
      ...MIXED,
      { seconds: 6, microseconds: 0, id: 0x008, flags: FRAME_FLAG.ERR, data: new Array(8).fill(0) },
      { seconds: 6, microseconds: 1, id: 0x002, data: [] },
    ])
    await c.expect('< frame 002 6.000001  >')
    const wire = c.take()
    expect(wire).toContain(
      '< frame 7FF 1700000000.000001  >< error 004 1700000001.000000 >< frame 001',
    )
    expect(wire).not.toContain('< error 008')
  })

  it('with line feeds on (for python-can before 4.3.1), one before each streamed message', async () => {
    const { c, sources } = await session({
      bus: 'vcan0',
      mode: 'rawmode',
      options: { lineFeeds: true, errorMask: 0x1fffffff },
    })
    sources[0]!.emit(MIXED)
    await c.expect('< frame 001 5.000007 00 >')
    expect(c.take()).toBe(`
< frame 123 1700000000.123456 DEADBEEF >
< frame 18DAF110 1700000000.123457 0102030405060708 >
< frame 7FF 1700000000.000001  >
< error 004 1700000001.000000 >
< frame 001 5.000007 00 >`)
  })

  it('with the canbridge extension: remote frames, CAN FD frames, error frames with their data', async () => {
    const { c, sources } = await session({ bus: 'vcan0', mode: 'rawmode' })
    c.send('< canbridge-ext 1 rtr fd errdata future-thing >')
    await c.expect('< canbridge-ext 1 rtr fd errdata >')
    c.take()
    sources[0]!.emit([
      { seconds: 1, microseconds: 0, id: 0x7df, flags: FRAME_FLAG.RTR, len: 3 },
      {
        seconds: 1,
        microseconds: 1,
        id: 0x1abcde00,
        flags: FRAME_FLAG.RTR | FRAME_FLAG.EXT,
        len: 0,
      },
      {
        seconds: 1,
        microseconds: 2,
        id: 0x456,
        flags: FRAME_FLAG.FD | FRAME_FLAG.BRS,
        data: new Array(12).fill(0x5a),
      },
      {
        seconds: 1,
        microseconds: 3,
        id: 0x1abcde00,
        flags: FRAME_FLAG.FD | FRAME_FLAG.EXT,
        data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
      },
      {
        seconds: 2,
        microseconds: 0,
        id: 0x004,
        flags: FRAME_FLAG.ERR,
        data: [0, 0x10, 0, 0, 0, 0, 0, 0],
      },
    ])
    await c.expect('< error 004 2.000000 0010000000000000 >')
    expect(c.take()).toBe(
      '< rtr 7DF 1.000000 3 >' +
        '< rtr 1ABCDE00 1.000001 0 >' +
        '< fdframe 456 01 1.000002 5A5A5A5A5A5A5A5A5A5A5A5A >' +
        '< fdframe 1ABCDE00 00 1.000003 0102030405060708090A0B0C >' +
        '< error 004 2.000000 0010000000000000 >',
    )
  })

  it('enables fd only on a CAN FD bus, and the extension only once a bus is open', async () => {
    const { port } = await serve()
    const early = await client(port)
    early.send('< canbridge-ext 1 fd >')
    await early.expect('< error')
    expect(early.take()).toBe('< hi >< error open a bus first: open BUS, one of vcan0, classic0 >')
    const c = await opened(port, 'classic0')
    c.send('< canbridge-ext 1 rtr fd >')
    await c.expect('< canbridge-ext 1 rtr >')
  })

  it('puts sent frames on its own CAN socket: python-can and socketcand syntax, RTR and FD', async () => {
    const { c, sources } = await session({ bus: 'vcan0', mode: 'rawmode' })
    // python-can 4.1.0: '< send {id:X} {len:X} {byte:x ...} >', so an extended id below
    // 0x10000000 arrives with fewer than 8 digits
    c.send('< send 123 3 1 2 ff >< send 18DAF110 2 AA BB >< send 1ABCDE 1 0 >< send 7 0  >')
    c.send('< sendrtr 7DF 3 >< fdsend 456 01 12 1 2 3 4 5 6 7 8 9 A B C >< echo >')
    await c.expect('< echo >')
    expect(c.take()).toBe('< echo >')
    const sent = sources[0]!.sent.map((f) => ({ ...f, data: Buffer.from(f.data).toString('hex') }))
    expect(sent).toEqual([
      { timestampNs: 0n, id: 0x123, flags: 0, len: 3, data: '0102ff' },
      { timestampNs: 0n, id: 0x18daf110, flags: FRAME_FLAG.EXT, len: 2, data: 'aabb' },
      { timestampNs: 0n, id: 0x1abcde, flags: FRAME_FLAG.EXT, len: 1, data: '00' },
      { timestampNs: 0n, id: 0x7, flags: 0, len: 0, data: '' },
      { timestampNs: 0n, id: 0x7df, flags: FRAME_FLAG.RTR, len: 3, data: '' },
      {
        timestampNs: 0n,
        id: 0x456,
        flags: FRAME_FLAG.FD | FRAME_FLAG.BRS,
        len: 12,
        data: '0102030405060708090a0b0c',
      },
    ])
  })

  it('answers a send it cannot carry out with < error ... > and keeps the connection', async () => {
    const { c, sources } = await session({
      bus: 'classic0',
      mode: 'rawmode',
      options: { txTimeoutMs: 100 },
    })
    c.send('< send 123 9 >< fdsend 456 01 12 1 2 3 4 5 6 7 8 9 A B C >< echo >')
    await c.expect('< echo >')
    expect(c.take()).toBe(
      `< error BAD_NUMBER: DLC '9' is not a decimal number in 0..8 >< error send 456 failed: invalid-frame: classic0 is not a CAN FD channel >< echo >`,
    )
    // a full CAN TX queue is retried in order until the timeout
    const source = sources[0]!
    source.busy = 3
    c.send('< send 321 1 AA >< send 322 1 BB >')
    await waitFor(() => source.sent.length === 2, 'both frames after the retries')
    expect(source.sent.map((f) => f.id)).toEqual([0x321, 0x322])
    source.busy = 1_000_000
    c.send('< send 323 0 >')
    await c.expect('< error send 323 failed: timeout: the CAN TX queue stayed full for 100 ms >')
    expect(c.closed).toBe(false)
  })

  it('in listen-only mode refuses every transmit with a reason', async () => {
    const { c, sources } = await session({
      bus: 'vcan0',
      mode: 'rawmode',
      options: { txPolicy: policy({ listenOnly: true }) },
    })
    c.send('< send 123 0 >< bcmmode >< add 1 0 123 0 >< update 123 0 >< echo >')
    await c.expect('< echo >')
    expect(c.take()).toBe(
      '< error listen-only: the edge runs in listen-only mode >< ok >' +
        '< error the edge runs in listen-only mode >< error the edge runs in listen-only mode >< echo >',
    )
    expect(sources[0]!.sent).toEqual([])
  })

  it('the transmit allow-list (--tx-allow) holds for socketcand clients too', async () => {
    const { c, sources } = await session({
      bus: 'vcan0',
      mode: 'rawmode',
      options: { txPolicy: policy({ allow: parseAllowList('100-1FF') }) },
    })
    c.send('< send 123 0 >< send 200 0 >< bcmmode >< add 1 0 7DF 0 >< echo >')
    await c.expect('< echo >')
    expect(c.take()).toBe(
      "< error not-allowed: id 200 (standard) is not in this edge's transmit allow-list (--tx-allow 100-1FF) >< ok >" +
        "< error frame 1 of 1: id 7DF (standard) is not in this edge's transmit allow-list (--tx-allow 100-1FF) >< echo >",
    )
    await waitFor(() => sources[0]!.sent.length === 1, 'the allowed frame')
    expect(sources[0]!.sent.map((f) => f.id)).toEqual([0x123])
  })

  it('the transmit rate limit (--tx-rate-limit) holds for socketcand clients too', async () => {
    const { c, sources } = await session({
      bus: 'vcan0',
      mode: 'rawmode',
      options: { txPolicy: policy({ rateLimit: 1, burst: 3 }) },
    })
    c.send('< send 101 0 >< send 102 0 >< send 103 0 >< send 104 0 >< echo >')
    await c.expect('< echo >')
    expect(c.take()).toMatch(
      /^< error rate-limited: over this edge's transmit rate limit of 1 frames\/s \(burst 3\) on this channel \(--tx-rate-limit\) >< echo >$/,
    )
    await waitFor(() => sources[0]!.sent.length === 3, 'the three frames of the burst')
    expect(sources[0]!.sent.map((f) => f.id)).toEqual([0x101, 0x102, 0x103])
  })
})

describe('socketcand server: BCM mode', () => {
  it('add sends at once and then every interval, update changes the data, delete stops it', async () => {
    const { c, sources } = await session({ bus: 'vcan0' })
    const source = sources[0]!
    c.send('< add 0 20000 123 2 11 22 >')
    await waitFor(() => source.sent.length >= 5, 'five cyclic frames')
    c.send('< update 123 1 33 >')
    const updatedAt = source.sent.length
    await waitFor(() => source.sent.length >= updatedAt + 3, 'three updated frames')
    c.send('< delete 123 >')
    await sleep(30)
    const stoppedAt = source.sent.length
    await sleep(80)
    expect(source.sent.length).toBe(stoppedAt)
    const data = source.sent.map((f) => Buffer.from(f.data).toString('hex'))
    expect(data.slice(0, 5)).toEqual(['1122', '1122', '1122', '1122', '1122'])
    expect(data.at(-1)).toBe('33')
    expect(source.sent.every((f) => f.id === 0x123 && f.flags === 0)).toBe(true)
    c.send('< delete 123 >< update 124 0 >< add 0 0 18DAF110 1 7 >< echo >')
    await c.expect('< echo >')
    expect(c.take()).toBe(
      `< error no cyclic job for 123 >< error no cyclic job for 124: add it first >< echo >`,
    )
    // interval 0: sent once, the job kept until deleted
    expect(source.sent.at(-1)).toMatchObject({ id: 0x18daf110, flags: FRAME_FLAG.EXT, len: 1 })
    c.send('< delete 18DAF110 >< echo >')
    await c.expect('< echo >')
    expect(c.take()).toBe('< echo >')
  })

  // The schedule itself (start + k × period however late each timer fires) is proven with an
  // injected clock in src/periodic.test.ts; an upper bound on wall time here would only
  // measure how loaded the machine is.
  it('sends at the interval asked: 50 sends at 10 ms take at least 490 ms', async () => {
    const { c, sources } = await session({ bus: 'vcan0' })
    const source = sources[0]!
    const sentAt: number[] = []
    const send = source.send.bind(source)
    source.send = (frame) => {
      sentAt.push(performance.now())
      return send(frame)
    }
    c.send('< add 0 10000 100 0 >')
    await waitFor(() => sentAt.length >= 50, '50 sends', 5000)
    c.send('< delete 100 >')
    const span = sentAt[49]! - sentAt[0]!
    // never early: the k-th send is due at start + k × 10 ms
    expect(span).toBeGreaterThanOrEqual(485)
  })

  it('a mode switch ends the cyclic jobs and subscriptions, as closing the BCM socket does', async () => {
    const { c, sources } = await session({ bus: 'vcan0' })
    const source = sources[0]!
    c.send('< add 0 10000 123 0 >< subscribe 0 0 321 >< rawmode >')
    await c.expect('< ok >')
    const count = source.sent.length
    await sleep(60)
    expect(source.sent.length).toBe(count)
    c.send('< bcmmode >')
    await c.expect('< ok >< ok >')
    expect(source.filters).toEqual([{ canId: 0x20000000, canMask: 0x20000000 }])
  })

  it('subscribe: every frame of the id, spaced data as socketcand’s BCM mode writes it, with the kernel filter set', async () => {
    const { c, sources } = await session({ bus: 'vcan0' })
    const source = sources[0]!
    // no subscription: the kernel passes no data frame
    expect(source.filters).toEqual([{ canId: 0x20000000, canMask: 0x20000000 }])
    c.send('< subscribe 0 0 123 >< subscribe 0 0 18DAF110 >< echo >')
    await c.expect('< echo >')
    c.take()
    expect(source.filters).toEqual([
      { canId: 0x123, canMask: 0x7ff, extended: false },
      { canId: 0x18daf110, canMask: 0x1fffffff, extended: true },
    ])
    source.emit([
      { seconds: 1, microseconds: 0, id: 0x123, data: [0x11, 0x22] },
      { seconds: 1, microseconds: 1, id: 0x124, data: [0x11] },
      { seconds: 1, microseconds: 2, id: 0x123, data: [0x11, 0x22] },
      { seconds: 1, microseconds: 3, id: 0x18daf110, flags: FRAME_FLAG.EXT, data: [] },
      { seconds: 1, microseconds: 4, id: 0x123, flags: FRAME_FLAG.RTR, len: 2 },
    ])
    await c.expect('< frame 18DAF110 1.000003  >')
    expect(c.take()).toBe(
      '< frame 123 1.000000 11 22  >' +
        '< frame 123 1.000002 11 22  >' +
        '< frame 18DAF110 1.000003  >',
    )
    c.send('< unsubscribe 123 >< unsubscribe 123 >')
    await c.expect('< error no subscription or filter for 123 >')
    expect(source.filters).toEqual([{ canId: 0x18daf110, canMask: 0x1fffffff, extended: true }])
  })

  it('filter: only frames whose masked content changed; a throttle sends the latest change once per interval', async () => {
    const { c, sources } = await session({ bus: 'vcan0' })
    const source = sources[0]!
    c.send('< filter 0 0 200 1 F0 >< subscribe 0 100000 300 >< echo >')
    await c.expect('< echo >')
    c.take()
    source.emit([
      { seconds: 2, microseconds: 0, id: 0x200, data: [0x11, 0x01] },
      // byte 0 & F0 unchanged, byte 1 outside the mask: no news
      { seconds: 2, microseconds: 1, id: 0x200, data: [0x1f, 0x02] },
      { seconds: 2, microseconds: 2, id: 0x200, data: [0x21, 0x02] },
      // throttled to one per 100 ms: the first now, the last of the rest when 100 ms have passed
      { seconds: 3, microseconds: 0, id: 0x300, data: [1] },
      { seconds: 3, microseconds: 1, id: 0x300, data: [2] },
      { seconds: 3, microseconds: 2, id: 0x300, data: [3] },
    ])
    await sleep(40)
    expect(c.take()).toBe(
      '< frame 200 2.000000 11 01  >' +
        '< frame 200 2.000002 21 02  >' +
        '< frame 300 3.000000 01  >',
    )
    await c.expect('< frame 300 3.000002 03  >')
    expect(c.take()).toBe('< frame 300 3.000002 03  >')
  })

  it('refuses BCM commands outside BCM mode and the muxfilter it does not implement', async () => {
    const { c } = await session({ bus: 'vcan0', mode: 'rawmode' })
    c.send('< add 1 0 123 0 >< subscribe 0 0 123 >< bcmmode >')
    c.send('< muxfilter 0 0 123 2 FF 00 00 00 00 00 00 00 33 FF FF FF FF FF FF FF >< echo >')
    await c.expect('< echo >')
    expect(c.take()).toBe(
      `< error add works in BCM mode (bcmmode first) >< error subscribe works in BCM mode (bcmmode first) >< ok >< error muxfilter is not supported by canbridge-edge >< echo >`,
    )
  })
})

describe('socketcand server: control mode', () => {
  it('reports the interface counters every interval, u32 as socketcand does; 0 stops them', async () => {
    const { c } = await session({ bus: 'vcan0', mode: 'controlmode' })
    c.send('< send 123 0 >< statistics 20 >')
    await c.expect('< stat 4000000001 2 3 4 >< stat 4000000001 2 3 4 >')
    expect(
      c.received.startsWith('< error send works in BCM and raw mode (bcmmode or rawmode first) >'),
    ).toBe(true)
    c.send('< statistics 0 >< echo >')
    await c.expect('< echo >')
    c.take()
    await sleep(60)
    expect(c.take()).toBe('')
    c.send('< rawmode >< statistics 10 >')
    await c.expect('< error statistics works in control mode (controlmode first) >')
  })
})

describe('socketcand server: a client that cannot keep up', () => {
  it('is dropped with a logged reason once its bounded queue is full; the others carry on', async () => {
    const { server, port, sources, logs } = await serve({ maxQueuedBytes: 64 * 1024 })
    const slow = await opened(port, 'vcan0', 'rawmode')
    const fast = await opened(port, 'vcan0', 'rawmode')
    slow.socket.pause()
    const frames = Array.from({ length: 1000 }, (_, i) => ({
      seconds: 1700000000,
      microseconds: i,
      id: 0x123,
      data: [1, 2, 3, 4, 5, 6, 7, 8],
    }))
    let batches = 0
    while (!logs.some((l) => l.msg === 'socketcand client disconnected') && batches < 2000) {
      sources[0]!.emit(frames)
      batches++
      await sleep(1)
    }
    const dropped = logs.find((l) => l.msg === 'socketcand client disconnected')
    expect(dropped?.level).toBe('warn')
    expect(String(dropped?.fields?.['reason'])).toMatch(
      /^client cannot keep up: \d+ bytes waiting \(limit 65536\)$/,
    )
    expect(server.clients).toBe(1)
    sources[1]!.emit([{ seconds: 9, microseconds: 9, id: 0x9, data: [] }])
    await fast.expect('< frame 009 9.000009  >')
  })
})
