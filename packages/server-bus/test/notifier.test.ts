// The Notifier feeding listeners from one or more buses: a Printer (python-can's one-line
// format), the AsyncBufferedReader, error routing to onError, and stop().
import { PassThrough } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import {
  AsyncBufferedReader,
  CanMessage,
  type Listener,
  Notifier,
  Printer,
  type TCPBus,
} from '../src/index.ts'
import { ScriptedEdge, sequenceFrame, sequenceOf } from '../src/testing/scripted-edge.ts'
import {
  BUS_MODES,
  capturingLogger,
  listen,
  sleep,
  useBusMode,
  waitUntil,
} from './support/helpers.ts'

const buses: TCPBus[] = []
const edges: ScriptedEdge[] = []

afterEach(async () => {
  for (const edge of edges.splice(0)) edge.destroy()
  for (const bus of buses.splice(0)) await bus.shutdown()
})

async function busWithEdge(edgeId: string): Promise<{ bus: TCPBus; edge: ScriptedEdge }> {
  const { bus } = await listen()
  buses.push(bus)
  const edge = await ScriptedEdge.start(bus.address, { edgeId })
  edges.push(edge)
  await bus.waitForEdge({ timeoutMs: 1000 })
  return { bus, edge }
}

describe.each(BUS_MODES)('Notifier ($mode)', (mode) => {
  useBusMode(mode)
  it('prints each message in python-can format through a Printer', async () => {
    const { bus, edge } = await busWithEdge('pi-print')
    const lines: string[] = []
    const notifier = new Notifier(bus, [new Printer((line) => lines.push(line))])
    edge.sendFrames(0, 0, [
      { id: 0x6fd, data: [0xc4, 0x10], timestampNs: 1_700_000_000_123_456_000n },
      { id: 0x6fe, data: [0x41, 0x42], timestampNs: 1_700_000_000_123_457_000n },
    ])
    await waitUntil(() => lines.length === 2)
    await notifier.stop()
    expect(lines).toEqual([
      'Timestamp: 1700000000.123456        ID: 06fd    S Rx                DLC:  2    c4 10                       Channel: pi-print/can0\n',
      "Timestamp: 1700000000.123457        ID: 06fe    S Rx                DLC:  2    41 42                       'AB'    Channel: pi-print/can0\n",
    ])
  })

  it('waits for a full output stream instead of buffering without bound', async () => {
    const { bus, edge } = await busWithEdge('pi-stream')
    const output = new PassThrough({ highWaterMark: 256 })
    const notifier = new Notifier(bus, [new Printer(output)])
    await edge.stream(0, 0, 200, 50)
    await sleep(50)
    // Nobody reads the stream: the Printer stops after about one buffer of lines.
    expect(output.readableLength).toBeLessThan(2000)
    const chunks: string[] = []
    output.on('data', (chunk: Buffer) => chunks.push(chunk.toString()))
    await waitUntil(() => chunks.join('').split('\n').length > 200)
    await notifier.stop()
  })

  it('feeds an AsyncBufferedReader from two buses', async () => {
    const a = await busWithEdge('pi-a')
    const b = await busWithEdge('pi-b')
    const reader = new AsyncBufferedReader()
    const notifier = new Notifier([a.bus], [reader])
    notifier.addBus(b.bus)
    expect(notifier.buses).toHaveLength(2)
    await a.edge.stream(0, 0, 500, 100)
    await b.edge.stream(0, 0, 500, 100)
    const seen = new Map<string, number[]>()
    for (let i = 0; i < 1000; i++) {
      const message = await reader.getMessage(2000)
      expect(message).not.toBeNull()
      seen.set(message!.channel!, [
        ...(seen.get(message!.channel!) ?? []),
        sequenceOf(message!.data),
      ])
    }
    const expected = Array.from({ length: 500 }, (_, i) => i)
    expect(seen.get('pi-a/can0')).toEqual(expected)
    expect(seen.get('pi-b/can0')).toEqual(expected)
    expect(await reader.getMessage(30)).toBeNull()
    await notifier.stop()
    expect(reader.stopped).toBe(true)
  })

  it('iterates an AsyncBufferedReader until it is stopped', async () => {
    const reader = new AsyncBufferedReader({ maxSize: 2 })
    const messages = [1, 2, 3, 4].map((id) => new CanMessage({ arbitrationId: id }))
    // The third onMessage waits for room: backpressure for the Notifier.
    expect(reader.onMessage(messages[0]!)).toBeUndefined()
    expect(reader.onMessage(messages[1]!)).toBeUndefined()
    const third = reader.onMessage(messages[2]!)
    expect(third).toBeInstanceOf(Promise)
    const ids: number[] = []
    const reading = (async () => {
      for await (const message of reader) ids.push(message.arbitrationId)
    })()
    await third
    reader.onMessage(messages[3]!)
    await sleep(10)
    reader.stop()
    await reading
    expect(ids).toEqual([1, 2, 3, 4])
    expect(() => reader.onMessage(messages[0]!)).toThrow(/stopped/)
  })

  it('routes a listener error to the listeners with onError and keeps going', async () => {
    const { bus, edge } = await busWithEdge('pi-err')
    const errors: unknown[] = []
    const received: number[] = []
    const failing: Listener = {
      onMessage: (message) => {
        if (message.arbitrationId === 2) throw new Error('listener broke')
      },
      onError: (error) => errors.push(error),
    }
    const counting: Listener = { onMessage: (message) => void received.push(message.arbitrationId) }
    const notifier = new Notifier(bus, [failing, counting])
    edge.sendFrames(
      0,
      0,
      [1, 2, 3].map((id) => ({ ...sequenceFrame(id), id })),
    )
    await waitUntil(() => received.length === 3)
    expect(received).toEqual([1, 2, 3])
    expect(errors.map(String)).toEqual(['Error: listener broke'])
    await notifier.stop()
  })

  it('stops reading a bus on an error nobody handles, and says so', async () => {
    const { bus, edge } = await busWithEdge('pi-unhandled')
    const logger = capturingLogger()
    const stopped: string[] = []
    const notifier = new Notifier(
      bus,
      [
        {
          onMessage: () => {
            throw new Error('boom')
          },
          stop: () => void stopped.push('stopped'),
        },
      ],
      { logger },
    )
    edge.sendFrames(0, 0, [{ id: 1 }, { id: 2 }])
    await waitUntil(() => notifier.exception !== undefined)
    expect(String(notifier.exception)).toBe('Error: boom')
    expect(logger.at('error')[0]?.message).toMatch(/no listener handled/)
    await notifier.stop()
    await notifier.stop()
    expect(stopped).toEqual(['stopped'])
    expect((await bus.recv(100))?.arbitrationId).toBe(2) // the rest stays on the bus
  })

  it('adds and removes listeners', async () => {
    const { bus } = await busWithEdge('pi-list')
    const reader = new AsyncBufferedReader()
    const notifier = new Notifier(bus, [])
    notifier.addListener(reader)
    expect(notifier.listeners).toEqual([reader])
    notifier.removeListener(reader)
    expect(() => notifier.removeListener(reader)).toThrow(/no such listener/)
    await notifier.stop()
    expect(() => notifier.addBus(bus)).toThrow(/stopped/)
  })
})
