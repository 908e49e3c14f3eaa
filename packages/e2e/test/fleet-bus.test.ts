// fleet.bus(): python-can's Bus over one edge channel of a fleet. The same script runs against
// a TCPBus with a real edge and against fleet.bus with a real edge behind a real gateway and
// nats-server, and both must behave alike: receive, iterate, filters, send (the edge's own
// echo shows the frame went out), periodic tasks started, changed and stopped, errors.
// Time is read from the edge's own traffic (a counter channel at 200 frames/s), never a clock.

import { startEdge } from '@canbridge/edge-client/testing'
import { FleetClient, Gateway } from '@canbridge/fleet'
import { type Bus, CanMessage, CanOperationError, TCPBus } from '@canbridge/server-bus'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFleet } from './support/fleet-rig.ts'

const quiet = { debug() {}, info() {}, warn() {}, error() {} }
// biome-ignore lint/suspicious/noExplicitAny: any bus, whatever its event map (the script uses none)
type AnyBus = Bus<any>
const COUNTER_IDS = { canId: 0x100, canMask: 0x7f0, extended: false } // the edge's 0x100..0x10f
const only = (id: number) => ({ canId: id, canMask: 0x7ff, extended: false })

let rig: Awaited<ReturnType<typeof startFleet>>
const cleanups: (() => unknown)[] = []

beforeAll(async () => {
  rig = await startFleet('BUS')
})

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  await rig?.stop()
})

/** A canbridge-edge process on a counter channel `virtual:a` (ids 0x100..0x10f, 200 frames/s). */
async function edgeAt(port: number | readonly number[], edgeId: string) {
  const edge = await startEdge([
    '--server',
    (typeof port === 'number' ? [port] : port).map((p) => `127.0.0.1:${p}`).join(','),
    '--edge-id',
    edgeId,
    '--channel',
    'virtual:a?rate=200&count=10000000',
  ])
  cleanups.push(() => edge.stop('SIGKILL'))
  return edge
}

async function recvOrFail(bus: AnyBus, what: string): Promise<CanMessage> {
  const message = await bus.recv(30_000)
  if (message === null) throw new Error(`no ${what} within 30 s`)
  return message
}

/**
 * The script, written against the Bus API alone; returns what it saw, in words that do not
 * depend on the transport (the same for TCPBus and fleet.bus).
 */
async function script(bus: AnyBus, channel: string): Promise<string[]> {
  const seen: string[] = []
  const first = await recvOrFail(bus, 'frame')
  seen.push(
    `recv: ${first.channel} rx=${first.isRx} counter=${(first.arbitrationId & 0x7f0) === 0x100}`,
  )
  let n = 0
  for await (const message of bus) {
    if (message.channel !== channel) seen.push(`iterate: foreign channel ${message.channel}`)
    if (++n === 20) break
  }
  seen.push(`iterate: ${n} frames`)

  // filters: only 0x105 now, applied to what is already queued too
  bus.setFilters([only(0x105)])
  const ids = new Set<number>()
  for (let i = 0; i < 3; i++) ids.add((await recvOrFail(bus, '0x105')).arbitrationId)
  seen.push(`filtered: ${[...ids].map((id) => id.toString(16))}`)

  // send: the edge's own echo (isRx false) is the proof it went out
  bus.setFilters([only(0x321)])
  await bus.send(new CanMessage({ arbitrationId: 0x321, isExtendedId: false, data: [1, 2, 3] }))
  const echo = await recvOrFail(bus, 'echo of the send')
  seen.push(`sent: ${echo.arbitrationId.toString(16)} rx=${echo.isRx} data=${[...echo.data]}`)

  // periodic: runs on the edge, its data changed on the fly, then stopped
  bus.setFilters([only(0x322)])
  const task = bus.sendPeriodic(
    new CanMessage({ arbitrationId: 0x322, isExtendedId: false, data: [9] }),
    20,
  )
  for (let i = 0; i < 3; i++) {
    const tick = await recvOrFail(bus, 'periodic frame')
    if (tick.data[0] !== 9) seen.push(`periodic: unexpected data ${[...tick.data]}`)
  }
  seen.push(`periodic: running=${task.running} tasks=${bus.periodicTasks.length}`)
  task.modifyData(new CanMessage({ arbitrationId: 0x322, isExtendedId: false, data: [10] }))
  while ((await recvOrFail(bus, 'modified periodic frame')).data[0] !== 10) {}
  seen.push('periodic: modified')
  task.stop()
  // the marker goes out after the stop: any 0x322 after its echo means the task still runs;
  // 40 counter frames afterwards (200 ms of the edge's time, 10 periods) show it does not
  bus.setFilters([only(0x322), only(0x323), COUNTER_IDS])
  await bus.send(new CanMessage({ arbitrationId: 0x323, isExtendedId: false, data: [] }))
  while ((await recvOrFail(bus, 'marker')).arbitrationId !== 0x323) {}
  let counters = 0
  let late = 0
  while (counters < 40) {
    const message = await recvOrFail(bus, 'frame after the marker')
    if (message.arbitrationId === 0x322) late++
    else counters++
  }
  seen.push(`periodic: stopped, ${late} frames after the stop, tasks=${bus.periodicTasks.length}`)

  // a channel the edge does not have
  const refused = await bus
    .send(new CanMessage({ arbitrationId: 0x1, data: [] }), { channel: `${channel}-nope` })
    .catch((error: unknown) => error)
  seen.push(
    `unknown channel: ${(refused as Error).name} ${(refused as CanOperationError).reason} ${(refused as Error).message.includes('no edge has offered this channel')}`,
  )
  seen.push(`state: ${bus.state}`)

  await bus.shutdown()
  await bus.shutdown() // idempotent
  seen.push(`after shutdown: recv=${await bus.recv(0)} shut=${bus.isShutdown}`)
  const late2 = await bus.send(new CanMessage({ arbitrationId: 0x1 })).catch((e: unknown) => e)
  seen.push(`send after shutdown: ${(late2 as CanOperationError).reason}`)
  return seen
}

describe('fleet.bus: the Bus API over a fleet', () => {
  it('runs the same script as TCPBus, with the same results', async () => {
    const tcp = await TCPBus.listen({
      port: 0,
      host: '127.0.0.1',
      receiveOwnMessages: true,
      logger: quiet,
    })
    cleanups.push(() => tcp.shutdown())
    await edgeAt((tcp.address as { port: number }).port, 'veh-1')
    await tcp.waitForEdge({ edgeId: 'veh-1', timeoutMs: 15_000 })
    const overTcp = await script(tcp, 'veh-1/virtual:a')

    await edgeAt(rig.port, 'veh-1')
    const fleet = await FleetClient.connect({ servers: rig.nats.url }, { stream: 'BUS' })
    cleanups.push(() => fleet.close())
    const bus = await fleet.bus('veh-1', 'virtual:a', { receiveOwnMessages: true })
    const overFleet = await script(bus, 'veh-1/virtual:a')

    console.log(overFleet.join('\n'))
    expect(overFleet).toEqual(overTcp)
    expect(overFleet).toEqual([
      'recv: veh-1/virtual:a rx=true counter=true',
      'iterate: 20 frames',
      'filtered: 105',
      'sent: 321 rx=false data=1,2,3',
      'periodic: running=true tasks=1',
      'periodic: modified',
      'periodic: stopped, 0 frames after the stop, tasks=0',
      'unknown channel: CanOperationError not-connected true',
      'state: active',
      'after shutdown: recv=null shut=true',
      'send after shutdown: shutdown',
    ])
  }, 120_000)

  it('an edge no gateway holds: a CanOperationError that says so; names that cannot be one channel are refused', async () => {
    const fleet = await FleetClient.connect({ servers: rig.nats.url }, { stream: 'BUS' })
    cleanups.push(() => fleet.close())
    const bus = await fleet.bus('nobody', 'can0')
    const error = await bus
      .send(new CanMessage({ arbitrationId: 0x10, data: [1] }))
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CanOperationError)
    expect((error as CanOperationError).reason).toBe('not-connected')
    expect((error as CanOperationError).channel).toBe('nobody/can0')
    expect((error as Error).message).toBe(
      'send on nobody/can0 failed: not-connected (edge nobody is not connected to any gateway)',
    )
    // a send to another edge's channel is not this bus's to make
    await expect(
      bus.send(new CanMessage({ arbitrationId: 0x10, channel: 'other/can0' })),
    ).rejects.toThrow('channel must be "nobody/<interface>" (this bus\'s edge), got "other/can0"')
    await bus.shutdown()
    // a bus whose client closes under it says so instead of waiting for ever
    const orphan = await fleet.bus('nobody', 'can1')
    const closing = expect(orphan.recv()).rejects.toThrow(
      'the fleet client was closed: fleet bus nobody/can1 receives no more',
    )
    await fleet.close()
    await closing
    await expect(fleet.bus('veh-*', 'can0')).rejects.toThrow(
      'edgeId must be one exact name, got "veh-*"',
    )
    await expect(fleet.bus('veh-1', '')).rejects.toThrow('must be 1..128 characters')
  }, 60_000)

  it('a consumer that dies without stopping its periodic task: the gateway stops it when the lease runs out', async () => {
    await edgeAt(rig.port, 'veh-lease')
    const dying = await FleetClient.connect({ servers: rig.nats.url }, { stream: 'BUS' })
    const watcher = await FleetClient.connect({ servers: rig.nats.url }, { stream: 'BUS' })
    cleanups.push(() => watcher.close())
    const watch = await watcher.bus('veh-lease', 'virtual:a', {
      receiveOwnMessages: true,
      canFilters: [only(0x330), COUNTER_IDS],
    })
    const bus = await dying.bus('veh-lease', 'virtual:a', { periodicLeaseMs: 1500 })
    bus.sendPeriodic(new CanMessage({ arbitrationId: 0x330, isExtendedId: false, data: [7] }), 20)
    while ((await recvOrFail(watch, 'periodic frame')).arbitrationId !== 0x330) {}
    // the consumer is gone (its connection closed, no stop sent); the task ran on its lease
    await dying.nc.close()
    // 400 counter frames (2 s of the edge's time) in a row without the task's frames
    let quiet = 0
    let after = 0
    while (quiet < 400) {
      const message = await recvOrFail(watch, 'frame')
      if (message.arbitrationId === 0x330) {
        quiet = 0
        after++
      } else quiet++
    }
    expect(after).toBeGreaterThan(0) // it ran on after the consumer died, until its lease ended
    await watch.shutdown()
  }, 120_000)

  it('a periodic task follows its edge to another gateway (the renewal starts it there)', async () => {
    const start = (gatewayId: string) =>
      Gateway.start({
        port: 0,
        host: '127.0.0.1',
        nats: { servers: rig.nats.url },
        stream: { name: 'BUS' },
        gatewayId,
        logger: quiet,
      })
    const a = await start('gw-a')
    const b = await start('gw-b')
    cleanups.push(
      () => a.close(),
      () => b.close(),
    )
    const portOf = (gateway: Gateway) => (gateway.address as { port: number }).port
    // the edge is given both gateways and fails over from A to B by itself
    await edgeAt([portOf(a), portOf(b)], 'veh-move')
    const client = await FleetClient.connect({ servers: rig.nats.url }, { stream: 'BUS' })
    cleanups.push(() => client.close())
    const bus = await client.bus('veh-move', 'virtual:a', {
      receiveOwnMessages: true,
      periodicLeaseMs: 1500,
      canFilters: [only(0x340), only(0x341)],
    })
    bus.sendPeriodic(new CanMessage({ arbitrationId: 0x340, isExtendedId: false, data: [1] }), 20)
    while ((await recvOrFail(bus, 'periodic frame')).arbitrationId !== 0x340) {}

    // gateway A goes away; the edge (which stops its tasks when its link drops) moves to B
    await a.close()
    // a marker sent through B once B answers for the edge (its subscription reaches NATS a
    // moment after the edge connected; until then no gateway answers and nothing is sent)
    const marker = new CanMessage({ arbitrationId: 0x341, isExtendedId: false, data: [] })
    for (;;) {
      const error = await bus.send(marker).catch((e: unknown) => e)
      if (error === undefined) break
      if ((error as CanOperationError).reason !== 'not-connected') throw error
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    // a task frame after the marker's echo was started on the edge under B
    while ((await recvOrFail(bus, 'marker')).arbitrationId !== 0x341) {}
    const after = await recvOrFail(bus, 'periodic frame under gateway B')
    expect(after.arbitrationId).toBe(0x340)
    await bus.shutdown()
  }, 120_000)
})
