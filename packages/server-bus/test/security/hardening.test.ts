// What a hostile or broken peer can cost the server: refused addresses never get a byte,
// handshakes and edges are bounded in number, a stranger's message in size, and an edge that
// stops reading is disconnected before the bytes queued for it grow without bound.
import { connect, type Socket } from 'node:net'
import { MESSAGE_TYPE } from '@canbridge/protocol'
import { preambleBytes } from '@canbridge/protocol/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { type TCPBus, TCPBus as TCPBusClass } from '../../src/index.ts'
import { ScriptedEdge, sequenceFrame } from '../../src/testing/scripted-edge.ts'
import {
  BUS_MODES,
  type CapturingLogger,
  listen,
  sleep,
  useBusMode,
  waitUntil,
  withMode,
} from '../support/helpers.ts'

let bus: TCPBus | undefined
let logger: CapturingLogger
const sockets: Socket[] = []
const edges: ScriptedEdge[] = []

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy()
  for (const edge of edges.splice(0)) edge.destroy()
  await bus?.shutdown()
  bus = undefined
})

/** A raw connection that sends nothing (unless told to); resolves when connected. */
function stalled(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const address = bus!.address as { port: number }
    const socket = connect({ port: address.port, host: '127.0.0.1' })
    sockets.push(socket)
    socket.on('error', () => {})
    // reading, so that the server's FIN is seen and the socket closes
    socket.resume()
    socket.once('connect', () => resolve(socket))
    socket.once('error', reject)
  })
}

function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    socket.once('close', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

/** A message header alone (PROTOCOL.md §3): type, flags 0, reserved 0, u32 body length. */
function headerOnly(type: number, length: number): Buffer {
  const header = Buffer.alloc(8)
  header[0] = type
  header.writeUInt32LE(length, 4)
  return header
}

async function edge(edgeId: string): Promise<ScriptedEdge> {
  const e = await ScriptedEdge.connect(bus!.address, { edgeId })
  edges.push(e)
  return e
}

describe.each(BUS_MODES)('server hardening ($mode)', (mode) => {
  useBusMode(mode)
  it('allowedPeers: an address outside the list is closed before it gets a byte', async () => {
    ;({ bus, logger } = await listen({ allowedPeers: ['10.0.0.0/8', 'fd00::/8'] }))
    const socket = await stalled()
    const received: Buffer[] = []
    socket.on('data', (chunk: Buffer) => received.push(chunk))
    expect(await closedWithin(socket, 1000)).toBe(true)
    expect(received).toEqual([])
    expect(bus.stats().refused['PEER_NOT_ALLOWED']).toBe(1)
    expect(logger.at('warn')[0]?.message).toMatch(
      /refused connection from 127\.0\.0\.1:\d+: address not in allowedPeers/,
    )
  })

  it('allowedPeers: loopback in the list may connect, and bad entries are refused at listen', async () => {
    ;({ bus, logger } = await listen({ allowedPeers: ['127.0.0.0/8'] }))
    const e = await edge('pi-a')
    await e.handshake()
    for (const bad of [['10.0.0.0/33'], ['pi.local'], ['1.2.3.4/8/1'], []]) {
      await expect(TCPBusClass.listen(withMode({ port: 0, allowedPeers: bad }))).rejects.toThrow(
        /allowedPeers/,
      )
    }
  })

  it('maxHandshakes: one stalled connection too many is closed at once; edges still get in after', async () => {
    ;({ bus, logger } = await listen({ maxHandshakes: 3, handshakeTimeoutMs: 60_000 }))
    const held = [await stalled(), await stalled(), await stalled()]
    await waitUntil(() => bus!.stats().handshaking === 3)
    const extra = await stalled()
    expect(await closedWithin(extra, 1000)).toBe(true)
    expect(bus.stats().refused['TOO_MANY_HANDSHAKES']).toBe(1)
    for (const socket of held) expect(socket.destroyed).toBe(false)
    // the stalled ones leave: room again
    for (const socket of held) socket.destroy()
    await waitUntil(() => bus!.stats().handshaking === 0)
    const e = await edge('pi-a')
    await e.handshake()
    expect(bus.stats().handshaking).toBe(0)
  })

  it('maxHandshakesPerAddress: one address cannot take every handshake slot', async () => {
    ;({ bus, logger } = await listen({
      maxHandshakes: 10,
      maxHandshakesPerAddress: 2,
      handshakeTimeoutMs: 60_000,
    }))
    const held = [await stalled(), await stalled()]
    await waitUntil(() => bus!.stats().handshaking === 2)
    const extra = await stalled()
    expect(await closedWithin(extra, 1000)).toBe(true)
    expect(bus.stats().refused['TOO_MANY_HANDSHAKES_FROM_ADDRESS']).toBe(1)
    expect(logger.at('warn').at(-1)?.message).toMatch(
      /2 connections from 127\.0\.0\.1 are already in their handshake \(maxHandshakesPerAddress\)/,
    )
    // one finishes its handshake (an edge): its slot is free for the next
    held[0]!.destroy()
    await waitUntil(() => bus!.stats().handshaking === 1)
    const e = await edge('pi-a')
    await e.handshake()
    const next = await stalled()
    expect(await closedWithin(next, 300)).toBe(false)
  })

  it('maxEdges: one edge too many gets ERROR TOO_MANY_EDGES; a known edge may still reconnect', async () => {
    ;({ bus, logger } = await listen({ maxEdges: 2 }))
    await (await edge('pi-a')).handshake()
    const b = await edge('pi-b')
    await b.handshake()
    const c = await edge('pi-c')
    c.sendPreamble()
    c.sendHello()
    const error = await c.waitFor('ERROR')
    expect(error).toMatchObject({ code: 'TOO_MANY_EDGES', fatal: true })
    expect(error.message).toMatch(/2 edges are connected already \(maxEdges\)/)
    // pi-b comes back on a new connection: it replaces its old one, within the limit
    const b2 = await edge('pi-b')
    await b2.handshake()
    expect(bus.edges.map((e) => e.edgeId).sort()).toEqual(['pi-a', 'pi-b'])
  })

  it('before its handshake a peer may send 64 KiB at most; after it the full limit holds', async () => {
    ;({ bus, logger } = await listen())
    const stranger = await stalled()
    stranger.write(Buffer.concat([preambleBytes(1), headerOnly(MESSAGE_TYPE.HELLO, 65_537)]))
    expect(await closedWithin(stranger, 1000)).toBe(true)
    expect(bus.stats().refused['MESSAGE_TOO_LARGE']).toBe(1)
    const e = await edge('pi-a')
    await e.handshake()
    // a 100 kB batch: 4096 frames of 8 bytes (14 + 8 each) + 12 = 90 kB
    const frames = Array.from({ length: 4096 }, (_, i) => sequenceFrame(i))
    e.sendFrames(0, 0, frames)
    await waitUntil(() => bus!.stats().receiveQueue.frames === 4096)
    expect(e.socket.destroyed).toBe(false)
  })

  it('an edge that stops reading is disconnected once maxQueuedBytes are waiting for it', async () => {
    ;({ bus, logger } = await listen({ maxQueuedBytes: 65_536 }))
    const e = await edge('pi-a')
    await e.handshake()
    e.socket.pause()
    // 512 filters make a SET_FILTERS of about 17 kB, sent to the edge each time
    const filters = Array.from({ length: 512 }, (_, i) => ({ canId: i, canMask: 0x7ff }))
    for (let i = 0; i < 2000 && bus.edges.length > 0; i++) {
      bus.setFilters(filters)
      if (i % 50 === 49) await sleep(1)
    }
    await waitUntil(() => bus!.edges.length === 0, 5000, 'the slow edge to be closed')
    const warning = logger.at('warn').find((entry) => entry.fields['code'] === 'SLOW_PEER')
    expect(warning?.message).toMatch(/bytes queued for an edge that does not read \(limit 65536\)/)
  })

  it('refuses limits out of range', async () => {
    await expect(TCPBusClass.listen(withMode({ port: 0, maxEdges: 0 }))).rejects.toThrow(
      /maxEdges must be an integer in 1\.\.65535/,
    )
    await expect(TCPBusClass.listen(withMode({ port: 0, maxHandshakes: 1.5 }))).rejects.toThrow(
      /maxHandshakes/,
    )
    await expect(TCPBusClass.listen(withMode({ port: 0, maxQueuedBytes: 1000 }))).rejects.toThrow(
      /maxQueuedBytes must be an integer in 65536\.\./,
    )
  })
})
