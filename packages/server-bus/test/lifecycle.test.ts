// Shutdown: idempotent, closes the listener and every socket, ends pending receives (null),
// iterations and waits, fails pending sends, and works through `await using`.
import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { CanMessage, CanOperationError, TCPBus } from '../src/index.ts'
import { ScriptedEdge } from '../src/testing/scripted-edge.ts'
import {
  BUS_MODES,
  capturingLogger,
  listen,
  sleep,
  useBusMode,
  withMode,
} from './support/helpers.ts'

const edges: ScriptedEdge[] = []

afterEach(() => {
  for (const edge of edges.splice(0)) edge.destroy()
})

describe.each(BUS_MODES)('shutdown ($mode)', (mode) => {
  useBusMode(mode)
  it('is idempotent and closes the listener and the edge sockets', async () => {
    const { bus } = await listen()
    const edge = await ScriptedEdge.start(bus.address)
    edges.push(edge)
    const first = bus.shutdown()
    expect(bus.shutdown()).toBe(first)
    await first
    await bus.shutdown()
    await edge.closed
    expect(bus.isShutdown).toBe(true)
    const port = (bus.address as { port: number }).port
    const refused = await new Promise<string>((resolve) => {
      const socket = connect({ port, host: '127.0.0.1' })
      socket.once('connect', () => {
        socket.destroy()
        resolve('connected')
      })
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'))
    })
    expect(refused).toBe('ECONNREFUSED')
  })

  it('resolves pending receives with null or [], ends iterations and pending waits', async () => {
    const { bus } = await listen()
    const recv = bus.recv()
    const batch = bus.recvBatch()
    const iterated: CanMessage[] = []
    const iteration = (async () => {
      for await (const message of bus) iterated.push(message)
      for await (const messages of bus.batches()) iterated.push(...messages)
    })()
    const waiting = bus.waitForEdge({ timeoutMs: 10_000 }).catch((e: unknown) => e)
    await sleep(20)
    await bus.shutdown()
    expect(await recv).toBeNull()
    expect(await batch).toEqual([])
    await iteration
    expect(iterated).toEqual([])
    const error = await waiting
    expect(error).toBeInstanceOf(CanOperationError)
    expect((error as CanOperationError).reason).toBe('shutdown')
    expect(await bus.recv(0)).toBeNull()
  })

  it('fails sends waiting for a result and refuses new ones with reason shutdown', async () => {
    const { bus } = await listen({ queueWhileDisconnected: { ttlMs: 10_000 } })
    const edge = await ScriptedEdge.start(bus.address, { onTransmit: () => undefined })
    edges.push(edge)
    await bus.waitForEdge({ timeoutMs: 1000 })
    const inFlight = bus
      .send(new CanMessage({ arbitrationId: 1 }), { timeoutMs: 10_000 })
      .catch((e: unknown) => e)
    const held = bus
      .send(new CanMessage({ arbitrationId: 2 }), { channel: 'pi-other/can0' })
      .catch((e: unknown) => e)
    await edge.waitFor('TRANSMIT')
    expect(bus.stats().channels['pi-test/can0']?.sendQueued).toBe(1)
    expect(bus.stats().channels['pi-other/can0']?.sendQueued).toBe(1)
    await bus.shutdown()
    for (const error of [await inFlight, await held]) {
      expect(error).toBeInstanceOf(CanOperationError)
      expect((error as CanOperationError).reason).toBe('shutdown')
    }
    const late = await bus.send(new CanMessage()).catch((e: unknown) => e)
    expect((late as CanOperationError).reason).toBe('shutdown')
    expect(() => bus.sendPeriodic(new CanMessage(), 10)).toThrow(/shut down/)
  })

  it('shuts down at the end of an `await using` scope', async () => {
    let leaked: TCPBus | undefined
    let edge: ScriptedEdge | undefined
    {
      await using bus = await TCPBus.listen(
        withMode({
          port: 0,
          host: '127.0.0.1',
          logger: capturingLogger(),
        }),
      )
      leaked = bus
      edge = await ScriptedEdge.start(bus.address)
      edges.push(edge)
      await bus.waitForEdge({ timeoutMs: 1000 })
    }
    expect(leaked.isShutdown).toBe(true)
    await edge.closed
  })

  it('reports the edges it closes as disconnected', async () => {
    const { bus } = await listen()
    const reasons: string[] = []
    bus.on('edgeDisconnected', (_edge, reason) => reasons.push(reason))
    edges.push(await ScriptedEdge.start(bus.address))
    await bus.waitForEdge({ timeoutMs: 1000 })
    await bus.shutdown()
    expect(reasons).toEqual(['the bus is shutting down'])
  })

  it('rejects bad options where they enter', async () => {
    await expect(TCPBus.listen(withMode({ port: 0, heartbeatMs: 50 }))).rejects.toThrow(
      /heartbeatMs must be an integer in 100..60000/,
    )
    await expect(TCPBus.listen(withMode({ port: 0, receiveQueueFrames: 0 }))).rejects.toThrow(
      /receiveQueueFrames/,
    )
    await expect(TCPBus.listen(withMode({ port: 0, path: '/tmp/x' }))).rejects.toThrow(
      /either port or path/,
    )
    await expect(
      TCPBus.listen(withMode({ port: 0, queueWhileDisconnected: { ttlMs: -5 } })),
    ).rejects.toThrow(/queueWhileDisconnected.ttlMs/)
  })
})
