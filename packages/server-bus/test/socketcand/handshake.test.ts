// SocketcandBus.connect against a scripted server: the exact handshake python-can and
// socketcand use, the canbridge extension negotiated or refused, and every way it can fail.
import { describe, expect, it } from 'vitest'
import {
  CanInitializationError,
  SocketcandBus,
  type SocketcandBusOptions,
} from '../../src/index.ts'
import { connectBus, startServer, track } from './fixture.ts'

/** What connect() rejects with (a CanInitializationError is expected); fails if it connects. */
async function connectError(options: Partial<SocketcandBusOptions>): Promise<Error> {
  const error = await SocketcandBus.connect({
    host: '127.0.0.1',
    channel: 'vcan0',
    ...options,
  } as SocketcandBusOptions).then(
    (bus) => {
      void bus.shutdown()
      return new Error('connected')
    },
    (e: unknown) => e as Error,
  )
  expect(error).toBeInstanceOf(CanInitializationError)
  return error
}

describe('SocketcandBus handshake', () => {
  it('opens the bus, switches to raw mode and asks for the extension, in that order', async () => {
    const { server, bus } = await connectBus()
    const connection = await server.connection()
    expect(connection.commands).toEqual([
      '< open vcan0 >',
      '< rawmode >',
      '< canbridge-ext 1 rtr fd errdata >',
    ])
    // socketcand answers '< error unknown command >': no extension, nothing else changes
    expect([...bus.features]).toEqual([])
    expect(bus.connected).toBe(true)
    expect(bus.state).toBe('active')
    expect(bus.channel).toBe(`127.0.0.1:${server.port}/vcan0`)
    expect(bus.channelInfo).toBe(`socketcand on vcan0@127.0.0.1:${server.port}`)
    expect(bus.stats().serverErrors).toBe(0)
  })

  it('takes the features a canbridge server enables', async () => {
    const server = await startServer({ extension: '< canbridge-ext 1 rtr fd >' })
    const { bus } = await connectBus({}, server)
    expect([...bus.features].sort()).toEqual(['fd', 'rtr'])
  })

  it('ignores an answer of another extension version', async () => {
    const server = await startServer({ extension: '< canbridge-ext 2 rtr fd >' })
    const { bus } = await connectBus({}, server)
    expect([...bus.features]).toEqual([])
  })

  it('does not ask with extension: false', async () => {
    const { server } = await connectBus({ extension: false })
    expect((await server.connection()).commands).toEqual(['< open vcan0 >', '< rawmode >'])
  })

  it('goes on without the extension when the server stays silent about it', async () => {
    const server = await startServer({ extension: null })
    const started = performance.now()
    const { bus } = await connectBus({ handshakeTimeoutMs: 200 }, server)
    expect(performance.now() - started).toBeGreaterThanOrEqual(190)
    expect([...bus.features]).toEqual([])
    expect(bus.connected).toBe(true)
  })

  it('stays in BCM mode with mode: bcm', async () => {
    const { server, bus } = await connectBus({ mode: 'bcm' })
    expect((await server.connection()).commands).toEqual([
      '< open vcan0 >',
      '< canbridge-ext 1 rtr fd errdata >',
    ])
    expect(bus.mode).toBe('bcm')
  })

  it('reports the server’s refusal of the bus', async () => {
    const server = await startServer({ buses: ['can0'] })
    const error = await connectError({ port: server.port })
    expect(error.message).toBe(
      `cannot use socketcand bus "vcan0": socketcand 127.0.0.1:${server.port} (main): the server refused '< open vcan0 >': could not open bus`,
    )
    expect(server.connections).toHaveLength(1) // a refusal is not retried
  })

  it('refuses a server that does not greet with < hi >', async () => {
    const server = await startServer({ greeting: 'HTTP/1.1 400 Bad Request\r\n' })
    const error = await connectError({ port: server.port })
    expect(error.message).toMatch(/UNEXPECTED_BYTE: byte 0x48 outside/)
    const other = await startServer({ greeting: '< ok >' })
    const second = await connectError({ port: other.port })
    expect(second.message).toMatch(
      /expected '< hi >' first, got a 'ok' message: is this a socketcand server\?/,
    )
  })

  it('gives up on a silent server after handshakeTimeoutMs', async () => {
    const server = await startServer({ greeting: '' })
    const error = await connectError({
      port: server.port,
      handshakeTimeoutMs: 100,
      connectTimeoutMs: 250,
    })
    expect(error.message).toMatch(/no '< hi >' within 100 ms/)
  })

  it('retries a refused TCP connection until connectTimeoutMs, then fails', async () => {
    const server = await startServer()
    const port = server.port
    await server.close()
    const started = performance.now()
    const error = await connectError({
      port,
      connectTimeoutMs: 400,
      reconnect: { initialDelayMs: 50, maxDelayMs: 100 },
    })
    expect(error.message).toMatch(/ECONNREFUSED/)
    expect(performance.now() - started).toBeGreaterThan(250)
  })

  it('connects when the server comes up while connect() is retrying', async () => {
    const probe = await startServer()
    const port = probe.port
    await probe.close()
    const pending = SocketcandBus.connect({
      host: '127.0.0.1',
      port,
      channel: 'vcan0',
      connectTimeoutMs: 3000,
      keepaliveMs: 0,
      reconnect: { initialDelayMs: 20, maxDelayMs: 40 },
    })
    await new Promise((resolve) => setTimeout(resolve, 100))
    const { ScriptedSocketcand } = await import('./scripted-server.ts')
    const late = await ScriptedSocketcand.startOn(port)
    const bus = track(await pending)
    expect(bus.connected).toBe(true)
    expect(bus.stats().main.failedAttempts).toBeGreaterThan(0)
    await late.close()
  })

  it('says what to fix for bad options', async () => {
    const bad = (options: object) =>
      SocketcandBus.connect({ host: '127.0.0.1', channel: 'vcan0', ...options } as never).then(
        () => new Error('connected'),
        (e: unknown) => e as Error,
      )
    expect((await bad({ host: '' })).message).toMatch(/host must be the socketcand server/)
    expect((await bad({ channel: 'can 0' })).message).toMatch(
      /channel must be the server's bus name/,
    )
    expect((await bad({ channel: 'a'.repeat(17) })).message).toMatch(/1\.\.16 printable/)
    expect((await bad({ port: 70000 })).message).toBe(
      'port must be an integer in 1..65535, got 70000',
    )
    expect((await bad({ mode: 'isotp' })).message).toBe(`mode must be 'raw' or 'bcm', got "isotp"`)
    expect((await bad({ keepaliveMs: -1 })).message).toMatch(/keepaliveMs must be an integer/)
    expect((await bad({ reconnect: 'yes' })).message).toMatch(/reconnect must be true, false or/)
    expect((await bad({ reconnect: { initialDelayMs: 500, maxDelayMs: 100 } })).message).toMatch(
      /reconnect.maxDelayMs must be an integer in 500\.\./,
    )
    expect(
      (await bad({ mode: 'bcm', canFilters: [{ canId: 0x100, canMask: 0x700 }] })).message,
    ).toMatch(/in BCM mode each filter subscribes to one id/)
  })
})
