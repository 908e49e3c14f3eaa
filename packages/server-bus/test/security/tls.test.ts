// TLS on the server over real sockets, with certificates from the package's key tool: the
// TLS 1.3 link itself, client certificates that must name the edge, the token proof bound to
// the TLS session, and peers that speak the wrong transport.
import { connect } from 'node:net'
import { type ConnectionOptions, connect as connectTls, type TLSSocket } from 'node:tls'
import { encodePreamble, ROLE } from '@canbridge/protocol'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { CanInitializationError, TCPBus } from '../../src/index.ts'
import {
  ScriptedEdge,
  type ScriptedEdgeOptions,
  sequenceFrame,
} from '../../src/testing/scripted-edge.ts'
import {
  BUS_MODES,
  type CapturingLogger,
  listen,
  useBusMode,
  waitUntil,
  withMode,
} from '../support/helpers.ts'
import { makePki, type TestPki } from './openssl-pki.ts'

let pki: TestPki
let foreign: TestPki
let bus: TCPBus | undefined
let logger: CapturingLogger
const edges: ScriptedEdge[] = []

beforeAll(async () => {
  pki = await makePki(['pi-a', 'pi-b'])
  foreign = await makePki(['pi-a'], 'foreign')
})
afterAll(async () => {
  await pki.remove()
  await foreign.remove()
})
afterEach(async () => {
  for (const edge of edges.splice(0)) edge.destroy()
  await bus?.shutdown()
  bus = undefined
})

function serverTls(clientCertificates: boolean) {
  return {
    certFile: pki.layout.serverCert,
    keyFile: pki.layout.serverKey,
    ...(clientCertificates ? { clientCaFile: pki.layout.caCert } : {}),
  }
}

async function edge(options: ScriptedEdgeOptions): Promise<ScriptedEdge> {
  const e = await ScriptedEdge.connect(bus!.address, { edgeId: 'pi-a', ...options })
  edges.push(e)
  return e
}

interface TlsAttempt {
  /** the error the client saw, if any */
  error: Error | undefined
  /** bytes the server sent once TLS was up (its preamble, when it accepted us) */
  received: number
}

/** Connects over TLS, sends the edge preamble, and reports how it ended. */
function tlsAttempt(options: ConnectionOptions): Promise<TlsAttempt> {
  return new Promise((resolve) => {
    const address = bus!.address as { port: number }
    const socket = connectTls({ port: address.port, host: '127.0.0.1', ...options })
    let received = 0
    let error: Error | undefined
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length
    })
    socket.on('error', (e) => {
      error = e
    })
    // TLS 1.3: a refused client certificate arrives as an alert after the client's handshake
    socket.once('secureConnect', () => socket.write(Buffer.from(encodePreamble(ROLE.EDGE))))
    socket.once('close', () => resolve({ error, received }))
    setTimeout(() => socket.destroy(), 2000).unref()
  })
}

describe.each(BUS_MODES)('TLS with client certificates ($mode)', (mode) => {
  useBusMode(mode)
  it('an edge with its own certificate gets TLS 1.3 and WELCOME; frames flow', async () => {
    ;({ bus, logger } = await listen({ tls: serverTls(true) }))
    const files = await pki.edge('pi-a')
    const e = await edge({
      tls: { ca: pki.ca, cert: files.cert, key: files.key, servername: 'localhost' },
    })
    await e.handshake()
    expect((e.socket as TLSSocket).getProtocol()).toBe('TLSv1.3')
    e.sendFrames(0, 0, [sequenceFrame(7)])
    expect((await bus.recv(5000))?.arbitrationId).toBe(7)
  })

  it('a certificate made for another edge: AUTH_FAILED naming both ids', async () => {
    ;({ bus, logger } = await listen({ tls: serverTls(true) }))
    const files = await pki.edge('pi-b')
    const e = await edge({
      tls: { ca: pki.ca, cert: files.cert, key: files.key, servername: 'localhost' },
    })
    e.sendPreamble()
    e.sendHello()
    const error = await e.waitFor('ERROR')
    expect(error.code).toBe('AUTH_FAILED')
    expect(error.message).toMatch(/made for "pi-b", the edge calls itself "pi-a"/)
    expect(bus.edges).toEqual([])
  })

  it('no client certificate, one from another CA, or an expired one: refused in the TLS handshake', async () => {
    ;({ bus, logger } = await listen({ tls: serverTls(true) }))
    const other = await foreign.edge('pi-a')
    // one per mode: the PKI is shared by the file
    const expired = await pki.expiredEdge(`pi-old-${mode.mode}`)
    const attempts = [
      { ca: pki.ca, servername: 'localhost' },
      { ca: pki.ca, servername: 'localhost', cert: other.cert, key: other.key },
      { ca: pki.ca, servername: 'localhost', cert: expired.cert, key: expired.key },
    ]
    for (const options of attempts) {
      const attempt = await tlsAttempt(options)
      // closed by the server without a single byte of the protocol
      expect(attempt.received).toBe(0)
    }
    await waitUntil(() => bus!.stats().refused['TLS_FAILED'] === 3)
    const reasons = logger.at('warn').map((e) => e.message)
    const ca = pki.layout.caCert.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    // in words: who showed what, and what this bus wanted; one line each
    expect(reasons).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          new RegExp(
            `: edge at 127\\.0\\.0\\.1:\\d+ showed no certificate: this bus requires one from the CA in ${ca} `,
          ),
        ),
        expect.stringMatching(
          new RegExp(
            `: edge pi-a at 127\\.0\\.0\\.1:\\d+ showed no certificate from the CA in ${ca}: its certificate was issued by .+ \\(UNABLE_TO_(GET_ISSUER_CERT|VERIFY_LEAF_SIGNATURE)\\); `,
          ),
        ),
        expect.stringMatching(
          /: edge pi-old[\w-]* at 127\.0\.0\.1:\d+ showed a certificate that expired on .+ \(CERT_HAS_EXPIRED\): renew it /,
        ),
      ]),
    )
    expect(reasons.filter((m) => m.includes('\n'))).toEqual([])
    expect(bus.edges).toEqual([])
  })
})

describe.each(BUS_MODES)('TLS with tokens ($mode)', (mode) => {
  useBusMode(mode)
  it('a token proof is bound to the TLS session: one made for another channel fails', async () => {
    const files = await pki.edge('pi-a')
    ;({ bus, logger } = await listen({
      tls: serverTls(false),
      auth: { tokens: { 'pi-a': files.token } },
    }))
    const good = await edge({ tls: { ca: pki.ca, servername: 'localhost' }, token: files.token })
    await good.handshake()
    expect(good.serverProofOk).toBe(true)
    // a relay would have to prove with the binding of its own session, not ours
    const relayed = await edge({
      edgeId: 'pi-a',
      instanceId: 'relay',
      tls: { ca: pki.ca, servername: 'localhost' },
      token: files.token,
      channelBinding: new Uint8Array(32),
    })
    relayed.sendPreamble()
    relayed.sendHello()
    relayed.answerChallenge(await relayed.waitFor('AUTH_CHALLENGE'))
    expect(relayed.serverProofOk).toBe(false)
    expect((await relayed.waitFor('ERROR')).code).toBe('AUTH_FAILED')
  })
})

describe.each(BUS_MODES)('the wrong transport ($mode)', (mode) => {
  useBusMode(mode)
  it('a plain-TCP edge at a TLS server: closed, and the log says TLS', async () => {
    const files = await pki.edge('pi-a')
    ;({ bus, logger } = await listen({
      tls: serverTls(false),
      auth: { tokens: { 'pi-a': files.token } },
    }))
    const address = bus.address as { port: number }
    const socket = connect({ port: address.port, host: '127.0.0.1' })
    socket.on('error', () => {})
    socket.write(Buffer.from(encodePreamble(ROLE.EDGE)))
    await new Promise((resolve) => socket.once('close', resolve))
    const said = /spoke plain TCP to this TLS bus/
    await waitUntil(() => logger.at('warn').some((e) => said.test(e.message)))
    const entry = logger.at('warn').find((e) => said.test(e.message))!
    // one line in words, without OpenSSL's text
    expect(entry.message).toMatch(
      /^refused connection from 127\.0\.0\.1:\d+: 127\.0\.0\.1:\d+ spoke plain TCP to this TLS bus \(ERR_SSL_[A-Z_]+\): an edge without TLS \(give it --tls-ca FILE or --tls-pin\) or another program$/,
    )
    expect(entry.message).not.toMatch(/SSL routines|\n/)
  })

  it('a TLS edge at a plain server: its TLS handshake fails on the plain preamble', async () => {
    ;({ bus, logger } = await listen())
    const { error } = await tlsAttempt({ ca: pki.ca, servername: 'localhost' })
    expect(error?.message).toMatch(
      /wrong version number|packet length too long|record layer failure|ssl/i,
    )
  })
})

describe.each(BUS_MODES)('TLS configuration errors ($mode)', (mode) => {
  useBusMode(mode)
  it('names the file and the problem', async () => {
    await expect(
      TCPBus.listen(
        withMode({
          port: 0,
          tls: { certFile: '/nonexistent/server.crt', keyFile: pki.layout.serverKey },
        }),
      ),
    ).rejects.toThrow(/cannot read tls\.certFile \/nonexistent\/server\.crt/)
    const attempt = TCPBus.listen(
      withMode({
        port: 0,
        tls: { certFile: pki.layout.serverCert, keyFile: foreign.layout.serverKey },
      }),
    )
    await expect(attempt).rejects.toThrow(CanInitializationError)
    await expect(attempt).rejects.toThrow(/is not the key of .*server\.crt/)
    await expect(
      TCPBus.listen(
        withMode({
          port: 0,
          tls: { certFile: pki.layout.serverKey, keyFile: pki.layout.serverKey },
        }),
      ),
    ).rejects.toThrow(/server\.key is not a PEM certificate/)
    await expect(
      TCPBus.listen(withMode({ path: 'canbridge-test.sock', tls: serverTls(false) })),
    ).rejects.toThrow(/tls is for TCP/)
  })
})
