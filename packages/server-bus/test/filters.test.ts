// Filters end to end: applied locally with python-can's rule, and pushed to every edge as
// SET_FILTERS after WELCOME, on each setFilters and after every reconnect.
import { FRAME_FLAG } from '@canbridge/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import type { TCPBus } from '../src/index.ts'
import { ScriptedEdge } from '../src/testing/scripted-edge.ts'
import { BUS_MODES, listen, useBusMode } from './support/helpers.ts'

let bus: TCPBus | undefined
const edges: ScriptedEdge[] = []

afterEach(async () => {
  for (const edge of edges.splice(0)) edge.destroy()
  await bus?.shutdown()
  bus = undefined
})

async function start(edgeId = 'pi-f'): Promise<ScriptedEdge> {
  const edge = await ScriptedEdge.connect(bus!.address, { edgeId })
  edges.push(edge)
  await edge.handshake()
  return edge
}

describe.each(BUS_MODES)('filters ($mode)', (mode) => {
  useBusMode(mode)
  it('tells the edge the filters right after WELCOME, and again on setFilters', async () => {
    ;({ bus } = await listen({ canFilters: [{ canId: 0x100, canMask: 0x7f0, extended: false }] }))
    const edge = await start()
    const first = await edge.waitFor('SET_FILTERS')
    expect(first).toEqual({
      channel: null,
      filters: [{ canId: 0x100, canMask: 0x7f0, extended: false }],
    })
    const welcomeAt = edge.received.findIndex((m) => m.type === 'WELCOME')
    const filtersAt = edge.received.findIndex((m) => m.type === 'SET_FILTERS')
    expect(filtersAt).toBe(welcomeAt + 1)

    bus.setFilters([{ canId: 0x18ff0000, canMask: 0x1fff0000 }])
    await waitForCount(edge, 2)
    expect(edge.messages('SET_FILTERS').at(-1)).toEqual({
      channel: null,
      filters: [{ canId: 0x18ff0000, canMask: 0x1fff0000 }],
    })

    bus.setFilters(null)
    await waitForCount(edge, 3)
    expect(edge.messages('SET_FILTERS').at(-1)).toEqual({ channel: null, filters: [] })
    bus.setFilters([])
    await waitForCount(edge, 4)
    expect(edge.messages('SET_FILTERS').at(-1)).toEqual({ channel: null, filters: [] })
    expect(bus.filters).toBeNull()
  })

  it('sends the current filters again after a reconnect', async () => {
    ;({ bus } = await listen())
    const first = await start('pi-r')
    await first.waitFor('SET_FILTERS')
    bus.setFilters([{ canId: 0x42, canMask: 0x7ff }])
    await waitForCount(first, 2)
    first.destroy()
    await first.closed
    const second = await start('pi-r')
    expect(await second.waitFor('SET_FILTERS')).toEqual({
      channel: null,
      filters: [{ canId: 0x42, canMask: 0x7ff }],
    })
  })

  it('applies the filters locally too, with the extended rule', async () => {
    ;({ bus } = await listen())
    const edge = await start()
    bus.setFilters([
      { canId: 0x120, canMask: 0x7f0, extended: false },
      { canId: 0x18ff0000, canMask: 0x1fff0000, extended: true },
    ])
    // The edge ignores them (as an edge without kernel filtering would): the bus filters.
    edge.sendFrames(0, 0, [
      { id: 0x121 }, // standard 0x12x: passes
      { id: 0x121, flags: FRAME_FLAG.EXT }, // extended 0x121: no filter for it
      { id: 0x131 }, // other id
      { id: 0x18ff1234, flags: FRAME_FLAG.EXT }, // extended range: passes
      { id: 0x12f }, // passes
    ])
    const ids: string[] = []
    // the first may take a while on a busy machine; the rest came in the same batch
    for (let timeoutMs = 5000; ; timeoutMs = 300) {
      const message = await bus.recv(timeoutMs)
      if (message === null) break
      ids.push(`${message.isExtendedId ? 'x' : 's'}${message.arbitrationId.toString(16)}`)
    }
    expect(ids).toEqual(['s121', 'x18ff1234', 's12f'])
    expect(bus.stats().channels['pi-f/can0']?.framesFiltered).toBe(2)
  })

  it('filters frames already queued when the filters change (python-can filters in recv)', async () => {
    ;({ bus } = await listen())
    const edge = await start()
    edge.sendFrames(0, 0, [{ id: 1 }, { id: 2 }, { id: 3 }])
    await edge.waitFor('ACK')
    bus.setFilters([{ canId: 2, canMask: 0x7ff }])
    const batch = await bus.recvBatch({ timeoutMs: 200 })
    expect(batch.map((m) => m.arbitrationId)).toEqual([2])
  })

  it('rejects invalid filters before sending anything', async () => {
    ;({ bus } = await listen())
    expect(() => bus!.setFilters([{ canId: 0x20000000, canMask: 0 }])).toThrow(/filters\[0\].canId/)
  })
})

async function waitForCount(edge: ScriptedEdge, count: number): Promise<void> {
  const deadline = performance.now() + 3000
  while (edge.messages('SET_FILTERS').length < count) {
    if (performance.now() > deadline) throw new Error(`expected ${count} SET_FILTERS`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}
