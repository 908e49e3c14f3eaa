// A server that breaks the protocol: the connection is closed with the codec's reason in the
// log and the event, the bus reconnects and goes on; nothing hangs, memory stays bounded.
import { describe, expect, it } from 'vitest'
import { waitUntil } from '../support/helpers.ts'
import { connectBus } from './fixture.ts'

const RECONNECT = { reconnect: { initialDelayMs: 20, maxDelayMs: 40 } }

describe('SocketcandBus on malformed server input', () => {
  it.each([
    ['a bad frame', '< frame 12G 1.000000 00 >', /BAD_ID: id '12G' is not 1\.\.8 hex digits/],
    ['bytes outside a message', 'garbage', /UNEXPECTED_BYTE: byte 0x67 outside/],
    ['a control byte inside', '< frame 123 1.000000 \u0007 >', /BAD_CHARACTER/],
    [
      'an endless message',
      `< frame 123 1.000000 ${'0'.repeat(9000)}`,
      /MESSAGE_TOO_LONG: message longer than 8290 bytes/,
    ],
  ])('closes on %s, says why, and reconnects', async (_name, input, reason) => {
    const { server, bus, logger } = await connectBus(RECONNECT)
    const reasons: string[] = []
    bus.on('disconnected', (e) => reasons.push(e.reason))
    const first = await server.connection()
    await first.write(`< frame 001 1.000000 01 >${input}`)
    await first.closed
    expect(reasons).toHaveLength(1)
    expect(reasons[0]).toMatch(reason)
    expect(logger.at('warn')[0]?.message).toMatch(reason)
    // the good frame before the bad input was delivered
    expect((await bus.recv(1000))?.arbitrationId).toBe(1)
    const second = await server.connection(2)
    await waitUntil(() => bus.connected, 2000, 'the reconnect')
    await second.write('< frame 002 1.000000 02 >')
    expect((await bus.recv(1000))?.arbitrationId).toBe(2)
  })

  it('closes on a message split across writes whose second half is malformed', async () => {
    const { server, bus } = await connectBus(RECONNECT)
    const reasons: string[] = []
    bus.on('disconnected', (e) => reasons.push(e.reason))
    const first = await server.connection()
    await first.trickle('< frame 123 1.0000')
    await first.write('00 zz >')
    await first.closed
    expect(reasons[0]).toMatch(/BAD_DATA: data 'zz' is not hex/)
  })
})
