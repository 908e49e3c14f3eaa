// The files "keys init" and "keys add-edge" write, used as they will be: a node:tls server with
// server.crt/key asking for client certificates signed by ca.crt, and edges as TLS clients.
import { readFile } from 'node:fs/promises'
import { type AddressInfo, connect as connectTcp } from 'node:net'
import { join } from 'node:path'
import {
  type ConnectionOptions,
  connect,
  createServer,
  type Server,
  type TLSSocket,
} from 'node:tls'
import { afterEach, describe, expect, it } from 'vitest'
import { addEdge } from '../../src/keys/index.ts'
import { DAY_MS, keysOk, useTempDir } from './support.ts'

const tempDir = useTempDir()
const servers: Server[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) {
    await new Promise((resolve) => server.close(resolve))
  }
})

interface Pki {
  dir: string
  file: (name: string) => Promise<Buffer>
}

async function makePki(...args: string[]): Promise<Pki> {
  const dir = await tempDir()
  await keysOk('init', '--dir', dir, ...args)
  return { dir, file: (name) => readFile(join(dir, name)) }
}

interface Peer {
  /** the CN of the client certificate (several CNs would be an array) */
  edgeId: string | string[] | undefined
  protocol: string | null
}

/**
 * A TLS 1.3 server as the bus will run one: client certificates required and checked against
 * ca.crt. `strict`: OpenSSL drops a refused client (rejectUnauthorized); otherwise the server
 * drops it itself after recording why (authorizationError), which the tests assert.
 */
async function startServer(pki: Pki, { strict = false } = {}) {
  const peers: Peer[] = []
  const refusals: string[] = []
  const server = createServer(
    {
      cert: await pki.file('server.crt'),
      key: await pki.file('server.key'),
      ca: await pki.file('ca.crt'),
      requestCert: true,
      rejectUnauthorized: strict,
      minVersion: 'TLSv1.3',
    },
    (socket) => {
      if (!socket.authorized) {
        refusals.push(String(socket.authorizationError)) // OpenSSL's verify code, e.g. CERT_HAS_EXPIRED
        socket.destroy()
        return
      }
      peers.push({
        edgeId: socket.getPeerCertificate().subject?.CN,
        protocol: socket.getProtocol(),
      })
      socket.end('welcome\n')
    },
  )
  server.on('tlsClientError', (error) =>
    refusals.push((error as NodeJS.ErrnoException).code ?? error.message),
  )
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { port: (server.address() as AddressInfo).port, peers, refusals }
}

interface Outcome {
  /** the server's greeting arrived: it accepted this client */
  accepted: boolean
  /** the client's own error: how it refused the server, or the server's alert */
  code: string | undefined
  /** fingerprint256 of the certificate the server showed, when the handshake got that far */
  serverFingerprint: string | undefined
}

/**
 * Connects and reads until the server closes. In TLS 1.3 the server checks the client's
 * certificate after the client's handshake is done, so a refused client may see a bare
 * close rather than an error: acceptance is the greeting.
 */
function dial(options: ConnectionOptions): Promise<Outcome> {
  return new Promise((resolve) => {
    let received = ''
    let serverFingerprint: string | undefined
    const socket: TLSSocket = connect({ host: '127.0.0.1', ...options }, () => {
      serverFingerprint = socket.getPeerCertificate().fingerprint256
    })
    socket.setEncoding('utf8')
    socket.on('data', (chunk) => {
      received += chunk
    })
    const done = (error?: NodeJS.ErrnoException) =>
      resolve({ accepted: received === 'welcome\n', code: error?.code, serverFingerprint })
    socket.on('error', done)
    socket.on('close', () => done())
  })
}

async function edgeCredentials(pki: Pki, edgeId: string) {
  return {
    cert: await pki.file(`edges/${edgeId}.crt`),
    key: await pki.file(`edges/${edgeId}.key`),
  }
}

describe('TLS with the generated files', () => {
  it('an edge with its certificate gets a TLS 1.3 session; the server sees its edge id as CN', async () => {
    const pki = await makePki('--edge', 'pi-garage')
    const server = await startServer(pki)
    const outcome = await dial({
      port: server.port,
      ca: await pki.file('ca.crt'), // the edge's --tls-ca
      ...(await edgeCredentials(pki, 'pi-garage')),
    })
    expect(outcome).toMatchObject({ accepted: true, code: undefined })
    expect(server.peers).toEqual([{ edgeId: 'pi-garage', protocol: 'TLSv1.3' }])
    expect(server.refusals).toEqual([])
  })

  it('the server certificate matches localhost by name and 127.0.0.1 by address, not other names', async () => {
    const pki = await makePki('--edge', 'pi')
    const server = await startServer(pki)
    const base = {
      port: server.port,
      ca: await pki.file('ca.crt'),
      ...(await edgeCredentials(pki, 'pi')),
    }
    expect((await dial({ ...base, servername: 'localhost' })).accepted).toBe(true)
    expect((await dial(base)).accepted).toBe(true) // checked against the IP address 127.0.0.1
    const wrongName = await dial({ ...base, servername: 'elsewhere.example' })
    expect(wrongName).toMatchObject({ accepted: false, code: 'ERR_TLS_CERT_ALTNAME_INVALID' })
  })

  it('the fingerprint "keys fingerprint" prints is the one the edge sees on the wire (for --tls-pin)', async () => {
    const pki = await makePki('--edge', 'pi')
    const server = await startServer(pki)
    const pin = (await keysOk('fingerprint', join(pki.dir, 'server.crt'))).stdout.trim()
    const outcome = await dial({
      port: server.port,
      ca: await pki.file('ca.crt'),
      ...(await edgeCredentials(pki, 'pi')),
    })
    expect(outcome.accepted).toBe(true)
    expect(pin).toBe(`sha256:${outcome.serverFingerprint}`)
  })

  it('refuses an edge whose certificate comes from a different CA', async () => {
    const pki = await makePki('--edge', 'pi')
    const stranger = await makePki('--edge', 'pi') // same edge id, its own CA
    const credentials = {
      ca: await pki.file('ca.crt'),
      ...(await edgeCredentials(stranger, 'pi')),
    }
    const server = await startServer(pki)
    expect((await dial({ port: server.port, ...credentials })).accepted).toBe(false)
    expect(server.peers).toEqual([])
    expect(server.refusals).toEqual(['UNABLE_TO_VERIFY_LEAF_SIGNATURE'])

    const strict = await startServer(pki, { strict: true })
    expect((await dial({ port: strict.port, ...credentials })).accepted).toBe(false)
    expect(strict.peers).toEqual([])
    expect(strict.refusals).toEqual(['ECONNRESET']) // OpenSSL cut the handshake
  })

  it('an edge refuses a server whose certificate comes from a different CA', async () => {
    const pki = await makePki('--edge', 'pi')
    const stranger = await makePki()
    const server = await startServer(stranger)
    const outcome = await dial({
      port: server.port,
      ca: await pki.file('ca.crt'),
      ...(await edgeCredentials(pki, 'pi')),
    })
    // The server sends its CA along; the edge trusts only its own.
    expect(outcome).toMatchObject({ accepted: false, code: 'SELF_SIGNED_CERT_IN_CHAIN' })
  })

  it('refuses a client without a certificate', async () => {
    const pki = await makePki()
    const server = await startServer(pki, { strict: true })
    const outcome = await dial({ port: server.port, ca: await pki.file('ca.crt') })
    expect(outcome.accepted).toBe(false)
    expect(server.peers).toEqual([])
    expect(server.refusals).toEqual(['ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE'])
  })

  it('the key usages hold: server.crt is refused as a client certificate, an edge certificate as a server', async () => {
    const pki = await makePki('--edge', 'pi')
    const server = await startServer(pki)
    const asClient = await dial({
      port: server.port,
      ca: await pki.file('ca.crt'),
      cert: await pki.file('server.crt'),
      key: await pki.file('server.key'),
    })
    expect(asClient.accepted).toBe(false)
    expect(server.refusals).toEqual(['INVALID_PURPOSE'])

    const edgeAsServer = createServer({
      ...(await edgeCredentials(pki, 'pi')),
      minVersion: 'TLSv1.3',
    })
    servers.push(edgeAsServer)
    await new Promise<void>((resolve) => edgeAsServer.listen(0, '127.0.0.1', resolve))
    const outcome = await dial({
      port: (edgeAsServer.address() as AddressInfo).port,
      ca: await pki.file('ca.crt'),
      servername: 'pi',
    })
    expect(outcome).toMatchObject({ accepted: false, code: 'INVALID_PURPOSE' })
  })

  it('refuses an expired edge certificate (made through the API with a past issue time)', async () => {
    const pki = await makePki()
    await addEdge({
      dir: pki.dir,
      edgeId: 'late',
      days: 30,
      now: new Date(Date.now() - 40 * DAY_MS),
    })
    const server = await startServer(pki)
    const outcome = await dial({
      port: server.port,
      ca: await pki.file('ca.crt'),
      ...(await edgeCredentials(pki, 'late')),
    })
    expect(outcome.accepted).toBe(false)
    expect(server.refusals).toEqual(['CERT_HAS_EXPIRED'])
  })

  it('a plain TCP connection gets no TLS session and no welcome', async () => {
    const pki = await makePki()
    const server = await startServer(pki)
    const received = await new Promise<string>((resolve) => {
      let text = ''
      const socket = connectTcp(server.port, '127.0.0.1', () => socket.write('HELLO\n'))
      socket.on('data', (chunk) => {
        text += chunk.toString('latin1')
      })
      socket.on('error', () => resolve(text))
      socket.on('close', () => resolve(text))
    })
    expect(received).not.toContain('welcome')
    expect(server.peers).toEqual([])
  })
})
