// Pinned server certificates (--tls-pin): the SHA-256 fingerprint of the server's leaf
// certificate, written as Node's X509Certificate.fingerprint256 prints it (AB:CD:...), with or
// without a `sha256:` prefix, colons or upper case. Several pins allow a certificate rotation.

const SHA256_HEX_DIGITS = 64

/** The canonical form kept in settings: 64 upper-case hex digits, no colons, no prefix. */
export function parsePin(text: string): string {
  const trimmed = text.trim()
  // a fingerprint's own groups are two hex digits: anything else before a colon is a prefix
  const first = trimmed.split(':')[0]!
  if (trimmed.includes(':') && !/^[0-9a-f]{2}$/i.test(first) && first.toLowerCase() !== 'sha256') {
    throw new RangeError(
      `"${trimmed}": only sha256 pins are supported (sha256:AB:CD:…, the certificate's SHA-256 fingerprint)`,
    )
  }
  const body = trimmed.replace(/^sha256:/i, '')
  const hex = body.replaceAll(':', '')
  if (!/^[0-9a-f]*$/i.test(hex)) {
    throw new RangeError(
      `"${trimmed}" is not a SHA-256 fingerprint: expected sha256: and 64 hex digits, with or without colons (openssl x509 -in server.crt -noout -fingerprint -sha256 prints it)`,
    )
  }
  if (hex.length !== SHA256_HEX_DIGITS) {
    throw new RangeError(
      `"${trimmed}" has ${hex.length} hex digits: a SHA-256 fingerprint has ${SHA256_HEX_DIGITS} (32 bytes)`,
    )
  }
  return hex.toUpperCase()
}

/** `sha256:AB:CD:…`, the form the docs and logs use. */
export function formatPin(pin: string): string {
  return `sha256:${pin.match(/../g)!.join(':')}`
}

/** Whether a certificate's fingerprint256 (AB:CD:… as Node gives it) equals one of the pins. */
export function pinMatches(fingerprint256: string, pins: readonly string[]): boolean {
  const received = fingerprint256.replaceAll(':', '').toUpperCase()
  return pins.includes(received)
}
