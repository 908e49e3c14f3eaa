// Token authentication (PROTOCOL.md §5.13) between the daemon and a scripted server whose
// proofs are computed from the spec's text: both ends prove the token, bound to the TLS
// session; a server that cannot prove it, or skips the proof, gets no frame.
import { describe, expect, it } from 'vitest'
import { pem } from '../src/testing/certificates.ts'
import {
  cleanUpAfterEach,
  edgeAt,
  failure,
  pkiForThisFile,
  serve,
  sleep,
} from './helpers/secure-link.ts'

cleanUpAfterEach()
const f = pkiForThisFile()

describe('token authentication', () => {
  it('proves the token both ways over TLS (bound to the session) and then streams', async () => {
    const { server, address } = await serve({
      tls: { cert: pem(f.pki.server.cert), key: pem(f.pki.server.key) },
      auth: { tokens: { 'pi-test': f.token } },
    })
    const edge = edgeAt(address, ['--tls-ca', f.pki.ca.cert, '--token-file', f.tokenFile])
    await edge.waitForMsg('connected to the server')
    expect(server.state.hellos[0]!.authNonce).toHaveLength(32)
    expect(server.state.authenticated).toBe(1)
    expect(server.state.messages.map((m) => m.type).slice(0, 2)).toEqual(['HELLO', 'AUTH_RESPONSE'])
    await server.waitFor(() => server.state.count(0) >= 5, 10_000, 'frames')
  })

  it('works on plain loopback TCP too (no channel binding)', async () => {
    const { server, address } = await serve({ auth: { tokens: { 'pi-test': f.token } } })
    const edge = edgeAt(address, ['--token-file', f.tokenFile])
    await edge.waitForMsg('connected to the server')
    expect(server.state.authenticated).toBe(1)
  })

  it('closes when the server cannot prove the token, without answering it', async () => {
    const { server, address } = await serve({
      auth: { tokens: { 'pi-test': 'another-token-0123456789' } },
    })
    const edge = edgeAt(address, ['--token-file', f.tokenFile])
    const { reason } = await failure(edge, 'auth')
    expect(reason).toBe(
      'the server could not prove it holds this edge\'s token: the token in --token-file differs from the one the server has for edge "pi-test", or this is not the right server',
    )
    expect(server.state.messages.filter((m) => m.type === 'AUTH_RESPONSE')).toEqual([])
    expect(server.state.count(0)).toBe(0)
  })

  it('refuses a server that sends WELCOME without a challenge: no frame goes to it', async () => {
    const { server, address } = await serve({
      auth: { tokens: { 'pi-test': f.token }, behaviour: 'skip' },
    })
    const edge = edgeAt(address, ['--token-file', f.tokenFile])
    const { reason } = await failure(edge, 'auth')
    expect(reason).toMatch(
      /^the server sent WELCOME without proving it holds this edge's token \(no AUTH_CHALLENGE\): refused/,
    )
    await sleep(300)
    expect(server.state.count(0)).toBe(0)
    expect(server.state.messages.map((m) => m.type)).not.toContain('STATS')
  })

  // each refusal the daemon logs, with what to change
  const refusals = [
    {
      what: 'the server requires a token the edge does not have',
      behaviour: 'challenge' as const,
      settings: [],
      reason:
        "the server requires a token (AUTH_REQUIRED: this server requires a token): set --token-file to this edge's token file",
    },
    {
      what: 'the server challenges an edge without a token',
      behaviour: 'challenge-anyway' as const,
      settings: [],
      reason:
        'the server asks for a token: set --token-file to this edge\'s token file (from "canbridge keys")',
    },
    {
      what: 'the server refuses the proof (AUTH_FAILED)',
      behaviour: 'reject' as const,
      settings: ['--token-file'],
      reason:
        "the server refused this edge's credentials (AUTH_FAILED: authentication failed): check the token in --token-file, and that the client certificate (--tls-cert) is this edge's (its CN = --edge-id)",
    },
  ]
  for (const refusal of refusals) {
    it(`says what to change when ${refusal.what}`, async () => {
      const { address } = await serve({
        auth: { tokens: { 'pi-test': f.token }, behaviour: refusal.behaviour },
      })
      const settings = refusal.settings.length > 0 ? [...refusal.settings, f.tokenFile] : []
      const { reason } = await failure(edgeAt(address, settings), 'auth')
      expect(reason).toBe(refusal.reason)
    })
  }
})
