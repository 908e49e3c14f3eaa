// Filters: applied locally with python-can's rule in raw mode; in BCM mode they become the
// server's subscriptions (one exact id each), updated when they change and after reconnects.
import { describe, expect, it } from 'vitest'
import { connectBus } from './fixture.ts'

describe('SocketcandBus filters', () => {
  it('applies python-can’s rule locally in raw mode, counting what it drops', async () => {
    const { server, bus } = await connectBus({
      canFilters: [{ canId: 0x120, canMask: 0x7f0, extended: false }],
    })
    const connection = await server.connection()
    await connection.write(
      '< frame 121 1.000000 01 >< frame 131 1.000000 02 >< frame 00000121 1.000000 03 >< frame 12F 1.000000 04 >',
    )
    expect((await bus.recv(1000))?.data[0]).toBe(1)
    expect((await bus.recv(1000))?.data[0]).toBe(4)
    expect(await bus.recv(50)).toBeNull()
    expect(bus.stats().framesFiltered).toBe(2)
    bus.setFilters(null)
    await connection.write('< frame 131 1.000000 05 >')
    expect((await bus.recv(1000))?.data[0]).toBe(5)
    // raw mode never tells the server
    expect(connection.commands.some((c) => c.includes('subscribe'))).toBe(false)
  })

  it('subscribes to exact ids in BCM mode and follows changes', async () => {
    const { server, bus } = await connectBus({
      mode: 'bcm',
      canFilters: [
        { canId: 0x123, canMask: 0x7ff, extended: false },
        { canId: 0x18daf110, canMask: 0x1fffffff, extended: true },
      ],
    })
    const connection = await server.connection()
    expect(await connection.waitForCommands(4)).toEqual([
      '< open vcan0 >',
      '< canbridge-ext 1 rtr fd errdata >',
      '< subscribe 0 0 123 >',
      '< subscribe 0 0 18DAF110 >',
    ])
    bus.setFilters([
      { canId: 0x123, canMask: 0x7ff, extended: false },
      { canId: 0x456, canMask: 0x7ff, extended: false },
    ])
    expect((await connection.waitForCommands(6)).slice(4)).toEqual([
      '< unsubscribe 18DAF110 >',
      '< subscribe 0 0 456 >',
    ])
    bus.setFilters(null)
    expect((await connection.waitForCommands(8)).slice(6)).toEqual([
      '< unsubscribe 123 >',
      '< unsubscribe 456 >',
    ])
  })

  it('refuses a mask filter in BCM mode and keeps the filters it had', async () => {
    const { server, bus } = await connectBus({
      mode: 'bcm',
      canFilters: [{ canId: 0x1, canMask: 0x7ff, extended: false }],
    })
    expect(() => bus.setFilters([{ canId: 0x100, canMask: 0x700, extended: false }])).toThrow(
      "filters[0]: in BCM mode each filter subscribes to one id, so it needs 'extended' and canMask 0x7ff (use mode 'raw' for masks)",
    )
    expect(() => bus.setFilters([{ canId: 0x100, canMask: 0x7ff }])).toThrow(/needs 'extended'/)
    expect(bus.filters).toEqual([{ canId: 0x1, canMask: 0x7ff, extended: false }])
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect((await server.connection()).commands.filter((c) => c.includes('subscribe'))).toEqual([
      '< subscribe 0 0 001 >',
    ])
  })

  it('subscribes again after a reconnect', async () => {
    const { server, bus } = await connectBus({
      mode: 'bcm',
      canFilters: [{ canId: 0x123, canMask: 0x7ff, extended: false }],
      reconnect: { initialDelayMs: 20, maxDelayMs: 40 },
    })
    const first = await server.connection()
    await first.waitForCommands(3)
    first.destroy()
    const second = await server.connection(2)
    expect(await second.waitForCommands(3)).toEqual([
      '< open vcan0 >',
      '< canbridge-ext 1 rtr fd errdata >',
      '< subscribe 0 0 123 >',
    ])
    expect(bus.connected).toBe(true)
  })
})
