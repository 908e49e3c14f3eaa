// Why a TLS connection from an edge was refused, in one line of words: the client
// certificate's check (no certificate, another CA, expired), an edge that speaks plain TCP,
// an edge that does not trust this bus; never OpenSSL's multi-line text.
import type { TLSSocket } from 'node:tls'

/** The edge's certificate does not chain to the CA this bus trusts. */
const NOT_FROM_THE_CA = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_SIGNATURE_FAILURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
])

/** OpenSSL's codes for a first record that is not TLS: the peer speaks something else. */
const NOT_TLS = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_HTTP_REQUEST',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_RECORD_LENGTH_MISMATCH',
  'ERR_SSL_UNKNOWN_PROTOCOL',
])

/** Alerts an edge sends when it does not accept this bus's certificate. */
const EDGE_DISTRUSTS_BUS = new Set([
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR',
])

/** One line: OpenSSL's messages carry a file position and line breaks. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim()
}

/**
 * A client certificate the TLS handshake did not verify (`authorizationError`): who showed
 * what, and what this bus wanted (`clientCaFile`).
 */
export function describeCertificateRefusal(
  socket: TLSSocket,
  peer: string,
  clientCaFile: string | undefined,
): string {
  const code = String(socket.authorizationError ?? '')
  const cert = socket.getPeerCertificate()
  const ca = clientCaFile === undefined ? 'the CA this bus trusts' : `the CA in ${clientCaFile}`
  if (cert === null || cert.subject === undefined) {
    return `edge at ${peer} showed no certificate: this bus requires one from ${ca} (on the edge: --tls-cert FILE --tls-key FILE, made by canbridge keys add-edge)`
  }
  const who = `edge ${cert.subject.CN ?? '(no CN)'} at ${peer}`
  if (NOT_FROM_THE_CA.has(code)) {
    return `${who} showed no certificate from ${ca}: its certificate was issued by ${cert.issuer?.CN ?? 'another CA'} (${code}); make the edge one with canbridge keys add-edge, or give this bus the CA that signed it`
  }
  switch (code) {
    case 'CERT_HAS_EXPIRED':
      return `${who} showed a certificate that expired on ${cert.valid_to} (${code}): renew it with canbridge keys add-edge`
    case 'CERT_NOT_YET_VALID':
      return `${who} showed a certificate not valid before ${cert.valid_from} (${code}): is this machine's clock right?`
    default:
      return `${who} showed a certificate this bus does not accept (${code || 'no reason given'})`
  }
}

/** A TLS handshake that failed before a session (`tlsClientError`), or a TLS socket error. */
export function describeTlsFailure(
  error: NodeJS.ErrnoException & { reason?: string },
  peer: string,
): string {
  const code = error.code ?? ''
  if (NOT_TLS.has(code)) {
    return `${peer} spoke plain TCP to this TLS bus (${code}): an edge without TLS (give it --tls-ca FILE or --tls-pin) or another program`
  }
  if (EDGE_DISTRUSTS_BUS.has(code)) {
    return `edge at ${peer} does not trust this bus's certificate (${code}): it is not from the CA the edge has (--tls-ca), or not made for the name or address the edge connects to`
  }
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT')
    return `${peer} did not complete the TLS handshake in time (${code})`
  if (code === 'ECONNRESET')
    return `${peer} closed the connection during the TLS handshake (${code})`
  return `TLS handshake with ${peer} failed: ${oneLine(error.reason ?? error.message)}${code === '' ? '' : ` (${code})`}`
}
