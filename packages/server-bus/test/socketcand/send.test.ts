// What SocketcandBus writes for each send, as socketcand's doc spells it; the extension's
// remote and FD sends only when the server enabled them; every failure with its reason.
import { describe, expect, it } from 'vitest'
import { CanMessage, CanOperationError } from '../../src/index.ts'
import { connectBus, startServer } from './fixture.ts'

const HANDSHAKE = ['< open vcan0 >', '< rawmode >', '< canbridge-ext 1 rtr fd errdata >']

async function failure(promise: Promise<unknown>): Promise<CanOperationError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(CanOperationError)
  return error as CanOperationError
}

describe('SocketcandBus send', () => {
  it('writes < send ID DLC B* > with 3- and 8-digit ids', async () => {
    const { server, bus } = await connectBus()
    const connection = await server.connection()
    await bus.send(
      new CanMessage({ arbitrationId: 0x7df, isExtendedId: false, data: [2, 1, 0x0c] }),
    )
    await bus.send(new CanMessage({ arbitrationId: 0x1aaaaaaa, data: [0x01, 0xf1] }))
    await bus.send(new CanMessage({ arbitrationId: 0x5, isExtendedId: false }))
    await bus.send(
      new CanMessage({ arbitrationId: 0x123, isExtendedId: true, data: [1, 2, 3, 4, 5, 6, 7, 8] }),
    )
    expect(await connection.waitForCommands(7)).toEqual([
      ...HANDSHAKE,
      '< send 7DF 3 02 01 0C >',
      '< send 1AAAAAAA 2 01 F1 >',
      '< send 005 0 >',
      '< send 00000123 8 01 02 03 04 05 06 07 08 >',
    ])
    expect(bus.stats().framesSent).toBe(4)
  })

  it('refuses remote and FD frames when the server has no extension, writing nothing', async () => {
    const { server, bus } = await connectBus()
    const connection = await server.connection()
    const rtr = await failure(
      bus.send(
        new CanMessage({ arbitrationId: 0x123, isExtendedId: false, isRemoteFrame: true, dlc: 2 }),
      ),
    )
    expect(rtr.reason).toBe('not-allowed')
    expect(rtr.message).toMatch(
      /cannot send remote frames: socketcand's protocol has no such command; a canbridge edge has \(extension 'rtr'\)/,
    )
    const fd = await failure(
      bus.send(new CanMessage({ arbitrationId: 0x123, isFd: true, data: new Uint8Array(12) })),
    )
    expect(fd.reason).toBe('not-allowed')
    expect(fd.message).toMatch(/cannot send CAN FD frames/)
    await bus.send(new CanMessage({ arbitrationId: 0x1, isExtendedId: false }))
    expect(await connection.waitForCommands(4)).toEqual([...HANDSHAKE, '< send 001 0 >'])
    expect(bus.stats().sendFailures).toBe(2)
  })

  it('sends remote and FD frames with the extension', async () => {
    const server = await startServer({ extension: '< canbridge-ext 1 rtr fd >' })
    const { bus } = await connectBus({}, server)
    const connection = await server.connection()
    await bus.send(
      new CanMessage({ arbitrationId: 0x123, isExtendedId: false, isRemoteFrame: true, dlc: 4 }),
    )
    await bus.send(
      new CanMessage({
        arbitrationId: 0x18daf110,
        isFd: true,
        bitrateSwitch: true,
        data: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
      }),
    )
    await bus.send(
      new CanMessage({
        arbitrationId: 0x7ff,
        isExtendedId: false,
        isFd: true,
        errorStateIndicator: true,
        data: [0xaa],
      }),
    )
    expect((await connection.waitForCommands(6)).slice(3)).toEqual([
      '< sendrtr 123 4 >',
      '< fdsend 18DAF110 01 12 00 01 02 03 04 05 06 07 08 09 0A 0B >',
      '< fdsend 7FF 02 1 AA >',
    ])
  })

  it('refuses error frames and foreign channels', async () => {
    const { bus, server } = await connectBus()
    const error = await failure(
      bus.send(new CanMessage({ arbitrationId: 0x4, isErrorFrame: true, data: new Uint8Array(8) })),
    )
    expect(error.reason).toBe('invalid-frame')
    await expect(bus.send(new CanMessage({ arbitrationId: 1, channel: 'can1' }))).rejects.toThrow(
      `channel "can1" is not this bus's ("127.0.0.1:${server.port}/vcan0" or "vcan0")`,
    )
    await bus.send(new CanMessage({ arbitrationId: 1, channel: 'vcan0' }))
    await bus.send(new CanMessage({ arbitrationId: 1 }), {
      channel: `127.0.0.1:${server.port}/vcan0`,
    })
    await expect(bus.send({ arbitrationId: 1 } as unknown as CanMessage)).rejects.toThrow(TypeError)
    await expect(bus.send(new CanMessage({ arbitrationId: 1 }), { timeoutMs: 0 })).rejects.toThrow(
      RangeError,
    )
  })

  it('fails with not-connected during an outage and shutdown after shutdown', async () => {
    const { bus, server } = await connectBus({
      reconnect: { initialDelayMs: 5000, maxDelayMs: 5000 },
    })
    ;(await server.connection()).destroy()
    await new Promise((resolve) => setTimeout(resolve, 50))
    const error = await failure(bus.send(new CanMessage({ arbitrationId: 1 })))
    expect(error.reason).toBe('not-connected')
    expect(error.message).toMatch(/no connection to the socketcand server/)
    await bus.shutdown()
    expect((await failure(bus.send(new CanMessage({ arbitrationId: 1 })))).reason).toBe('shutdown')
  })

  it('reports a server’s < error > answer as a serverError event', async () => {
    const { bus, server } = await connectBus()
    const connection = await server.connection()
    const events: unknown[] = []
    bus.on('serverError', (event) => events.push(event))
    await connection.write('< error unknown command >')
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(events).toEqual([{ link: 'main', text: 'unknown command' }])
    expect(bus.stats().serverErrors).toBe(1)
    expect(bus.connected).toBe(true)
  })

  it('delivers its own frames with receiveOwnMessages, after writing them', async () => {
    const { bus } = await connectBus({ receiveOwnMessages: true })
    const before = Date.now() / 1000
    await bus.send(new CanMessage({ arbitrationId: 0x42, isExtendedId: false, data: [7] }))
    const own = await bus.recv(1000)
    expect(own?.arbitrationId).toBe(0x42)
    expect(own?.isRx).toBe(false)
    expect([...(own?.data ?? [])]).toEqual([7])
    expect(own!.timestamp).toBeGreaterThanOrEqual(before - 0.001)
    const { bus: quiet } = await connectBus()
    await quiet.send(new CanMessage({ arbitrationId: 0x42, isExtendedId: false }))
    expect(await quiet.recv(50)).toBeNull()
  })
})
