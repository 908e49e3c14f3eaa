// The edge's handshake decisions, with the server's proofs computed from PROTOCOL.md §5.13's
// text by the test helper (not with the protocol package's authProof).
import { randomBytes } from 'node:crypto'
import type { ControlMessage } from '@canbridge/protocol'
import { describe, expect, it } from 'vitest'
import { specProof } from '../../../test/helpers/scripted-server.ts'
import { TEST_HELLO } from '../../../test/helpers/secure-link.ts'
import { LinkHandshake } from './link-handshake.ts'

const TOKEN = 'a-token-of-24-characters'
const base = TEST_HELLO
const welcome: ControlMessage = {
  type: 'WELCOME',
  body: { serverId: 's', heartbeatMs: 1000, channels: [], capabilities: [] },
}
const binding = Uint8Array.from(randomBytes(32))

function challenge(token: string, edgeNonce: Uint8Array, channelBinding = binding) {
  const nonce = randomBytes(32)
  return {
    nonce,
    message: {
      type: 'AUTH_CHALLENGE',
      body: { nonce, proof: specProof(2, token, 'pi-test', edgeNonce, nonce, channelBinding) },
    } as ControlMessage,
  }
}

describe('link handshake', () => {
  it('with a token: HELLO carries a fresh nonce, a right proof is answered with the edge proof, then WELCOME', () => {
    const handshake = new LinkHandshake(TOKEN, 'pi-test')
    const hello = handshake.hello(base)
    expect(hello.authNonce).toHaveLength(32)
    expect(new LinkHandshake(TOKEN, 'pi-test').hello(base).authNonce).not.toEqual(hello.authNonce)
    const { nonce, message } = challenge(TOKEN, hello.authNonce!)
    const step = handshake.onMessage(message, () => binding)
    expect(step).toEqual({
      action: 'respond',
      response: {
        proof: new Uint8Array(specProof(1, TOKEN, 'pi-test', hello.authNonce!, nonce, binding)),
      },
    })
    expect(handshake.onMessage(welcome, () => binding)).toEqual({
      action: 'welcome',
      welcome: welcome.body,
    })
  })

  it('closes when the server proves another token, or another TLS session', () => {
    const handshake = new LinkHandshake(TOKEN, 'pi-test')
    const nonce = handshake.hello(base).authNonce!
    expect(
      handshake.onMessage(challenge('another-token-of-24-chars', nonce).message, () => binding),
    ).toEqual({
      action: 'close',
      kind: 'auth',
      reason:
        'the server could not prove it holds this edge\'s token: the token in --token-file differs from the one the server has for edge "pi-test", or this is not the right server',
    })
    const relayed = new LinkHandshake(TOKEN, 'pi-test')
    const relayedNonce = relayed.hello(base).authNonce!
    const other = challenge(TOKEN, relayedNonce, Uint8Array.from(randomBytes(32)))
    expect(relayed.onMessage(other.message, () => binding)).toMatchObject({ kind: 'auth' })
  })

  it('refuses a WELCOME that came without a challenge when a token is configured', () => {
    const handshake = new LinkHandshake(TOKEN, 'pi-test')
    handshake.hello(base)
    expect(handshake.onMessage(welcome, () => binding)).toMatchObject({
      action: 'close',
      kind: 'auth',
      reason: expect.stringMatching(
        /^the server sent WELCOME without proving it holds this edge's token/,
      ),
    })
  })

  it('without a token: no nonce, WELCOME is fine, a challenge closes asking for --token-file', () => {
    const handshake = new LinkHandshake(null, 'pi-test')
    expect(handshake.hello(base)).toBe(base)
    expect(
      handshake.onMessage(challenge(TOKEN, new Uint8Array(32)).message, () => binding),
    ).toEqual({
      action: 'close',
      kind: 'auth',
      reason:
        'the server asks for a token: set --token-file to this edge\'s token file (from "canbridge keys")',
    })
    expect(new LinkHandshake(null, 'pi-test').onMessage(welcome, () => binding)).toMatchObject({
      action: 'welcome',
    })
  })

  it('acts on nothing else before WELCOME, and says why the server refused', () => {
    const handshake = new LinkHandshake(null, 'pi-test')
    for (const message of [
      {
        type: 'TRANSMIT',
        body: {
          requestId: 1,
          channel: 0,
          frame: { id: 1, flags: 0, len: 0, data: new Uint8Array(0) },
        },
      },
      { type: 'SET_FILTERS', body: { channel: null, filters: [] } },
      { type: 'PERIODIC_START', body: { taskId: 1, channel: 0, frames: [], periodMs: 10 } },
      { type: 'ACK', body: { channel: 0, nextSeq: 5 } },
    ] as ControlMessage[]) {
      expect(handshake.onMessage(message, () => binding)).toEqual({
        action: 'close',
        kind: 'protocol',
        reason: `protocol error from the server: ${message.type} before WELCOME (nothing is acted on before the handshake completes)`,
      })
    }
    const error = (code: string): ControlMessage => ({
      type: 'ERROR',
      body: { code, message: 'no', fatal: true },
    })
    expect(handshake.onMessage(error('AUTH_REQUIRED'), () => binding)).toMatchObject({
      kind: 'auth',
      reason: expect.stringMatching(/requires a token \(AUTH_REQUIRED: no\): set --token-file/),
    })
    expect(handshake.onMessage(error('AUTH_FAILED'), () => binding)).toMatchObject({
      kind: 'auth',
      reason: expect.stringMatching(/refused this edge's credentials \(AUTH_FAILED: no\)/),
    })
    expect(handshake.onMessage(error('BAD_HELLO'), () => binding)).toEqual({
      action: 'close',
      kind: 'refused',
      reason: 'the server refused the connection: BAD_HELLO: no',
    })
  })
})
