// sendPeriodic over socketcand's broadcast manager: in raw mode through a second connection
// in BCM mode, in BCM mode on the one connection; add / update / delete as the doc spells them.
import { describe, expect, it } from 'vitest'
import { CanMessage, CanOperationError } from '../../src/index.ts'
import { waitUntil } from '../support/helpers.ts'
import { connectBus } from './fixture.ts'

const message = (data: number[], arbitrationId = 0x123) =>
  new CanMessage({ arbitrationId, isExtendedId: false, data })

describe('SocketcandBus sendPeriodic', () => {
  it('opens a BCM connection in raw mode and adds, updates and deletes the job', async () => {
    const { server, bus } = await connectBus()
    const task = bus.sendPeriodic(message([0x42, 0x42, 0x42, 0x42]), 20)
    const bcm = await server.connection(2)
    // BCM is socketcand's mode after open: no mode switch, no extension asked
    expect(await bcm.waitForCommands(2)).toEqual([
      '< open vcan0 >',
      '< add 0 20000 123 4 42 42 42 42 >',
    ])
    task.modifyData(message([0x11, 0x22, 0x33]))
    expect((await bcm.waitForCommands(3))[2]).toBe('< update 123 3 11 22 33 >')
    task.stop()
    expect((await bcm.waitForCommands(4))[3]).toBe('< delete 123 >')
    // the main connection saw none of it
    expect((await server.connection(1)).commands).toHaveLength(3)
    expect(bus.stats().bcm?.connects).toBe(1)
  })

  it('writes periods of seconds and extended ids as socketcand expects', async () => {
    const { server, bus } = await connectBus()
    bus.sendPeriodic(new CanMessage({ arbitrationId: 0x1aaaaaaa, data: [1] }), 1500)
    bus.sendPeriodic(message([], 0x7ff), 1000)
    const bcm = await server.connection(2)
    expect((await bcm.waitForCommands(3)).slice(1)).toEqual([
      '< add 1 500000 1AAAAAAA 1 01 >',
      '< add 1 0 7FF 0 >',
    ])
  })

  it('deletes the job when its duration ends', async () => {
    const { server, bus } = await connectBus()
    const task = bus.sendPeriodic(message([1]), 10, { durationMs: 150 })
    const bcm = await server.connection(2)
    await bcm.waitForCommands(2)
    expect(task.running).toBe(true)
    expect((await bcm.waitForCommands(3, 2000))[2]).toBe('< delete 123 >')
    await waitUntil(() => !task.running, 1000, 'the task to end')
  })

  it('uses the one connection in BCM mode', async () => {
    const { server, bus } = await connectBus({ mode: 'bcm' })
    const task = bus.sendPeriodic(message([9]), 100)
    const connection = await server.connection()
    expect((await connection.waitForCommands(3))[2]).toBe('< add 0 100000 123 1 09 >')
    task.stop()
    expect((await connection.waitForCommands(4))[3]).toBe('< delete 123 >')
    expect(server.connections).toHaveLength(1)
  })

  it('adds every running job again after the BCM connection comes back', async () => {
    const { server, bus } = await connectBus({ reconnect: { initialDelayMs: 20, maxDelayMs: 40 } })
    bus.sendPeriodic(message([1]), 10)
    // a task stopped before the BCM connection is up never reaches the server
    bus.sendPeriodic(message([2], 0x124), 10).stop()
    const first = await server.connection(2)
    expect(await first.waitForCommands(2)).toEqual(['< open vcan0 >', '< add 0 10000 123 1 01 >'])
    first.destroy()
    const second = await server.connection(3)
    expect(await second.waitForCommands(2)).toEqual(['< open vcan0 >', '< add 0 10000 123 1 01 >'])
    expect(bus.stats().bcm?.disconnects).toBe(1)
  })

  it('stops every job at shutdown before closing', async () => {
    const { server, bus } = await connectBus()
    bus.sendPeriodic(message([1]), 10)
    const bcm = await server.connection(2)
    await bcm.waitForCommands(2)
    await bus.shutdown()
    await bcm.closed
    expect(bcm.commands[2]).toBe('< delete 123 >')
  })

  it('refuses what socketcand’s add cannot carry', async () => {
    const { bus } = await connectBus()
    expect(() => bus.sendPeriodic([message([1]), message([2])], 10)).toThrow(CanOperationError)
    expect(() => bus.sendPeriodic([message([1]), message([2])], 10)).toThrow(
      /one frame per job; give one message per task \(got 2\)/,
    )
    const remote = new CanMessage({ arbitrationId: 1, isRemoteFrame: true })
    expect(() => bus.sendPeriodic(remote, 10)).toThrow(/classic data frames only/)
    const fd = new CanMessage({ arbitrationId: 1, isFd: true, data: [1] })
    expect(() => bus.sendPeriodic(fd, 10)).toThrow(/classic data frames only/)
    const task = bus.sendPeriodic(message([1]), 10)
    expect(() => bus.sendPeriodic(message([2]), 10)).toThrow(
      /a periodic task for id 0x123 is running already: socketcand keeps one job per id/,
    )
    task.stop()
    bus.sendPeriodic(message([2]), 10).stop()
    expect(() => bus.sendPeriodic(message([1]), 0)).toThrow(RangeError)
  })
})
