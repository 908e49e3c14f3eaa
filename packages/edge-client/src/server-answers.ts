// What a server answered when it was not (or not yet) a canbridge server: its first bytes as
// text an operator can read, and the reasons the daemon and `doctor` give for a silent or a
// foreign server, so neither is reported as "unreachable".

/** How many of the server's first bytes a reason shows. */
export const PEEK_BYTES = 32

/**
 * The first bytes as quoted text: printable ASCII as it is, line ends and tabs escaped,
 * anything else as \xNN (a TLS record, a binary protocol).
 */
export function peek(bytes: Uint8Array): string {
  let text = ''
  for (const byte of bytes.subarray(0, PEEK_BYTES)) {
    if (byte === 0x0a) text += '\\n'
    else if (byte === 0x0d) text += '\\r'
    else if (byte === 0x09) text += '\\t'
    else if (byte === 0x22 || byte === 0x5c) text += `\\${String.fromCharCode(byte)}`
    else if (byte >= 0x20 && byte <= 0x7e) text += String.fromCharCode(byte)
    else text += `\\x${byte.toString(16).padStart(2, '0')}`
  }
  return `"${text}"${bytes.length > PEEK_BYTES ? '…' : ''}`
}

/** A server that sent something other than the canbridge preamble. */
export function foreignServerReason(firstBytes: Uint8Array): string {
  return `not a canbridge server: it sent ${peek(firstBytes)} where a canbridge server sends its preamble "CANB"; another program listens on that port: check the --server address and port`
}

/** A server that accepted the connection and then said nothing. */
export function silentServerReason(timeoutMs: number): string {
  return `the server accepted the connection but sent nothing within ${timeoutMs} ms (a canbridge server sends its preamble "CANB" at once): another program listens on that port (check the --server address and port), or the server is stuck`
}
