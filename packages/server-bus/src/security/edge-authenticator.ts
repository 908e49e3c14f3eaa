// The server's side of edge authentication after HELLO: the client certificate must name
// the edge, and with tokens the challenge-response of PROTOCOL.md §5.13.
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import {
  AUTH_TLS_EXPORTER_BYTES,
  AUTH_TLS_EXPORTER_LABEL,
  type AuthChallenge,
  type AuthResponse,
  authProof,
  type Hello,
  newAuthNonce,
  proofMatches,
  ROLE,
} from '@canbridge/protocol'
import { EdgeSessionError } from '../edge-session-error.ts'
import type { ServerSecurity } from './server-security.ts'

/** One edge's pending token proof. */
export class TokenExchange {
  readonly challenge: AuthChallenge
  readonly #expected: Uint8Array

  constructor(challenge: AuthChallenge, expected: Uint8Array) {
    this.challenge = challenge
    this.#expected = expected
  }

  accepts(response: AuthResponse): boolean {
    return proofMatches(this.#expected, response.proof)
  }
}

export class EdgeAuthenticator {
  readonly #security: ServerSecurity
  /** proves for unknown edge ids, so they fail exactly like a wrong token (made on first use) */
  #decoyToken: string | undefined

  constructor(security: ServerSecurity) {
    this.#security = security
  }

  /** Whether anything proves who an edge is (else the bus is open to whoever connects). */
  get authenticates(): boolean {
    return this.#security.clientCertificates || this.#security.tokens !== undefined
  }

  /**
   * Checks HELLO against the connection: throws EdgeSessionError (AUTH_REQUIRED / AUTH_FAILED)
   * to refuse; returns the token step to run, or undefined when none is configured.
   */
  start(hello: Hello, socket: Socket): TokenExchange | undefined {
    if (this.#security.clientCertificates) checkCertificate(hello.edgeId, socket)
    const tokens = this.#security.tokens
    if (tokens === undefined) return undefined
    if (hello.authNonce === undefined) {
      throw new EdgeSessionError(
        'AUTH_REQUIRED',
        'this server needs a token proof: give the edge its token (--token-file)',
      )
    }
    this.#decoyToken ??= Buffer.from(newAuthNonce()).toString('base64url')
    const token = tokens.tokenFor(hello.edgeId) ?? this.#decoyToken
    const input = {
      edgeId: hello.edgeId,
      edgeNonce: hello.authNonce,
      serverNonce: newAuthNonce(),
      channelBinding: channelBinding(socket),
    }
    return new TokenExchange(
      { nonce: input.serverNonce, proof: authProof(ROLE.SERVER, token, input) },
      authProof(ROLE.EDGE, token, input),
    )
  }
}

/** The TLS exporter binds a proof to this TLS session; nothing to bind to on plain TCP. */
export function channelBinding(socket: Socket): Uint8Array {
  if (!isTls(socket)) return new Uint8Array(0)
  return new Uint8Array(
    socket.exportKeyingMaterial(AUTH_TLS_EXPORTER_BYTES, AUTH_TLS_EXPORTER_LABEL, Buffer.alloc(0)),
  )
}

/** A TLS connection (told apart without loading node:tls in a plain-TCP server). */
function isTls(socket: Socket): socket is TLSSocket {
  return typeof (socket as Partial<TLSSocket>).exportKeyingMaterial === 'function'
}

function checkCertificate(edgeId: string, socket: Socket): void {
  if (!isTls(socket) || !socket.authorized) {
    const reason = isTls(socket) ? String(socket.authorizationError ?? 'no certificate') : 'not TLS'
    throw new EdgeSessionError('AUTH_FAILED', `client certificate refused: ${reason}`)
  }
  const cert = socket.getPeerCertificate()
  const names = [cert.subject?.CN, ...uriNames(cert.subjectaltname)]
  if (!names.some((name) => name === edgeId || name === `urn:canbridge:edge:${edgeId}`)) {
    throw new EdgeSessionError(
      'AUTH_FAILED',
      `the client certificate was made for ${JSON.stringify(cert.subject?.CN ?? '?')}, the edge calls itself ${JSON.stringify(edgeId)}`,
    )
  }
}

function uriNames(subjectAltName: string | undefined): string[] {
  if (subjectAltName === undefined) return []
  return subjectAltName
    .split(', ')
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => entry.slice(4))
}
