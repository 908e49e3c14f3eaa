// The daemon's TLS 1.3 link over real sockets, with certificates made by openssl: the server
// verified by CA (and host name) or by pin, client certificates, and each way it can fail,
// logged with what to fix; a server that fails verification hears nothing from the edge.
import { describe, expect, it } from 'vitest'
import { opensslFingerprint, pem } from '../src/testing/certificates.ts'
import { cleanUpAfterEach, edgeAt, failure, pkiForThisFile, serve } from './helpers/secure-link.ts'

cleanUpAfterEach()
const f = pkiForThisFile()
const clientCertificate = () => ['--tls-cert', f.pki.client.cert, '--tls-key', f.pki.client.key]
const tlsServer = (pair: { cert: string; key: string }, clientCa?: string) => ({
  tls: {
    cert: pem(pair.cert),
    key: pem(pair.key),
    ...(clientCa ? { clientCa: pem(clientCa) } : {}),
  },
})

describe('TLS link', () => {
  it('verifies the server against --tls-ca and streams over TLS 1.3', async () => {
    const { server, address } = await serve(tlsServer(f.pki.server))
    const edge = edgeAt(address, ['--tls-ca', f.pki.ca.cert])
    await edge.waitForMsg('connected to the server')
    expect(await edge.waitForMsg('server link')).toMatchObject({
      security: `TLS 1.3, server verified by CA ${f.pki.ca.cert}, no token`,
    })
    await server.waitFor(() => server.state.count(0) >= 5, 10_000, 'frames over TLS')
    expect(server.state.hellos.map((h) => h.edgeId)).toEqual(['pi-test'])
    expect(server.state.hellos[0]!.authNonce).toBeUndefined()
  })

  it('refuses a server certificate from another CA, before sending anything', async () => {
    const { server, address } = await serve(tlsServer(f.pki.fromOtherCa))
    const edge = edgeAt(address, ['--tls-ca', f.pki.ca.cert])
    const { reason } = await failure(edge, 'tls')
    expect(reason).toBe(
      `the server's certificate is not trusted: it is not signed by the CA in ${f.pki.ca.cert}: a server certificate from another CA, or the wrong --tls-ca (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`,
    )
    expect(server.state.hellos).toEqual([])
    expect(server.state.connectionBytes.every((bytes) => bytes === 0)).toBe(true)
  })

  it('refuses an expired server certificate', async () => {
    const { server, address } = await serve(tlsServer(f.pki.expired))
    const edge = edgeAt(address, ['--tls-ca', f.pki.ca.cert])
    const { reason } = await failure(edge, 'tls')
    expect(reason).toMatch(
      /^the server's certificate is not trusted: it has expired: renew .*\(CERT_HAS_EXPIRED\)$/,
    )
    expect(server.state.hellos).toEqual([])
  })

  it('checks the host name; --tls-servername names the one in the certificate', async () => {
    const { server, address } = await serve(tlsServer(f.pki.otherName))
    const edge = edgeAt(address, ['--tls-ca', f.pki.ca.cert])
    const { reason } = await failure(edge, 'tls')
    expect(reason).toMatch(
      /^the server's certificate is not trusted: it is not made for 127\.0\.0\.1 \(hostname mismatch; it lists DNS:elsewhere\.example\); connect with a name or address the certificate lists, or give that name with --tls-servername \(ERR_TLS_CERT_ALTNAME_INVALID\)$/,
    )
    expect(server.state.hellos).toEqual([])
    const named = edgeAt(address, [
      '--tls-ca',
      f.pki.ca.cert,
      '--tls-servername',
      'elsewhere.example',
    ])
    await named.waitForMsg('connected to the server')
    expect(server.state.hellos).toHaveLength(1)
  })

  it('closes on a pin mismatch before writing a byte, logging the fingerprint received and the pins expected', async () => {
    const { server, address } = await serve(tlsServer(f.pki.server))
    const wrong = opensslFingerprint(f.pki.selfSigned.cert)
    const other = opensslFingerprint(f.pki.otherName.cert)
    const edge = edgeAt(address, [
      '--tls-pin',
      `sha256:${wrong}`,
      '--tls-pin',
      other.replaceAll(':', '').toLowerCase(),
    ])
    const { reason } = await failure(edge, 'tls')
    expect(reason).toBe(
      `the server's certificate does not match a pinned fingerprint: it has sha256:${opensslFingerprint(f.pki.server.cert)}, expected sha256:${wrong} or sha256:${other}; if the server's certificate was replaced on purpose, add its fingerprint with --tls-pin (keep the old pin until every server has the new certificate)`,
    )
    // the edge closed as its handshake finished: the server's side ends with the handshake
    // (closed before the client's Finished was read) or with no byte of the protocol
    await server.waitFor(
      () => server.connections + server.state.tlsErrors.length >= 1,
      5000,
      'the TLS connection to end at the server',
    )
    expect(server.state.connectionBytes.every((bytes) => bytes === 0)).toBe(true)
    expect(server.state.hellos).toEqual([])
  })

  it('trusts a self-signed server by its pin alone (no CA, no name check), one pin of several', async () => {
    const { server, address } = await serve(tlsServer(f.pki.selfSigned))
    const fingerprint = opensslFingerprint(f.pki.selfSigned.cert)
    const edge = edgeAt(
      address,
      [],
      // lower case without colons, and an old pin beside it (a rotation)
      {
        CANBRIDGE_TLS_PINS: `sha256:${opensslFingerprint(f.pki.server.cert)},${fingerprint.replaceAll(':', '').toLowerCase()}`,
      },
    )
    await edge.waitForMsg('connected to the server')
    await server.waitFor(() => server.state.count(0) >= 3, 10_000, 'frames')
  })

  it('says "does not speak TLS" when the server is plain canbridge', async () => {
    const { server, address } = await serve()
    const edge = edgeAt(address, ['--tls-ca', f.pki.ca.cert])
    const { reason } = await failure(edge, 'tls')
    expect(reason).toMatch(
      /^the server does not speak TLS: it answered the TLS handshake with bytes that are not TLS/,
    )
    expect(server.state.hellos).toEqual([])
  })

  it('a plain edge at a TLS server logs that the server closed without a preamble, as a TLS server does', async () => {
    const { server, address } = await serve(tlsServer(f.pki.server))
    const edge = edgeAt(address)
    const { reason } = await failure(edge, 'closed')
    expect(reason).toMatch(
      /^the server closed the connection without sending its canbridge preamble: a server that requires TLS does this to a plain connection \(then give this edge --tls-ca or --tls-pin\)/,
    )
    await server.waitFor(
      () => server.state.tlsErrors.length > 0,
      5000,
      'the TLS error at the server',
    )
    expect(server.state.hellos).toEqual([])
  })

  it('presents a client certificate when the server requires one; without it, says so', async () => {
    const { server, address } = await serve(tlsServer(f.pki.server, f.pki.ca.cert))
    const without = edgeAt(address, ['--tls-ca', f.pki.ca.cert])
    const { reason } = await failure(without, 'tls')
    expect(reason).toBe(
      'the server requires a client certificate: give this edge its certificate and key (--tls-cert FILE --tls-key FILE)',
    )
    await without.stop('SIGKILL')
    const withCert = edgeAt(address, ['--tls-ca', f.pki.ca.cert, ...clientCertificate()])
    await withCert.waitForMsg('connected to the server')
    expect(server.state.clientNames).toEqual(['pi-test'])
    expect(server.state.hellos.map((h) => h.edgeId)).toEqual(['pi-test'])
  })

  it('names a client certificate the server does not accept', async () => {
    const { server, address } = await serve(tlsServer(f.pki.server, f.pki.otherCa.cert))
    const edge = edgeAt(address, ['--tls-ca', f.pki.ca.cert, ...clientCertificate()])
    const { reason } = await failure(edge, 'tls')
    // TLS 1.3 ends the client's handshake first; Node's server then closes without an alert
    expect(reason).toBe(
      "the server closed the TLS connection right after the handshake, before its preamble: it did not accept this edge's client certificate (signed by a CA it does not trust, expired or revoked), or it refuses this address; see the server log",
    )
    expect(server.state.hellos).toEqual([])
  })

  it('several servers: each is verified against its own host name (and SNI), a failed one moves the edge to the next', async () => {
    // A's certificate names elsewhere.example, not the 127.0.0.1 dialled: refused
    const a = await serve(tlsServer(f.pki.otherName))
    // B's names localhost, the host dialled for it: accepted, with SNI localhost
    const b = await serve(tlsServer(f.pki.server))
    const bByName = `localhost:${b.address.split(':')[1]}`
    const edge = edgeAt(`${a.address},${bByName}`, ['--tls-ca', f.pki.ca.cert])
    expect(await edge.waitForMove(a.address, bByName)).toMatchObject({
      msg: 'TLS with the server failed; moving to the next server',
      reason: expect.stringMatching(/it is not made for 127\.0\.0\.1 \(hostname mismatch/),
    })
    const connected = await edge.waitForMsg('connected to the server')
    expect(connected['server']).toBe(bByName)
    await b.server.waitFor(() => b.server.state.count(0) >= 5, 10_000, 'frames over TLS at B')
    expect(b.server.state.servernames[0]).toBe('localhost')
    expect(a.server.state.hellos).toEqual([])
  })
})
