// A peer in bad shape never takes the bus down: each bad connection is closed alone with a
// logged reason, another edge keeps streaming, and frames received before the bad input stay.

import { encodeControl, MESSAGE_TYPE, ProtocolError } from '@canbridge/protocol'
import {
  concat,
  dataMessageBytes,
  hex,
  messageBytes,
  preambleBytes,
  recordBytes,
} from '@canbridge/protocol/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { EdgeSessionError, type PeerInfo, type TCPBus } from '../src/index.ts'
import { ScriptedEdge, sequenceFrame, sequenceOf } from '../src/testing/scripted-edge.ts'
import {
  BUS_MODES,
  type CapturingLogger,
  listen,
  sleep,
  useBusMode,
  waitUntil,
} from './support/helpers.ts'

let bus: TCPBus | undefined
let logger: CapturingLogger
const edges: ScriptedEdge[] = []

afterEach(async () => {
  for (const edge of edges.splice(0)) edge.destroy()
  await bus?.shutdown()
  bus = undefined
})

/** A well-behaved edge sending a batch every few milliseconds until stopped. */
async function goodEdge(): Promise<{ stop: () => Promise<number> }> {
  const edge = await ScriptedEdge.start(bus!.address, { edgeId: 'pi-good' })
  edges.push(edge)
  let seq = 0
  const timer = setInterval(() => {
    edge.sendFrames(0, seq, [sequenceFrame(seq), sequenceFrame(seq + 1)])
    seq += 2
  }, 3)
  return {
    stop: async () => {
      clearInterval(timer)
      await edge.waitFor('ACK', (a) => a.nextSeq === seq)
      expect(edge.socket.destroyed).toBe(false)
      return seq
    },
  }
}

/** Everything queued now, grouped by channel as sequence numbers. */
async function drain(): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>()
  for (;;) {
    const batch = await bus!.recvBatch({ timeoutMs: 50 })
    if (batch.length === 0) return out
    for (const m of batch) out.set(m.channel!, [...(out.get(m.channel!) ?? []), sequenceOf(m.data)])
  }
}

const hello = encodeControl('HELLO', {
  edgeId: 'pi-bad',
  instanceId: '1',
  software: 'test',
  channels: [{ name: 'can0', fd: false, nextSeq: 0 }],
  capabilities: [],
})
const validBatch = dataMessageBytes(
  0,
  0,
  [0, 1, 2].map((seq) => frameRecord(seq)),
)

function frameRecord(seq: number, id = seq % 0x800): Uint8Array {
  return recordBytes({ timestampNs: 1n, id, data: sequenceFrame(seq).data })
}

interface Case {
  name: string
  /** bytes the bad peer sends (after nothing: it opens with them) */
  bytes: Uint8Array
  code: string
  /** frames of pi-bad/can0 that must be delivered anyway */
  delivered: number[]
}

const afterHandshake = (tail: Uint8Array) => concat(preambleBytes(1), hello, validBatch, tail)

const cases: Case[] = [
  {
    name: 'garbage bytes',
    bytes: new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
    code: 'BAD_MAGIC',
    delivered: [],
  },
  {
    name: 'a wrong protocol version',
    bytes: concat(preambleBytes(1, 2), hello),
    code: 'VERSION_MISMATCH',
    delivered: [],
  },
  { name: 'a server role', bytes: preambleBytes(2), code: 'BAD_ROLE', delivered: [] },
  {
    name: 'an oversized message (refused from its header)',
    bytes: afterHandshake(hex('10 00 00 00 01 00 10 00')), // DATA, 1 MiB + 1 byte
    code: 'MESSAGE_TOO_LARGE',
    delivered: [0, 1, 2],
  },
  {
    name: 'bad msgpack after a valid handshake',
    bytes: afterHandshake(messageBytes(MESSAGE_TYPE.HEARTBEAT, hex('c1'))),
    code: 'BAD_CONTROL',
    delivered: [0, 1, 2],
  },
  {
    name: 'a control body of the wrong shape',
    // {"count": -1}: a DROPS with a negative count and no channel
    bytes: afterHandshake(messageBytes(MESSAGE_TYPE.DROPS, hex('81 a5 63 6f 75 6e 74 ff'))),
    code: 'BAD_CONTROL',
    delivered: [0, 1, 2],
  },
  {
    name: 'a batch with an invalid frame',
    bytes: afterHandshake(dataMessageBytes(0, 3, [frameRecord(3), frameRecord(4, 0x800)])),
    code: 'BAD_FRAME',
    delivered: [0, 1, 2],
  },
  {
    name: 'a batch whose records run past its end',
    bytes: afterHandshake(
      messageBytes(
        MESSAGE_TYPE.DATA,
        concat(hex('00 00 02 00 03 00 00 00 00 00 00 00'), frameRecord(3)),
      ),
    ),
    code: 'TRUNCATED_RECORD',
    delivered: [0, 1, 2],
  },
  {
    name: 'a server-to-edge message type',
    bytes: afterHandshake(encodeControl('ACK', { channel: 0, nextSeq: 1 })),
    code: 'UNEXPECTED_TYPE',
    delivered: [0, 1, 2],
  },
  {
    name: 'DATA before HELLO',
    bytes: concat(preambleBytes(1), validBatch),
    code: 'UNEXPECTED_MESSAGE',
    delivered: [],
  },
  {
    name: 'a batch for a channel the edge did not offer',
    bytes: afterHandshake(dataMessageBytes(5, 0, [frameRecord(0)])),
    code: 'BAD_CHANNEL',
    delivered: [0, 1, 2],
  },
  {
    name: 'a second HELLO',
    bytes: afterHandshake(hello),
    code: 'UNEXPECTED_MESSAGE',
    delivered: [0, 1, 2],
  },
  {
    name: 'a HELLO offering a channel twice',
    bytes: concat(
      preambleBytes(1),
      encodeControl('HELLO', {
        edgeId: 'pi-bad',
        instanceId: '1',
        software: '',
        channels: [
          { name: 'can0', fd: false, nextSeq: 0 },
          { name: 'can0', fd: false, nextSeq: 0 },
        ],
        capabilities: [],
      }),
    ),
    code: 'BAD_HELLO',
    delivered: [],
  },
]

describe.each(BUS_MODES)('malformed peers ($mode)', (mode) => {
  useBusMode(mode)
  it.each(cases)(
    'closes only the connection that sends $name',
    async ({ bytes, code, delivered }) => {
      ;({ bus, logger } = await listen())
      const errors: [Error, PeerInfo][] = []
      bus.on('edgeError', (error, peer) => errors.push([error, peer]))
      const good = await goodEdge()
      const bad = await ScriptedEdge.connect(bus.address)
      edges.push(bad)
      await sleep(10)
      bad.sendRaw(bytes)
      await bad.closed
      await sleep(20)
      const goodFrames = await good.stop()

      const warning = logger.at('warn').find((e) => e.fields['code'] === code)
      expect(warning, `a warning with code ${code}`).toBeDefined()
      expect(warning!.fields['peer']).toMatch(/^127\.0\.0\.1:\d+$/)
      // before WELCOME it is a refused stranger, after it a closed edge
      expect(warning!.message).toMatch(
        /^(refused connection|closing edge connection) from 127\.0\.0\.1/,
      )
      expect(warning!.message).toContain(code)
      expect(errors).toHaveLength(1)
      const [error, peer] = errors[0]!
      expect(error instanceof ProtocolError || error instanceof EdgeSessionError).toBe(true)
      expect((error as unknown as { code: string }).code).toBe(code)
      expect(peer.peer).toBe(warning!.fields['peer'])

      const received = await drain()
      expect(received.get('pi-bad/can0') ?? []).toEqual(delivered)
      expect(received.get('pi-good/can0')).toEqual(Array.from({ length: goodFrames }, (_, i) => i))
      expect(bus.edges.map((e) => e.edgeId)).toEqual(['pi-good'])
    },
  )

  it('logs where a decoder error is: type and byte offset', async () => {
    ;({ bus, logger } = await listen())
    const bad = await ScriptedEdge.connect(bus.address)
    edges.push(bad)
    bad.sendRaw(afterHandshake(dataMessageBytes(0, 3, [frameRecord(3), frameRecord(4, 0x800)])))
    await bad.closed
    const warning = logger.at('warn').find((e) => e.fields['code'] === 'BAD_FRAME')!
    expect(warning.fields['type']).toBe('0x10')
    expect(typeof warning.fields['offset']).toBe('number')
  })

  it('closes a connection that stalls in the handshake after the timeout', async () => {
    ;({ bus, logger } = await listen({ handshakeTimeoutMs: 150 }))
    const good = await goodEdge()
    const silent = await ScriptedEdge.connect(bus.address)
    const halfway = await ScriptedEdge.connect(bus.address)
    edges.push(silent, halfway)
    halfway.sendPreamble() // and never a HELLO
    const started = performance.now()
    await Promise.all([silent.closed, halfway.closed])
    const elapsed = performance.now() - started
    expect(elapsed).toBeGreaterThanOrEqual(120)
    expect(elapsed).toBeLessThan(3000)
    const timeouts = logger.at('warn').filter((e) => e.fields['code'] === 'HANDSHAKE_TIMEOUT')
    expect(timeouts).toHaveLength(2)
    expect(timeouts[0]!.message).toMatch(/no complete handshake within 150 ms/)
    expect(silent.preambleSeen).toBe(true) // the server spoke first, as both ends do
    await good.stop()
  })

  it('closes a connection cut in the middle of a message, keeping the complete ones', async () => {
    ;({ bus, logger } = await listen())
    const bad = await ScriptedEdge.connect(bus.address)
    edges.push(bad)
    const next = dataMessageBytes(0, 3, [frameRecord(3)])
    bad.sendRaw(afterHandshake(next.subarray(0, 10)))
    await waitUntil(() => bus!.edges.length === 1)
    bad.socket.end()
    await bad.closed
    await waitUntil(() => logger.entries.some((e) => e.fields['code'] === 'TRUNCATED_STREAM'))
    expect((await drain()).get('pi-bad/can0')).toEqual([0, 1, 2])
  })

  it('tells a connected edge why it is being closed (ERROR, fatal)', async () => {
    ;({ bus, logger } = await listen())
    const bad = await ScriptedEdge.start(bus.address)
    edges.push(bad)
    bad.sendRaw(dataMessageBytes(3, 0, [frameRecord(0)]))
    const error = await bad.waitFor('ERROR', () => true, 2000).catch(() => undefined)
    await bad.closed
    const reported = error ?? bad.messages('ERROR')[0]
    expect(reported).toMatchObject({ code: 'BAD_CHANNEL', fatal: true })
  })
})
