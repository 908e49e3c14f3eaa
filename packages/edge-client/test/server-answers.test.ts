// A server that is not (yet) canbridge is reported as what answered, not as "unreachable":
// the link in this process against raw TCP servers (silent, another protocol, binary, TLS),
// and the daemon's log line for one of them.
import { createServer, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer } from 'node:tls'
import { describe, expect, it } from 'vitest'
import { ServerLink } from '../src/link/connection.ts'
import type { LinkProblemKind } from '../src/link/security/link-handshake.ts'
import { PLAIN_LINK } from '../src/link/security/link-security.ts'
import { pem } from '../src/testing/certificates.ts'
import {
  cleanUpAfterEach,
  onCleanup,
  pkiForThisFile,
  runEdge,
  TEST_HELLO,
} from './helpers/secure-link.ts'

cleanUpAfterEach()
const f = pkiForThisFile()

/** A TCP server on loopback that does `onConnection` with each client; resolves its port. */
async function rawServer(
  onConnection: (socket: Socket) => void,
  server?: Server,
): Promise<{ port: number; close: () => Promise<void> }> {
  const s = server ?? createServer(onConnection)
  const sockets = new Set<Socket>()
  s.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy()
      if (s.listening) s.close(() => resolve())
      else resolve()
    })
  onCleanup(close)
  return { port: (s.address() as { port: number }).port, close }
}

function connectLink(
  port: number,
  handshakeTimeoutMs = 5000,
): Promise<{ reason: string; kind: LinkProblemKind }> {
  return new Promise((resolve) => {
    const link = new ServerLink(
      { kind: 'tcp', host: '127.0.0.1', port },
      TEST_HELLO,
      {
        onWelcome: () => {},
        onMessage: () => {},
        onDrain: () => {},
        onClose: (reason, _welcomed, kind) => resolve({ reason, kind }),
      },
      { handshakeTimeoutMs, keepAliveMs: 10_000, security: PLAIN_LINK },
    )
    onCleanup(() => link.destroy('test over'))
  })
}

describe('what answered, when it was not a canbridge server', () => {
  it('a server that accepts and says nothing: silent, not unreachable', async () => {
    const { port } = await rawServer(() => {})
    const { reason, kind } = await connectLink(port, 300)
    expect(kind).toBe('silent')
    expect(reason).toBe(
      'the server accepted the connection but sent nothing within 300 ms (a canbridge server sends its preamble "CANB" at once): another program listens on that port (check the --server address and port), or the server is stuck',
    )
  })

  it('another protocol: its first bytes as printable text', async () => {
    const { port } = await rawServer((socket) => socket.write('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'))
    const { reason, kind } = await connectLink(port)
    expect(kind).toBe('foreign')
    expect(reason).toBe(
      'not a canbridge server: it sent "SSH-2.0-OpenSSH_9.2p1 Debian-2\\r\\n" where a canbridge server sends its preamble "CANB"; another program listens on that port: check the --server address and port',
    )
  })

  it('bytes sent in pieces are gathered; binary bytes are escaped, long answers cut', async () => {
    const { port } = await rawServer((socket) => {
      // "HT" alone cannot be judged: the preamble is four bytes
      socket.write('HT')
      setTimeout(
        () => socket.write(Buffer.from('TP/1.1 400 Bad Request\r\n\u0000\u00ffmore text here')),
        50,
      )
    })
    const { reason, kind } = await connectLink(port)
    expect(kind).toBe('foreign')
    expect(reason).toContain('it sent "HTTP/1.1 400 Bad Request\\r\\n\\x00\\xc3\\xbfmor"…')
  })

  it('a plain edge at a TLS server: the close a TLS server gives a plain connection, in one line', async () => {
    const tlsServer = createTlsServer({ cert: pem(f.pki.server.cert), key: pem(f.pki.server.key) })
    const { port } = await rawServer(() => {}, tlsServer)
    const { reason, kind } = await connectLink(port)
    expect(kind).toBe('closed')
    expect(reason).toMatch(
      /^the server closed the connection without sending its canbridge preamble: a server that requires TLS/,
    )
  })

  it('nothing listening: that one is unreachable', async () => {
    const { port, close } = await rawServer(() => {})
    await close()
    const { reason, kind } = await connectLink(port)
    expect(kind).toBe('socket')
    expect(reason).toMatch(/^ECONNREFUSED/)
  })

  it('the daemon logs a foreign server as such, with what it sent', async () => {
    const { port } = await rawServer((socket) => socket.end('+OK POP3 server ready\r\n'))
    const edge = runEdge(['--server', `127.0.0.1:${port}`, '--channel', 'virtual:x?rate=0'])
    const line = await edge.waitForMsg('not a canbridge server; retrying with backoff')
    expect(line).toMatchObject({
      level: 50,
      server: `127.0.0.1:${port}`,
      reason: expect.stringContaining('it sent "+OK POP3 server ready\\r\\n"'),
    })
    expect(edge.logs.some((l) => l.msg === 'server unreachable; retrying with backoff')).toBe(false)
  })
})
