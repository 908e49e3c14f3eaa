// The doctor's server check over TLS and with a token, against the scripted server (real
// TLS sockets, certificates from openssl): it does the same handshake as the daemon and
// names the step that failed.
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ScriptedServer, type ScriptedServerOptions } from '../../test/helpers/scripted-server.ts'
import { pkiForThisFile } from '../../test/helpers/secure-link.ts'
import type { ServerAddress } from '../config.ts'
import { runDoctor } from '../doctor.ts'
import { type LinkSecurity, resolveLinkSecurity } from '../link/security/link-security.ts'
import { pem } from '../testing/certificates.ts'
import { checkServer } from './server.ts'

const f = pkiForThisFile('doctor-token-0123456789ab')
const servers: ScriptedServer[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close()
})

async function serve(options: ScriptedServerOptions): Promise<ServerAddress> {
  const server = new ScriptedServer(options)
  servers.push(server)
  return { kind: 'tcp', host: '127.0.0.1', port: await server.listen(0) }
}

function security(server: ServerAddress, tls: { ca?: string }, token = false): LinkSecurity {
  return resolveLinkSecurity({
    server: [server],
    edgeId: 'pi-test',
    tlsCa: tls.ca ?? null,
    tlsPins: [],
    tlsServername: null,
    tlsCert: null,
    tlsKey: null,
    tokenFile: token ? f.tokenFile : null,
    insecure: false,
  }).security
}

const options = { edgeId: 'pi-test', software: 'canbridge-edge-doctor/test', timeoutMs: 3000 }
const tlsServer = { tls: { cert: '', key: '' } }

describe('server check with TLS and token', () => {
  beforeAll(() => {
    tlsServer.tls = { cert: pem(f.pki.server.cert), key: pem(f.pki.server.key) }
  })

  it('OK over TLS with the token proven both ways, as the edge itself', async () => {
    const address = await serve({ ...tlsServer, auth: { tokens: { 'pi-test': f.token } } })
    const r = await checkServer(address, {
      ...options,
      security: security(address, { ca: f.pki.ca.cert }, true),
    })
    expect(r.status).toBe('OK')
    expect(r.summary).toMatch(
      /^127\.0\.0\.1:\d+: TLS 1\.3, server verified by CA .*ca\.crt, token, all verified; canbridge protocol 1, server "scripted" answered HELLO with WELCOME \(connect \d+ ms, handshake \d+ ms, heartbeat 1000 ms\) as edge pi-test \(the server checks the id: a running edge of that id reconnects\)$/,
    )
    expect(servers[0]!.state.authenticated).toBe(1)
  })

  it('FAIL at the TLS step: a certificate from another CA', async () => {
    const address = await serve({
      tls: { cert: pem(f.pki.fromOtherCa.cert), key: pem(f.pki.fromOtherCa.key) },
    })
    const r = await checkServer(address, {
      ...options,
      security: security(address, { ca: f.pki.ca.cert }),
    })
    expect(r.status).toBe('FAIL')
    expect(r.summary).toMatch(
      /^127\.0\.0\.1:\d+: TLS handshake: the server's certificate is not trusted: it is not signed by the CA in .*ca\.crt/,
    )
  })

  it('FAIL at the TLS step: the server is canbridge without TLS (checked over a plain connection)', async () => {
    const address = await serve({})
    const r = await checkServer(address, {
      ...options,
      security: security(address, { ca: f.pki.ca.cert }),
    })
    expect(r.summary).toMatch(
      /: TLS handshake: the server does not speak TLS: it is a canbridge server without TLS \(a plain connection gets its preamble "CANB"\)/,
    )
  })

  it('FAIL at the preamble: a TLS server, and the doctor without TLS', async () => {
    const address = await serve(tlsServer)
    const r = await checkServer(address, options)
    expect(r.summary).toMatch(
      /^127\.0\.0\.1:\d+: preamble: the server closed the connection without sending its canbridge preamble: a server that requires TLS/,
    )
  })

  it('FAIL at authentication: the server cannot prove the token', async () => {
    const address = await serve({ auth: { tokens: { 'pi-test': 'another-token-0123456789' } } })
    const r = await checkServer(address, { ...options, security: security(address, {}, true) })
    expect(r.summary).toMatch(
      /^127\.0\.0\.1:\d+: authentication: the server could not prove it holds this edge's token/,
    )
  })

  it('FAIL when the server requires a token the doctor was not given, saying what to set', async () => {
    const address = await serve({ auth: { tokens: { 'pi-test': f.token } } })
    const r = await checkServer(address, options)
    expect(r).toMatchObject({
      status: 'FAIL',
      summary: expect.stringMatching(
        /refused the HELLO: AUTH_REQUIRED: this server requires a token$/,
      ),
    })
    expect(r.fix![0]).toMatch(/^the server requires a token .*: set --token-file/)
  })

  it('the whole command: unusable security settings fail the config line and the server is not checked', async () => {
    const open = join(f.pki.dir, 'open.token')
    writeFileSync(open, `${f.token}\n`)
    chmodSync(open, 0o644)
    let out = ''
    const code = await runDoctor(
      ['--server', '127.0.0.1:9', '--channel', 'virtual:x', '--token-file', open],
      {},
      { out: (s) => (out += s), err: (s) => (out += s) },
    )
    expect(code).toBe(1)
    expect(out).toMatch(
      /FAIL\s+config\s+flags and environment: --token-file .*open\.token is accessible by other users \(mode 0644\)/,
    )
    expect(out).toMatch(/FAIL\s+server\s+not checked: the TLS or token settings are not usable/)
  })
})
