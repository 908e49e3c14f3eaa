// readIntoBuffer over real loopback TCP: every read lands in the one buffer, pause() stops the
// reads (the peer's writes back up), and the connection ends and closes as a socket's does.
import { once } from 'node:events'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { READ_BUFFER_BYTES, readIntoBuffer } from './read-buffer-socket.ts'

let server: Server | undefined
const peers: Socket[] = []

afterEach(async () => {
  for (const peer of peers.splice(0)) peer.destroy()
  if (server?.listening) await new Promise((resolve) => server?.close(resolve))
  server = undefined
})

/** A server adopting each connection into `buffer`; resolves with the first, and its peer. */
async function adoptedPair(buffer: Buffer): Promise<{ socket: Socket; peer: Socket }> {
  const accepted = new Promise<Socket>((resolve) => {
    server = createServer({ pauseOnConnect: true }, (raw) => resolve(readIntoBuffer(raw, buffer)))
  })
  server!.listen(0, '127.0.0.1')
  await once(server!, 'listening')
  const { port } = server!.address() as { port: number }
  const peer = connect({ port, host: '127.0.0.1' })
  peers.push(peer)
  await once(peer, 'connect')
  return { socket: await accepted, peer }
}

describe('readIntoBuffer', () => {
  it('delivers every byte, each read a view of the one buffer', async () => {
    const buffer = Buffer.alloc(READ_BUFFER_BYTES)
    const { socket, peer } = await adoptedPair(buffer)
    const sent = Buffer.alloc(1_000_000)
    for (let i = 0; i < sent.length; i++) sent[i] = (i * 7) & 0xff
    const received: Buffer[] = []
    const views = new Set<ArrayBufferLike>()
    socket.on('data', (chunk: Buffer) => {
      views.add(chunk.buffer)
      // a copy: the view is overwritten by the next read
      received.push(Buffer.from(chunk))
    })
    peer.end(sent)
    await once(socket, 'end')
    expect(Buffer.concat(received).equals(sent)).toBe(true)
    expect([...views]).toEqual([buffer.buffer])
    socket.end()
    await once(socket, 'close')
  })

  it('pause() stops reading until resume(): the peer is pushed back', async () => {
    const { socket, peer } = await adoptedPair(Buffer.alloc(READ_BUFFER_BYTES))
    let received = 0
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length
      socket.pause()
    })
    // far more than the kernel's socket buffers hold: the peer's writes must back up
    const block = Buffer.alloc(1 << 20)
    let written = 0
    while (peer.write(block)) written += block.length
    written += block.length
    await once(socket, 'data')
    await new Promise((resolve) => setTimeout(resolve, 100))
    const whilePaused = received
    expect(whilePaused).toBeLessThanOrEqual(READ_BUFFER_BYTES)
    expect(peer.writableLength).toBeGreaterThan(0)
    socket.removeAllListeners('data')
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length
    })
    socket.resume()
    while (received < written) await once(socket, 'data')
    expect(received).toBe(written)
  })

  it('the accepted socket is no longer counted by its server', async () => {
    const { socket } = await adoptedPair(Buffer.alloc(READ_BUFFER_BYTES))
    const connections = await new Promise<number>((resolve, reject) =>
      server!.getConnections((error, count) => (error ? reject(error) : resolve(count))),
    )
    expect(connections).toBe(0)
    expect(socket.remoteAddress).toBe('127.0.0.1')
    socket.destroy()
  })

  it('refuses a socket without a handle', async () => {
    const { socket } = await adoptedPair(Buffer.alloc(READ_BUFFER_BYTES))
    socket.destroy()
    await once(socket, 'close')
    expect(() => readIntoBuffer(socket, Buffer.alloc(16))).toThrow(/has no handle/)
  })
})
