// The edge's side of the handshake between HELLO and WELCOME (PROTOCOL.md §1, §5.13): the
// token proofs, and nothing else acted on before WELCOME. Shared by the daemon's link and
// `doctor`, so both accept and refuse the same servers for the same reasons.
import {
  AUTH_ERROR_CODE,
  type AuthResponse,
  authProof,
  type ControlMessage,
  type Hello,
  newAuthNonce,
  proofMatches,
  ROLE,
  type Welcome,
} from '@canbridge/protocol'

/** What closed a connection, for the log line and doctor's verdict. */
export type LinkProblemKind =
  | 'tls'
  | 'auth'
  | 'refused'
  | 'protocol'
  /** connected, and the server sent nothing */
  | 'silent'
  /** the server sent something other than canbridge's preamble */
  | 'foreign'
  | 'socket'
  | 'closed'
  | 'timeout'
  | 'local'

export type HandshakeStep =
  | { action: 'respond'; response: AuthResponse }
  | { action: 'welcome'; welcome: Welcome }
  | { action: 'close'; kind: LinkProblemKind; reason: string }

export class LinkHandshake {
  readonly #token: string | null
  readonly #edgeId: string
  readonly #nonce: Uint8Array | undefined
  #challenged = false

  constructor(token: string | null, edgeId: string) {
    this.#token = token
    this.#edgeId = edgeId
    this.#nonce = token === null ? undefined : newAuthNonce()
  }

  /** True once a server proved it holds the token (an AUTH_CHALLENGE that verified). */
  get challenged(): boolean {
    return this.#challenged
  }

  /** The HELLO to send: with this connection's nonce when a token is configured. */
  hello(base: Hello): Hello {
    return this.#nonce === undefined ? base : { ...base, authNonce: this.#nonce }
  }

  /** A server message before WELCOME; `binding` gives the TLS channel binding (§5.13). */
  onMessage(message: ControlMessage, binding: () => Uint8Array): HandshakeStep {
    switch (message.type) {
      case 'AUTH_CHALLENGE':
        return this.#onChallenge(message.body.nonce, message.body.proof, binding)
      case 'WELCOME':
        if (this.#token !== null && !this.#challenged) {
          return {
            action: 'close',
            kind: 'auth',
            reason:
              "the server sent WELCOME without proving it holds this edge's token (no AUTH_CHALLENGE): refused, a server that skips the proof is not trusted; give the server this edge's token (TCPBus auth option), or remove --token-file here",
          }
        }
        return { action: 'welcome', welcome: message.body }
      case 'ERROR':
        return { action: 'close', ...describeRefusal(message.body.code, message.body.message) }
      default:
        return {
          action: 'close',
          kind: 'protocol',
          reason: `protocol error from the server: ${message.type} before WELCOME (nothing is acted on before the handshake completes)`,
        }
    }
  }

  #onChallenge(
    serverNonce: Uint8Array,
    serverProof: Uint8Array,
    binding: () => Uint8Array,
  ): HandshakeStep {
    if (this.#token === null || this.#nonce === undefined) {
      return {
        action: 'close',
        kind: 'auth',
        reason:
          'the server asks for a token: set --token-file to this edge\'s token file (from "canbridge keys")',
      }
    }
    if (this.#challenged) {
      return {
        action: 'close',
        kind: 'protocol',
        reason: 'protocol error from the server: a second AUTH_CHALLENGE',
      }
    }
    const input = {
      edgeId: this.#edgeId,
      edgeNonce: this.#nonce,
      serverNonce,
      channelBinding: binding(),
    }
    if (!proofMatches(authProof(ROLE.SERVER, this.#token, input), serverProof)) {
      return {
        action: 'close',
        kind: 'auth',
        reason: `the server could not prove it holds this edge's token: the token in --token-file differs from the one the server has for edge "${this.#edgeId}", or this is not the right server`,
      }
    }
    this.#challenged = true
    return { action: 'respond', response: { proof: authProof(ROLE.EDGE, this.#token, input) } }
  }
}

/** A fatal ERROR instead of WELCOME, said in terms of what this edge should change. */
export function describeRefusal(
  code: string,
  message: string,
): { kind: LinkProblemKind; reason: string } {
  const said = `${code}: ${message}`
  switch (code) {
    case AUTH_ERROR_CODE.AUTH_REQUIRED:
      return {
        kind: 'auth',
        reason: `the server requires a token (${said}): set --token-file to this edge's token file`,
      }
    case AUTH_ERROR_CODE.AUTH_FAILED:
      return {
        kind: 'auth',
        reason: `the server refused this edge's credentials (${said}): check the token in --token-file, and that the client certificate (--tls-cert) is this edge's (its CN = --edge-id)`,
      }
    default:
      return { kind: 'refused', reason: `the server refused the connection: ${said}` }
  }
}
