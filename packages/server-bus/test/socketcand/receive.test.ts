// Frames from a scripted socketcand server, written as literal strings: every field lands in
// the CanMessage, in any TCP segmentation; recv with and without timeouts, iteration, batches.
import { describe, expect, it } from 'vitest'
import type { CanMessage } from '../../src/index.ts'
import { connectBus, startServer } from './fixture.ts'

function plain(message: CanMessage | null) {
  if (message === null) return null
  return {
    id: message.arbitrationId,
    ext: message.isExtendedId,
    dlc: message.dlc,
    data: [...message.data],
    ns: message.timestampNs,
    rtr: message.isRemoteFrame,
    err: message.isErrorFrame,
    fd: message.isFd,
    brs: message.bitrateSwitch,
    esi: message.errorStateIndicator,
    rx: message.isRx,
  }
}

const base = { rtr: false, err: false, fd: false, brs: false, esi: false, rx: true }

describe('SocketcandBus receive', () => {
  it('delivers raw-mode frames with their id kind, data and exact timestamp', async () => {
    const { server, bus } = await connectBus()
    const connection = await server.connection()
    await connection.write(
      '< frame 123 23.424242 11223344 >< frame 1AAAAAAA 1700000000.000001 01F1 >' +
        '< frame 00000123 5.000000 FF >< frame 7FF 0.000000  >',
    )
    expect(plain(await bus.recv(1000))).toEqual({
      ...base,
      id: 0x123,
      ext: false,
      dlc: 4,
      data: [0x11, 0x22, 0x33, 0x44],
      ns: 23_424_242_000n,
    })
    const second = await bus.recv(1000)
    expect(plain(second)).toEqual({
      ...base,
      id: 0x1aaaaaaa,
      ext: true,
      dlc: 2,
      data: [0x01, 0xf1],
      ns: 1_700_000_000_000_001_000n,
    })
    expect(second?.timestamp).toBeCloseTo(1_700_000_000.000001, 6)
    expect(second?.channel).toBe(`127.0.0.1:${server.port}/vcan0`)
    expect(plain(await bus.recv(1000))).toMatchObject({ id: 0x123, ext: true, data: [0xff] })
    expect(plain(await bus.recv(1000))).toMatchObject({ id: 0x7ff, ext: false, dlc: 0, data: [] })
    expect(bus.stats()).toMatchObject({ framesIn: 4, framesDelivered: 4, framesFiltered: 0 })
  })

  it('reads BCM-style data, error frames and the extension’s remote and FD frames', async () => {
    const { server, bus } = await connectBus()
    const connection = await server.connection()
    await connection.write(
      '< frame 123 1.000000 11 22 33  >< error 004 2.000001 >' +
        '< error 20000004 3.000000 00 08 00 00 00 00 00 00  >< rtr 456 4.000000 8 >' +
        '< fdframe 18DAF110 03 5.000000 000102030405060708090A0B >',
    )
    expect(plain(await bus.recv(1000))).toMatchObject({ id: 0x123, data: [0x11, 0x22, 0x33] })
    expect(plain(await bus.recv(1000))).toEqual({
      ...base,
      id: 0x004,
      ext: false,
      dlc: 0,
      data: [],
      ns: 2_000_001_000n,
      err: true,
    })
    expect(plain(await bus.recv(1000))).toMatchObject({
      id: 0x004,
      err: true,
      dlc: 8,
      data: [0, 8, 0, 0, 0, 0, 0, 0],
    })
    expect(plain(await bus.recv(1000))).toEqual({
      ...base,
      id: 0x456,
      ext: false,
      dlc: 8,
      data: [],
      ns: 4_000_000_000n,
      rtr: true,
    })
    expect(plain(await bus.recv(1000))).toEqual({
      ...base,
      id: 0x18daf110,
      ext: true,
      dlc: 12,
      data: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
      ns: 5_000_000_000n,
      fd: true,
      brs: true,
      esi: true,
    })
  })

  it('reassembles messages split anywhere across TCP writes', async () => {
    const { server, bus } = await connectBus()
    const connection = await server.connection()
    const stream = '< frame 123 1.000001 DEADBEEF >\n< frame 1AAAAAAA 1.000002 00 >'
    await connection.trickle(stream)
    expect(plain(await bus.recv(2000))).toMatchObject({
      id: 0x123,
      data: [0xde, 0xad, 0xbe, 0xef],
      ns: 1_000_001_000n,
    })
    expect(plain(await bus.recv(2000))).toMatchObject({
      id: 0x1aaaaaaa,
      ext: true,
      data: [0],
      ns: 1_000_002_000n,
    })
    // and cut in two at every offset
    for (let cut = 1; cut < stream.length; cut++) {
      await connection.write(stream.slice(0, cut))
      await new Promise((resolve) => setTimeout(resolve, 1))
      await connection.write(stream.slice(cut))
      const first = await bus.recv(1000)
      const second = await bus.recv(1000)
      expect([first?.arbitrationId, second?.arbitrationId], `cut at ${cut}`).toEqual([
        0x123, 0x1aaaaaaa,
      ])
    }
  })

  it('recv times out with null, polls with 0 and waits without a timeout', async () => {
    const { server, bus } = await connectBus()
    const connection = await server.connection()
    const started = performance.now()
    expect(await bus.recv(100)).toBeNull()
    expect(performance.now() - started).toBeGreaterThanOrEqual(95)
    expect(await bus.recv(0)).toBeNull()
    const waiting = bus.recv()
    setTimeout(() => void connection.write('< frame 321 9.000000 AA >'), 50)
    expect((await waiting)?.arbitrationId).toBe(0x321)
  })

  it('iterates with for await and in batches', async () => {
    const { server, bus } = await connectBus()
    const connection = await server.connection()
    let stream = ''
    for (let i = 0; i < 1000; i++) {
      stream += `< frame ${i.toString(16).toUpperCase().padStart(3, '0')} 1.${String(i).padStart(6, '0')} ${(i & 0xff).toString(16).toUpperCase().padStart(2, '0')} >`
    }
    await connection.write(stream)
    const ids: number[] = []
    for await (const message of bus) {
      ids.push(message.arbitrationId)
      if (ids.length === 500) break
    }
    for await (const batch of bus.batches({ maxFrames: 64 })) {
      expect(batch.length).toBeLessThanOrEqual(64)
      for (const message of batch) ids.push(message.arbitrationId)
      if (ids.length === 1000) break
    }
    expect(ids).toEqual(Array.from({ length: 1000 }, (_, i) => i))
  })

  it('pauses reading when the receive queue is full and resumes as it drains', async () => {
    const { server, bus } = await connectBus({ receiveQueueFrames: 100 })
    const connection = await server.connection()
    let stream = ''
    for (let i = 0; i < 5000; i++)
      stream += `< frame 123 1.000000 ${String(i % 100).padStart(2, '0')} >`
    await connection.write(stream)
    await new Promise((resolve) => setTimeout(resolve, 100))
    const stats = bus.stats()
    expect(stats.receiveQueue.paused).toBe(true)
    expect(stats.framesIn).toBeLessThan(5000)
    let received = 0
    while (received < 5000) {
      const batch = await bus.recvBatch({ timeoutMs: 2000 })
      if (batch.length === 0) break
      received += batch.length
    }
    expect(received).toBe(5000)
    expect(bus.stats().receiveQueue.paused).toBe(false)
  })

  it('ignores and counts a stat report and messages of other servers', async () => {
    const server = await startServer()
    const { bus } = await connectBus({}, server)
    const connection = await server.connection()
    await connection.write('< stat 1 2 3 4 >< pdu 1.000000 0011 >< ok >< frame 123 1.000000 01 >')
    expect((await bus.recv(1000))?.arbitrationId).toBe(0x123)
    expect(bus.stats().ignoredMessages).toBe(3)
    expect(bus.connected).toBe(true)
  })
})
