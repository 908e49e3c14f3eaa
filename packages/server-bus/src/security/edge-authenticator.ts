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
  readonly #edgeId: string
  /** whether the tokens hold this edge id (an unknown one is answered with a decoy) */
  readonly #known: boolean

  constructor(challenge: AuthChallenge, expected: Uint8Array, edgeId: string, known: boolean) {
    this.challenge = challenge
    this.#expected = expected
    this.#edgeId = edgeId
    this.#known = known
  }

  accepts(response: AuthResponse): boolean {
    return proofMatches(this.#expected, response.proof)
  }

  /**
   * Why an edge hung up on the challenge: it checks this server's proof first and leaves
   * when the token it holds is not the one proved with (the edge's own log says so).
   */
  leftReason(): string {
    const id = JSON.stringify(this.#edgeId)
    return this.#known
      ? `wrong token: edge ${id} closed the connection at the token challenge, so the token it holds is not the one this bus has for ${id} (an old or another edge's token file; the edge logs "the server could not prove it holds this edge's token"): give the edge its current token, or the bus the edge's (canbridge keys add-edge)`
      : `unknown edge: this bus has no token for edge ${id}, and the edge closed the connection at the token challenge: add it to the bus's tokens (canbridge keys add-edge ${this.#edgeId})`
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
    const known = tokens.tokenFor(hello.edgeId)
    const token = known ?? this.#decoyToken
    const input = {
      edgeId: hello.edgeId,
      edgeNonce: hello.authNonce,
      serverNonce: newAuthNonce(),
      channelBinding: channelBinding(socket),
    }
    return new TokenExchange(
      { nonce: input.serverNonce, proof: authProof(ROLE.SERVER, token, input) },
      authProof(ROLE.EDGE, token, input),
      hello.edgeId,
      known !== undefined,
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
