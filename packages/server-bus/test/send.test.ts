// Sending end to end: confirmation, every failure reason, timeouts, fast failure without an
// edge, the TTL hold queue across a reconnect, order, no mutation, receiveOwnMessages.
import { FRAME_FLAG, TRANSMIT_ERROR, type Transmit } from '@canbridge/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { CanMessage, CanOperationError, type TCPBus } from '../src/index.ts'
import { ScriptedEdge, type ScriptedEdgeOptions } from '../src/testing/scripted-edge.ts'
import { BUS_MODES, listen, sleep, useBusMode, waitUntil } from './support/helpers.ts'

let bus: TCPBus | undefined
const edges: ScriptedEdge[] = []

afterEach(async () => {
  for (const edge of edges.splice(0)) edge.destroy()
  await bus?.shutdown()
  bus = undefined
})

async function start(options: ScriptedEdgeOptions = {}): Promise<ScriptedEdge> {
  const edge = await ScriptedEdge.connect(bus!.address, options)
  edges.push(edge)
  await edge.handshake()
  await bus!.waitForEdge({ timeoutMs: 2000, edgeId: edge.hello.edgeId })
  return edge
}

const message = (id = 0x123, data: number[] = [1, 2, 3]) =>
  new CanMessage({ arbitrationId: id, isExtendedId: false, data })

async function rejection(promise: Promise<unknown>): Promise<CanOperationError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection')
    },
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(CanOperationError)
  return error as CanOperationError
}

describe.each(BUS_MODES)('send ($mode)', (mode) => {
  useBusMode(mode)
  it('resolves once the edge reports the frame accepted, after a TRANSMIT with the frame', async () => {
    ;({ bus } = await listen())
    const edge = await start()
    await bus.send(
      new CanMessage({
        arbitrationId: 0x1abcdef0,
        data: [0xde, 0xad],
        isFd: true,
        bitrateSwitch: true,
      }),
      { timeoutMs: 500 },
    )
    const [transmit] = edge.messages('TRANSMIT')
    expect(transmit?.channel).toBe(0)
    expect({ ...transmit?.frame, data: Array.from(transmit?.frame.data ?? []) }).toEqual({
      id: 0x1abcdef0,
      flags: FRAME_FLAG.EXT | FRAME_FLAG.FD | FRAME_FLAG.BRS,
      len: 2,
      data: [0xde, 0xad],
    })
    // The edge is told to drop the frame once we would report a timeout.
    expect(transmit?.ttlMs).toBeGreaterThan(0)
    expect(transmit?.ttlMs).toBeLessThanOrEqual(500)
    expect(bus.stats().channels['pi-test/can0']?.framesOut).toBe(1)
  })

  it.each(TRANSMIT_ERROR)('rejects with reason %s when the edge reports it', async (reason) => {
    ;({ bus } = await listen())
    await start({
      onTransmit: (t) => ({ requestId: t.requestId, ok: false, error: reason, message: 'as told' }),
    })
    const error = await rejection(bus.send(message()))
    expect(error.reason).toBe(reason)
    expect(error.channel).toBe('pi-test/can0')
    expect(error.message).toContain(reason)
    expect(error.message).toContain('as told')
    expect(bus.stats().channels['pi-test/can0']?.sendFailures).toBe(1)
  })

  it('rejects with reason timeout when the edge says nothing by the timeout and the grace after it', async () => {
    ;({ bus } = await listen({ sendResultGraceMs: 200 }))
    const edge = await start({ onTransmit: () => undefined })
    const started = performance.now()
    const error = await rejection(bus.send(message(), { timeoutMs: 120 }))
    expect(error.reason).toBe('timeout')
    expect(error.message).toMatch(
      /no result from the edge within 320 ms \(the frame may have reached the bus\)/,
    )
    expect(performance.now() - started).toBeGreaterThanOrEqual(315)
    const [transmit] = edge.messages('TRANSMIT')
    // a result after that is ignored; the connection lives on
    edge.sendControl('TRANSMIT_RESULT', { requestId: transmit!.requestId, ok: true })
    edge.sendFrames(0, 0, [{ id: 5 }])
    expect((await bus.recv(1000))?.arbitrationId).toBe(5)
  })

  it('a frame the edge put on the bus after the timeout (a busy or paused edge) is sent, not a timeout', async () => {
    ;({ bus } = await listen({ sendResultGraceMs: 5000 }))
    const edge = await start({ onTransmit: () => undefined })
    const pending = bus.send(message(), { timeoutMs: 100 })
    const transmit = await edge.waitFor('TRANSMIT')
    // the edge counts the ttl from when it read the TRANSMIT: it may send up to then
    expect(transmit.ttlMs).toBeGreaterThan(0)
    expect(transmit.ttlMs).toBeLessThanOrEqual(100)
    await sleep(300)
    edge.sendControl('TRANSMIT_RESULT', { requestId: transmit.requestId, ok: true })
    await expect(pending).resolves.toBeUndefined()
  })

  it('a frame the edge let expire after the timeout is reported as the edge says (ttl-expired)', async () => {
    ;({ bus } = await listen({ sendResultGraceMs: 5000 }))
    const edge = await start({ onTransmit: () => undefined })
    const pending = rejection(bus.send(message(), { timeoutMs: 100 }))
    const transmit = await edge.waitFor('TRANSMIT')
    await sleep(300)
    edge.sendControl('TRANSMIT_RESULT', {
      requestId: transmit.requestId,
      ok: false,
      error: 'ttl-expired',
      message: 'not on the bus within its ttl',
    })
    expect((await pending).reason).toBe('ttl-expired')
  })

  it('fails fast with not-connected when no edge serves the channel', async () => {
    ;({ bus } = await listen())
    const started = performance.now()
    expect((await rejection(bus.send(message()))).reason).toBe('not-connected')
    expect((await rejection(bus.send(message(), { channel: 'pi-x/can0' }))).reason).toBe(
      'not-connected',
    )
    const edge = await start()
    edge.destroy()
    await waitUntil(() => bus!.edges.length === 0)
    expect((await rejection(bus.send(message()))).reason).toBe('not-connected')
    expect(performance.now() - started).toBeLessThan(2000)
  })

  it('rejects with not-connected when the connection drops before the result', async () => {
    ;({ bus } = await listen())
    const edge = await start({ onTransmit: () => undefined })
    const pending = bus.send(message(), { timeoutMs: 5000 })
    await edge.waitFor('TRANSMIT')
    edge.destroy()
    const error = await rejection(pending)
    expect(error.reason).toBe('not-connected')
    expect(error.message).toMatch(/closed before the edge confirmed/)
  })

  it('holds frames while disconnected: stale ones fail ttl-expired, fresh ones go out on reconnect', async () => {
    ;({ bus } = await listen({ queueWhileDisconnected: { ttlMs: 600, maxFrames: 2 } }))
    const first = await start()
    first.destroy()
    await waitUntil(() => bus!.edges.length === 0)

    const stale = bus.send(message(0x1), { timeoutMs: 1000 })
    const staleError = rejection(stale)
    await sleep(400)
    const freshAt = performance.now()
    const fresh = bus.send(message(0x2), { timeoutMs: 1000 })
    const overflow = await rejection(bus.send(message(0x3)))
    expect(overflow.reason).toBe('queue-full')
    expect((await staleError).reason).toBe('ttl-expired') // at 600 ms

    const reconnectAt = performance.now()
    const second = await start()
    await fresh
    const transmits = second.messages('TRANSMIT')
    expect(transmits.map((t) => t.frame.id)).toEqual([0x2])
    // The frame waited part of its 600 ms: the edge gets what is left of it.
    expect(transmits[0]?.ttlMs).toBeLessThanOrEqual(Math.ceil(600 - (reconnectAt - freshAt)) + 1)
  })

  it('rejects a held frame at once when its edge does not return within the TTL', async () => {
    ;({ bus } = await listen({ queueWhileDisconnected: { ttlMs: 100 } }))
    const started = performance.now()
    const error = await rejection(bus.send(message(), { channel: 'pi-never/can0' }))
    expect(error.reason).toBe('ttl-expired')
    expect(performance.now() - started).toBeGreaterThanOrEqual(95)
  })

  it('never mutates the caller message', async () => {
    ;({ bus } = await listen())
    await start()
    const data = Uint8Array.of(1, 2, 3)
    const original = new CanMessage({ arbitrationId: 0x10, data, channel: null, timestamp: 5 })
    const before = JSON.stringify(original.toJSON())
    await bus.send(original, { channel: 'pi-test/can0' })
    expect(JSON.stringify(original.toJSON())).toBe(before)
    expect(original.channel).toBeNull()
    expect(Array.from(data)).toEqual([1, 2, 3])
  })

  it('writes TRANSMITs in send order and matches results by requestId, in any order', async () => {
    ;({ bus } = await listen())
    const seen: Transmit[] = []
    const edge = await start({
      onTransmit: (t) => {
        seen.push(t)
        return undefined
      },
    })
    const sends = Array.from({ length: 200 }, (_, i) => bus!.send(message(i), { timeoutMs: 3000 }))
    await waitUntil(() => seen.length === 200)
    expect(seen.map((t) => t.frame.id)).toEqual(Array.from({ length: 200 }, (_, i) => i))
    // Answer in reverse, with the odd ones refused.
    for (const t of [...seen].reverse()) {
      edge.sendControl(
        'TRANSMIT_RESULT',
        t.frame.id % 2 === 0
          ? { requestId: t.requestId, ok: true }
          : { requestId: t.requestId, ok: false, error: 'tx-queue-full' },
      )
    }
    const results = await Promise.allSettled(sends)
    results.forEach((result, i) => {
      if (i % 2 === 0) expect(result.status).toBe('fulfilled')
      else expect((result as PromiseRejectedResult).reason.reason).toBe('tx-queue-full')
    })
  })

  it('picks the channel: option, then the message channel, then the only channel', async () => {
    ;({ bus } = await listen())
    const a = await start({ edgeId: 'pi-a', channels: [{ name: 'can0' }, { name: 'can1' }] })
    await expect(bus.send(message())).rejects.toThrow(/no channel given and the bus has 2/)
    await bus.send(message(), { channel: 'pi-a/can1' })
    await bus.send(new CanMessage({ arbitrationId: 7, channel: 'pi-a/can0' }))
    expect(a.messages('TRANSMIT').map((t) => t.channel)).toEqual([1, 0])
    await expect(bus.send(message(), { channel: 'can0' })).rejects.toThrow(/edgeId\/interface/)
    await expect(bus.send({} as CanMessage)).rejects.toThrow(TypeError)
  })

  it('sends to the only channel by default', async () => {
    ;({ bus } = await listen())
    const edge = await start()
    await bus.send(message())
    expect(edge.messages('TRANSMIT')).toHaveLength(1)
  })
})

describe.each(BUS_MODES)('receiveOwnMessages ($mode)', (mode) => {
  useBusMode(mode)
  it('asks the edge for echoes and delivers TX frames with isRx false', async () => {
    ;({ bus } = await listen({ receiveOwnMessages: true }))
    const edge = await start()
    expect(edge.welcome?.capabilities).toContain('own-messages')
    await bus.send(message(0x55, [9]))
    edge.sendFrames(0, 0, [{ id: 0x55, flags: FRAME_FLAG.TX, data: [9] }, { id: 0x56 }])
    const echo = await bus.recv(1000)
    expect(echo?.arbitrationId).toBe(0x55)
    expect(echo?.isRx).toBe(false)
    expect(echo?.toString()).toContain(' Tx ')
    expect((await bus.recv(1000))?.isRx).toBe(true)
  })

  it('does not ask for echoes by default and drops any that come', async () => {
    ;({ bus } = await listen())
    const edge = await start()
    expect(edge.welcome?.capabilities).not.toContain('own-messages')
    edge.sendFrames(0, 0, [{ id: 0x55, flags: FRAME_FLAG.TX }, { id: 0x56 }])
    expect((await bus.recv(1000))?.arbitrationId).toBe(0x56)
    expect(bus.stats().channels['pi-test/can0']?.framesFiltered).toBe(1)
  })
})
