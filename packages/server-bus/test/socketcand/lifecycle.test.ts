// Shutdown, reconnects and keepalive: what a SocketcandBus does when the server goes away,
// comes back, or stops answering; and what it counts, since socketcand cannot count losses.
import { describe, expect, it } from 'vitest'
import { SocketcandBus } from '../../src/index.ts'
import { waitUntil } from '../support/helpers.ts'
import { connectBus, startServer } from './fixture.ts'
import { ScriptedSocketcand } from './scripted-server.ts'

describe('SocketcandBus lifecycle', () => {
  it('shuts down once: pending recv resolves null, iteration ends, the server sees the close', async () => {
    const { server, bus } = await connectBus()
    const connection = await server.connection()
    const pending = bus.recv()
    const iteration = (async () => {
      let count = 0
      for await (const _ of bus) count++
      return count
    })()
    const first = bus.shutdown()
    expect(bus.shutdown()).toBe(first)
    await first
    expect(await pending).toBeNull()
    expect(await iteration).toBe(0)
    await connection.closed
    expect(bus.state).toBe('stopped')
    expect(bus.connected).toBe(false)
    expect(await bus.recv(0)).toBeNull()
  })

  it('shuts down at the end of an await using scope', async () => {
    const server = await startServer()
    let seen: SocketcandBus | undefined
    {
      await using bus = await SocketcandBus.connect({
        host: '127.0.0.1',
        port: server.port,
        channel: 'vcan0',
        keepaliveMs: 0,
      })
      seen = bus
      expect(bus.connected).toBe(true)
    }
    expect(seen.isShutdown).toBe(true)
    await (await server.connection()).closed
  })

  it('reconnects after the server drops it and counts the outage; frames flow again', async () => {
    const { server, bus, logger } = await connectBus({
      reconnect: { initialDelayMs: 50, maxDelayMs: 50 },
    })
    const events: unknown[] = []
    bus.on('disconnected', (e) => events.push(['down', e]))
    bus.on('connected', (e) => events.push(['up', e]))
    const first = await server.connection()
    await first.write('< frame 001 1.000000 01 >')
    expect((await bus.recv(1000))?.arbitrationId).toBe(1)
    first.destroy()
    await waitUntil(() => !bus.connected, 2000, 'the loss')
    expect(bus.state).toBe('stopped')
    const second = await server.connection(2)
    await waitUntil(() => bus.connected, 2000, 'the reconnect')
    expect(await second.waitForCommands(3)).toEqual([
      '< open vcan0 >',
      '< rawmode >',
      '< canbridge-ext 1 rtr fd errdata >',
    ])
    await second.write('< frame 002 2.000000 02 >')
    expect((await bus.recv(1000))?.arbitrationId).toBe(2)
    const stats = bus.stats()
    expect(stats.main.connects).toBe(2)
    expect(stats.main.disconnects).toBe(1)
    expect(stats.main.outageMs).toBeGreaterThanOrEqual(40)
    expect(events).toEqual([
      ['down', { link: 'main', reason: expect.stringMatching(/closed/) }],
      ['up', { link: 'main', features: [] }],
    ])
    expect(logger.at('warn').map((e) => e.message)).toEqual([
      expect.stringMatching(/^socketcand main connection lost: /),
    ])
  })

  it('keeps retrying while the server is away, and resumes when it is back', async () => {
    const server = await startServer()
    const port = server.port
    const { bus } = await connectBus({ reconnect: { initialDelayMs: 20, maxDelayMs: 40 } }, server)
    await server.close()
    await waitUntil(() => !bus.connected, 2000, 'the loss')
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(bus.stats().main.failedAttempts).toBeGreaterThan(1)
    const back = await ScriptedSocketcand.startOn(port)
    try {
      await waitUntil(() => bus.connected, 3000, 'the reconnect')
      expect(await bus.recv(50)).toBeNull()
    } finally {
      await bus.shutdown()
      await back.close()
    }
  })

  it('shuts the bus down on a loss with reconnect: false', async () => {
    const { server, bus } = await connectBus({ reconnect: false })
    const pending = bus.recv()
    ;(await server.connection()).destroy()
    expect(await pending).toBeNull()
    await waitUntil(() => bus.isShutdown, 2000, 'the shutdown')
    expect(server.connections).toHaveLength(1)
  })

  it('sends < echo > and takes a server silent for 3 intervals for dead', async () => {
    const server = await startServer({ echo: false })
    const { bus } = await connectBus(
      { keepaliveMs: 40, reconnect: { initialDelayMs: 5000, maxDelayMs: 5000 } },
      server,
    )
    const reasons: string[] = []
    bus.on('disconnected', (e) => reasons.push(e.reason))
    await waitUntil(() => reasons.length > 0, 2000, 'the keepalive verdict')
    expect(reasons[0]).toMatch(/the server was silent for \d+ ms \(no answer to '< echo >'\)/)
    expect(
      (await server.connection()).received.filter((m) => m === '< echo >').length,
    ).toBeGreaterThanOrEqual(2)
  })

  it('stays up while the server answers its echoes', async () => {
    const { bus } = await connectBus({ keepaliveMs: 30 })
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(bus.connected).toBe(true)
    expect(bus.stats().main.disconnects).toBe(0)
  })
})
