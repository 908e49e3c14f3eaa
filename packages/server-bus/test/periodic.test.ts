// Periodic sends: the schedule lives on the edge, so what is tested is what the edge is told:
// PERIODIC_START / MODIFY / STOP, again after a reconnect, and STOP for all at shutdown.
import { afterEach, describe, expect, it } from 'vitest'
import { CanMessage, type TCPBus } from '../src/index.ts'
import { ScriptedEdge } from '../src/testing/scripted-edge.ts'
import { BUS_MODES, listen, sleep, useBusMode, waitUntil } from './support/helpers.ts'

let bus: TCPBus | undefined
const edges: ScriptedEdge[] = []

afterEach(async () => {
  for (const edge of edges.splice(0)) edge.destroy()
  await bus?.shutdown()
  bus = undefined
})

async function start(edgeId = 'pi-p'): Promise<ScriptedEdge> {
  const edge = await ScriptedEdge.connect(bus!.address, { edgeId })
  edges.push(edge)
  await edge.handshake()
  await bus!.waitForEdge({ timeoutMs: 2000, edgeId })
  return edge
}

const msg = (id: number, byte: number) =>
  new CanMessage({ arbitrationId: id, isExtendedId: false, data: [byte] })

describe.each(BUS_MODES)('sendPeriodic ($mode)', (mode) => {
  useBusMode(mode)
  it('starts, modifies, stops and restarts the task on the edge', async () => {
    ;({ bus } = await listen())
    const edge = await start()
    const task = bus.sendPeriodic([msg(0x100, 1), msg(0x101, 2)], 20, { durationMs: 10_000 })
    expect(task.running).toBe(true)
    expect(task.channel).toBe('pi-p/can0')
    const startMessage = await edge.waitFor('PERIODIC_START')
    expect(startMessage.taskId).toBe(task.taskId)
    expect(startMessage.channel).toBe(0)
    expect(startMessage.periodMs).toBe(20)
    expect(startMessage.durationMs).toBeGreaterThan(9_000)
    expect(startMessage.frames.map((f) => [f.id, Array.from(f.data)])).toEqual([
      [0x100, [1]],
      [0x101, [2]],
    ])

    task.modifyData([msg(0x100, 3), msg(0x101, 4)])
    const modify = await edge.waitFor('PERIODIC_MODIFY')
    expect(modify.taskId).toBe(task.taskId)
    expect(modify.frames.map((f) => Array.from(f.data))).toEqual([[3], [4]])

    task.stop()
    task.stop()
    expect(task.running).toBe(false)
    expect(await edge.waitFor('PERIODIC_STOP')).toEqual({ taskId: startMessage.taskId })
    expect(bus.periodicTasks).toHaveLength(0)

    task.start()
    const restart = await edge.waitFor('PERIODIC_START', (m) => m.taskId !== startMessage.taskId)
    expect(restart.taskId).toBeGreaterThan(startMessage.taskId)
    expect(restart.frames.map((f) => Array.from(f.data))).toEqual([[3], [4]])
    await sleep(20)
    expect(edge.messages('PERIODIC_STOP')).toHaveLength(1)
  })

  it('checks modifyData like python-can: same count, same ids', async () => {
    ;({ bus } = await listen())
    await start()
    const task = bus.sendPeriodic(msg(0x100, 1), 10)
    expect(() => task.modifyData([msg(0x100, 1), msg(0x100, 2)])).toThrow(/needs 1 messages/)
    expect(() => task.modifyData(msg(0x200, 1))).toThrow(/arbitrationId 0x200 differs/)
  })

  it('re-sends running tasks to an edge that reconnects, with the duration left', async () => {
    ;({ bus } = await listen())
    const first = await start()
    const forever = bus.sendPeriodic(msg(0x10, 1), 50)
    const timed = bus.sendPeriodic(msg(0x11, 1), 50, { durationMs: 5_000 })
    const stopped = bus.sendPeriodic(msg(0x12, 1), 50)
    stopped.stop()
    await waitUntil(() => first.messages('PERIODIC_STOP').length === 1)
    first.destroy()
    await waitUntil(() => bus!.edges.length === 0)
    await sleep(100)

    const second = await start()
    await waitUntil(() => second.messages('PERIODIC_START').length === 2)
    await sleep(30)
    const starts = second.messages('PERIODIC_START')
    expect(starts.map((s) => s.taskId).sort()).toEqual([forever.taskId, timed.taskId].sort())
    const timedStart = starts.find((s) => s.taskId === timed.taskId)!
    expect(timedStart.durationMs).toBeLessThan(4_950)
    expect(timedStart.durationMs).toBeGreaterThan(2_000)
    expect(starts.find((s) => s.taskId === forever.taskId)?.durationMs).toBeUndefined()
  })

  it('starts a task on an edge that connects later, and forgets it when its duration is over', async () => {
    ;({ bus } = await listen())
    const waiting = bus.sendPeriodic(
      new CanMessage({ arbitrationId: 1, channel: 'pi-late/can0' }),
      10,
    )
    const short = bus.sendPeriodic(
      new CanMessage({ arbitrationId: 2, channel: 'pi-late/can0' }),
      10,
      {
        durationMs: 30,
      },
    )
    await sleep(60)
    expect(short.running).toBe(false)
    const edge = await start('pi-late')
    const startMessage = await edge.waitFor('PERIODIC_START')
    expect(startMessage.taskId).toBe(waiting.taskId)
    await sleep(30)
    expect(edge.messages('PERIODIC_START')).toHaveLength(1)
  })

  it('stops every task on the edge at shutdown', async () => {
    ;({ bus } = await listen())
    const edge = await start()
    const tasks = [bus.sendPeriodic(msg(1, 1), 10), bus.sendPeriodic(msg(2, 1), 10)]
    await waitUntil(() => edge.messages('PERIODIC_START').length === 2)
    await bus.shutdown()
    await edge.closed
    expect(
      edge
        .messages('PERIODIC_STOP')
        .map((s) => s.taskId)
        .sort(),
    ).toEqual(tasks.map((t) => t.taskId).sort())
    expect(tasks.every((t) => !t.running)).toBe(true)
  })

  it('rejects bad arguments', async () => {
    ;({ bus } = await listen())
    await start()
    expect(() => bus!.sendPeriodic([], 10)).toThrow(/1..256 messages/)
    expect(() => bus!.sendPeriodic(msg(1, 1), 0)).toThrow(/periodMs must be a number > 0/)
    expect(() => bus!.sendPeriodic(msg(1, 1), 10, { durationMs: -1 })).toThrow(/durationMs/)
    expect(() => bus!.sendPeriodic([{} as CanMessage], 10)).toThrow(
      /messages\[0\] must be a CanMessage/,
    )
  })
})
