// Why a TLS connection to the server failed, in words that say what to fix: Node's error
// codes for certificate checks and TLS alerts, a pin that does not match, and the two
// mismatches between a TLS and a plain end.

import { formatPin } from '../../pins.ts'
import type { TlsSettings } from '../security/link-security.ts'

const NOT_SIGNED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
])

/** Node's codes for a TLS record that is not TLS at all: the peer speaks something else. */
const NOT_TLS = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_RECORD_LENGTH_MISMATCH',
  'ERR_SSL_UNKNOWN_PROTOCOL',
  'ERR_SSL_HTTP_REQUEST',
])

/** Alerts a server sends when it does not accept this edge's client certificate. */
const CLIENT_CERT_REFUSED = new Set([
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED',
  'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE',
  'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED',
])

export const NOT_TLS_REASON =
  'the server does not speak TLS: it answered the TLS handshake with bytes that are not TLS (a canbridge server without TLS sends its plain preamble "CANB" first); turn TLS on at the server (TCPBus tls option) or, on loopback or a lab network, remove the --tls-* settings from this edge'

function untrusted(why: string, code: string): string {
  return `the server's certificate is not trusted: ${why} (${code})`
}

/**
 * The reason for a TLS error, or undefined when `error` is not about TLS (a refused
 * connection, a reset) and the caller reports it as it is.
 */
export function describeTlsError(
  error: NodeJS.ErrnoException,
  tls: TlsSettings,
  host: string,
): string | undefined {
  const code = error.code ?? ''
  const ca = tls.caFile ?? 'the CA file'
  if (NOT_SIGNED.has(code)) {
    return untrusted(
      `it is not signed by the CA in ${ca}: a server certificate from another CA, or the wrong --tls-ca`,
      code,
    )
  }
  switch (code) {
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return untrusted(
        `it is self-signed, not issued by the CA in ${ca}; give the CA that signed it (--tls-ca) or pin it (--tls-pin)`,
        code,
      )
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return untrusted(`its chain ends in a self-signed CA that is not the one in ${ca}`, code)
    case 'CERT_HAS_EXPIRED':
      return untrusted(
        "it has expired: renew the server's certificate (or, if it is not old, check this device's clock)",
        code,
      )
    case 'CERT_NOT_YET_VALID':
      return untrusted(
        "it is not valid yet: is this device's clock right? (a Raspberry Pi without a real-time clock needs NTP, e.g. systemd-timesyncd)",
        code,
      )
    case 'ERR_TLS_CERT_ALTNAME_INVALID': {
      // Node's checkServerIdentity error carries the certificate
      const names = (error as { cert?: { subjectaltname?: string } }).cert?.subjectaltname
      return untrusted(
        `it is not made for ${tls.servername ?? host} (hostname mismatch; it lists ${names || 'no names'}); connect with a name or address the certificate lists, or give that name with --tls-servername`,
        code,
      )
    }
    case 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED':
      return tls.cert === null
        ? 'the server requires a client certificate: give this edge its certificate and key (--tls-cert FILE --tls-key FILE)'
        : `the server did not accept this edge's client certificate (${code})`
    case 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION':
    case 'ERR_SSL_UNSUPPORTED_PROTOCOL':
    case 'ERR_SSL_NO_PROTOCOLS_AVAILABLE':
      return `the server does not offer TLS 1.3, the only version this edge accepts (${code}): update the server`
  }
  if (NOT_TLS.has(code)) return NOT_TLS_REASON
  if (CLIENT_CERT_REFUSED.has(code)) {
    return tls.cert === null
      ? `the server refused the TLS handshake (${code}): it may require a client certificate (--tls-cert, --tls-key)`
      : `the server refused this edge's client certificate (${code}): is it signed by the CA the server trusts, and still valid?`
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || /^[A-Z_]+_CERT/.test(code)) {
    return `TLS handshake failed: ${error.message} (${code})`
  }
  return undefined
}

/** A server certificate whose fingerprint is none of the pins: what came and what was expected. */
export function pinMismatchReason(fingerprint256: string, pins: readonly string[]): string {
  const received = formatPin(fingerprint256.replaceAll(':', '').toUpperCase())
  return `the server's certificate does not match a pinned fingerprint: it has ${received}, expected ${pins.map(formatPin).join(' or ')}; if the server's certificate was replaced on purpose, add its fingerprint with --tls-pin (keep the old pin until every server has the new certificate)`
}

/** A TLS record header (handshake or alert, version 3.x): a plain edge talked to a TLS server. */
export function looksLikeTls(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && (bytes[0] === 0x15 || bytes[0] === 0x16) && bytes[1] === 0x03
}

export const TLS_SERVER_REASON =
  'the server speaks TLS and this edge does not: give this edge --tls-ca FILE (the CA of the server certificate) or --tls-pin sha256:… (its fingerprint)'

/**
 * The server closed a ready connection before sending a byte: a TLS server does this to a
 * plain edge, and a TLS server that refuses the edge's client certificate closes right after
 * the handshake (TLS 1.3 finishes the client's side first, so no alert reaches the edge).
 */
export function silentCloseReason(tls: TlsSettings | null): {
  kind: 'tls' | 'closed'
  reason: string
} {
  if (tls === null) {
    return {
      kind: 'closed',
      reason:
        'the server closed the connection without sending its canbridge preamble: a server that requires TLS does this to a plain connection (then give this edge --tls-ca or --tls-pin); otherwise see the server log (an address it does not accept, too many connections)',
    }
  }
  if (tls.cert !== null) {
    return {
      kind: 'tls',
      reason:
        "the server closed the TLS connection right after the handshake, before its preamble: it did not accept this edge's client certificate (signed by a CA it does not trust, expired or revoked), or it refuses this address; see the server log",
    }
  }
  return {
    kind: 'tls',
    reason:
      'the server closed the TLS connection right after the handshake, before its preamble: it most likely requires a client certificate (give this edge --tls-cert FILE --tls-key FILE), or it refuses this address; see the server log',
  }
}
