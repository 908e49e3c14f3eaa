// Token authentication (PROTOCOL.md §5.13): both ends prove they hold the edge's token with
// an HMAC over both nonces and the TLS session, so the token never crosses the wire and a
// proof cannot be replayed or relayed into another TLS session.
import { AUTH_NONCE_BYTES, type Role } from './constants.ts'

/** node:crypto, loaded on first use: a process that never authenticates never loads OpenSSL. */
const crypto = () => process.getBuiltinModule('node:crypto')

/** Label of the TLS keying-material exporter (RFC 8446 §7.5) that binds proofs to a session. */
export const AUTH_TLS_EXPORTER_LABEL = 'EXPORTER-canbridge-auth-v1'
export const AUTH_TLS_EXPORTER_BYTES = 32
/** A shorter token is refused: it could be guessed offline from one recorded handshake. */
export const MIN_TOKEN_LENGTH = 16

/** ERROR codes (§5.12) of a refused handshake. */
export const AUTH_ERROR_CODE = {
  /** the server needs a token proof and the HELLO carried no `authNonce` */
  AUTH_REQUIRED: 'AUTH_REQUIRED',
  /** a proof did not match, the edge is unknown, or its certificate names another edge */
  AUTH_FAILED: 'AUTH_FAILED',
} as const

export interface AuthProofInput {
  edgeId: string
  edgeNonce: Uint8Array
  serverNonce: Uint8Array
  /** TLS exporter output on TLS, empty on plain TCP or a Unix socket */
  channelBinding: Uint8Array
}

const DOMAIN = Buffer.from('canbridge-auth-v1\0', 'latin1')

/**
 * HMAC-SHA-256 keyed with the token (its UTF-8 bytes) over: the domain string, the prover's
 * role byte, then length-prefixed edgeId, edge nonce, server nonce and channel binding.
 */
export function authProof(prover: Role, token: string, input: AuthProofInput): Uint8Array {
  const hmac = crypto().createHmac('sha256', Buffer.from(token, 'utf8'))
  hmac.update(DOMAIN)
  hmac.update(Uint8Array.of(prover))
  for (const part of [
    Buffer.from(input.edgeId, 'utf8'),
    input.edgeNonce,
    input.serverNonce,
    input.channelBinding,
  ]) {
    hmac.update(Uint8Array.of(part.length))
    hmac.update(part)
  }
  return new Uint8Array(hmac.digest())
}

/** Constant-time comparison; false (not an exception) for different lengths. */
export function proofMatches(expected: Uint8Array, received: Uint8Array): boolean {
  return expected.length === received.length && crypto().timingSafeEqual(expected, received)
}

export function newAuthNonce(): Uint8Array {
  return new Uint8Array(crypto().randomBytes(AUTH_NONCE_BYTES))
}

/** Why a token cannot be used, or undefined when it can. */
export function tokenProblem(token: string): string | undefined {
  if (token.length < MIN_TOKEN_LENGTH) {
    return `a token must have at least ${MIN_TOKEN_LENGTH} characters (got ${token.length}); create one with "canbridge keys add-edge"`
  }
  if (/\s/.test(token)) return 'a token may not contain whitespace'
  return undefined
}
