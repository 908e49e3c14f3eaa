// The byte stream to the server: TCP, a Unix socket, or TLS 1.3 over TCP. With TLS the
// stream is ready only once the server is verified (CA and name by Node, pins here), so the
// caller writes nothing to a server that failed verification.
import { isIP, connect as netConnect, type Socket } from 'node:net'
import { TLSSocket, connect as tlsConnect } from 'node:tls'
import { AUTH_TLS_EXPORTER_BYTES, AUTH_TLS_EXPORTER_LABEL } from '@canbridge/protocol'
import type { ServerAddress } from '../../config.ts'
import { pinMatches } from '../../pins.ts'
import type { TlsSettings } from '../security/link-security.ts'
import { pinMismatchReason } from './tls-problems.ts'

export interface Transport {
  socket: Socket
  /** the event after which the stream may carry the protocol */
  readyEvent: 'connect' | 'secureConnect'
}

export function openTransport(address: ServerAddress, tls: TlsSettings | null): Transport {
  if (address.kind === 'unix')
    return { socket: netConnect({ path: address.path }), readyEvent: 'connect' }
  if (tls === null) {
    return { socket: netConnect({ host: address.host, port: address.port }), readyEvent: 'connect' }
  }
  const pinOnly = tls.ca === null
  const socket = tlsConnect({
    host: address.host,
    port: address.port,
    // SNI carries names only, never an address
    servername: tls.servername ?? (isIP(address.host) === 0 ? address.host : undefined),
    minVersion: 'TLSv1.3',
    ca: tls.ca ?? undefined,
    cert: tls.cert ?? undefined,
    key: tls.key ?? undefined,
    // without a CA the pin is the whole check (verifiedServer, before anything is written)
    rejectUnauthorized: !pinOnly,
    ...(pinOnly ? { checkServerIdentity: () => undefined } : {}),
  })
  return { socket, readyEvent: 'secureConnect' }
}

/** After 'secureConnect': the pin check; a reason to close, or undefined when the server passes. */
export function pinProblem(socket: Socket, tls: TlsSettings | null): string | undefined {
  if (tls === null || tls.pins.length === 0) return undefined
  if (!(socket instanceof TLSSocket)) return 'not a TLS connection'
  const certificate = socket.getPeerX509Certificate()
  if (certificate === undefined) return 'the server sent no certificate'
  return pinMatches(certificate.fingerprint256, tls.pins)
    ? undefined
    : pinMismatchReason(certificate.fingerprint256, tls.pins)
}

/** The TLS session's exporter value for token proofs (PROTOCOL.md §5.13); empty without TLS. */
export function channelBinding(socket: Socket): Uint8Array {
  // no context: in TLS 1.3 an absent and an empty context give the same value (RFC 8446 §7.5)
  return socket instanceof TLSSocket
    ? new Uint8Array(
        socket.exportKeyingMaterial(
          AUTH_TLS_EXPORTER_BYTES,
          AUTH_TLS_EXPORTER_LABEL,
          Buffer.alloc(0),
        ),
      )
    : new Uint8Array(0)
}
