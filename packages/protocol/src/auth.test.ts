import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { authProof, newAuthNonce, proofMatches, tokenProblem } from './auth.ts'
import { ROLE } from './constants.ts'
import { decodeControlBody } from './decoder.ts'
import { ProtocolError } from './errors.ts'

const token = 'correct-horse-battery-staple'
const edgeNonce = new Uint8Array(32).fill(0xaa)
const serverNonce = new Uint8Array(32).fill(0xbb)
const binding = Uint8Array.of(1, 2, 3)

/** The proof input as PROTOCOL.md §5.13 spells it, assembled by hand. */
function specInput(prover: number): Buffer {
  return Buffer.concat([
    Buffer.from('canbridge-auth-v1', 'latin1'),
    Buffer.of(0, prover),
    Buffer.of(2),
    Buffer.from('pi', 'utf8'),
    Buffer.of(32),
    Buffer.alloc(32, 0xaa),
    Buffer.of(32),
    Buffer.alloc(32, 0xbb),
    Buffer.of(3, 1, 2, 3),
  ])
}

/** HMAC-SHA-256 by openssl, an implementation independent of ours. */
function opensslHmac(key: string, input: Buffer): string {
  const out = execFileSync(
    'openssl',
    ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `key:${key}`],
    {
      input,
    },
  ).toString()
  return out.trim().split(' ').at(-1)!
}

describe('token authentication proofs (§5.13)', () => {
  it('the edge proof is the HMAC of the spec input, as openssl computes it', () => {
    const proof = authProof(ROLE.EDGE, token, {
      edgeId: 'pi',
      edgeNonce,
      serverNonce,
      channelBinding: binding,
    })
    expect(Buffer.from(proof).toString('hex')).toBe(opensslHmac(token, specInput(1)))
  })

  it('the server proof differs from the edge proof only by the role byte', () => {
    const input = { edgeId: 'pi', edgeNonce, serverNonce, channelBinding: binding }
    const server = authProof(ROLE.SERVER, token, input)
    expect(Buffer.from(server).toString('hex')).toBe(opensslHmac(token, specInput(2)))
    expect(proofMatches(server, authProof(ROLE.EDGE, token, input))).toBe(false)
  })

  it('a different token, nonce, edge id or channel binding changes the proof', () => {
    const base = { edgeId: 'pi', edgeNonce, serverNonce, channelBinding: binding }
    const proof = authProof(ROLE.EDGE, token, base)
    const variants = [
      authProof(ROLE.EDGE, `${token}x`, base),
      authProof(ROLE.EDGE, token, { ...base, edgeId: 'pj' }),
      authProof(ROLE.EDGE, token, { ...base, edgeNonce: serverNonce }),
      authProof(ROLE.EDGE, token, { ...base, serverNonce: edgeNonce }),
      authProof(ROLE.EDGE, token, { ...base, channelBinding: new Uint8Array(0) }),
    ]
    for (const other of variants) expect(proofMatches(proof, other)).toBe(false)
    expect(proofMatches(proof, Uint8Array.from(proof))).toBe(true)
    expect(proofMatches(proof, proof.subarray(0, 31))).toBe(false)
  })

  it('nonces are 32 fresh random bytes', () => {
    const a = newAuthNonce()
    const b = newAuthNonce()
    expect(a.length).toBe(32)
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false)
  })

  it('refuses short tokens and tokens with whitespace, with what to do', () => {
    expect(tokenProblem('short')).toMatch(/at least 16 characters \(got 5\).*canbridge keys/)
    expect(tokenProblem('sixteen chars ok')).toMatch(/whitespace/)
    expect(tokenProblem('sixteen-chars-ok')).toBeUndefined()
  })

  it('a nonce or proof of the wrong size is BAD_CONTROL', () => {
    const body = Buffer.concat([
      Buffer.from([0x81, 0xa5]),
      Buffer.from('proof'),
      Buffer.from([0xc4, 31]),
      Buffer.alloc(31),
    ])
    expect(() => decodeControlBody('AUTH_RESPONSE', body)).toThrow(ProtocolError)
    expect(() => decodeControlBody('AUTH_RESPONSE', body)).toThrow(
      /AUTH_RESPONSE.proof must be 32 bytes/,
    )
  })
})
