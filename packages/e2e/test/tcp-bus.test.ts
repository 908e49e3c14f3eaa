// End to end with the real workstation side: the daemon (virtual backend) into TCPBus.

import { type EdgeProcess, startEdge } from '@canbridge/edge-client/testing'
import { CanMessage, TCPBus } from '@canbridge/server-bus'
import { afterEach, describe, expect, it } from 'vitest'

const cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const quiet = { debug() {}, info() {}, warn() {}, error() {} }

describe('edge → TCPBus end to end', () => {
  it('delivers every frame in order, sends back, and echoes own messages', async () => {
    const bus = await TCPBus.listen({
      port: 0,
      host: '127.0.0.1',
      receiveOwnMessages: true,
      logger: quiet,
    })
    cleanups.push(() => bus.shutdown())
    const address = bus.address as { port: number }
    const edge: EdgeProcess = await startEdge([
      '--server',
      `127.0.0.1:${address.port}`,
      '--edge-id',
      'e2e',
      '--channel',
      'virtual:a?rate=20000&count=5000',
    ])
    cleanups.push(() => edge.stop('SIGKILL'))
    await bus.waitForEdge({ edgeId: 'e2e', timeoutMs: 10_000 })
    const got: CanMessage[] = []
    while (got.length < 5000) {
      const batch = await bus.recvBatch({ maxFrames: 1024, timeoutMs: 5000 })
      if (batch.length === 0) break
      got.push(...batch)
    }
    expect(got.length).toBe(5000)
    got.forEach((message, n) => {
      expect(message.channel).toBe('e2e/virtual:a')
      const d = message.data
      if ((d[0]! | (d[1]! << 8) | (d[2]! << 16)) !== n)
        expect({ n, first: [...d.subarray(0, 3)] }).toBe(n)
    })
    expect(got[17]!.arbitrationId).toBe(0x100 + 1)
    expect(got[0]!.isExtendedId).toBe(false)
    expect(bus.channels).toEqual(['e2e/virtual:a'])

    await bus.send(
      new CanMessage({
        arbitrationId: 0x321,
        isExtendedId: false,
        data: [1, 2, 3],
        channel: 'e2e/virtual:a',
      }),
    )
    const echo = await bus.recv(5000)
    expect(echo).not.toBeNull()
    expect(echo!.arbitrationId).toBe(0x321)
    expect(echo!.isRx).toBe(false)
    expect([...echo!.data]).toEqual([1, 2, 3])
    expect(await edge.stop()).toBe(0)
  })
})
