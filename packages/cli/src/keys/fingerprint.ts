// SHA-256 fingerprints of certificates in the form Node's X509Certificate.fingerprint256
// uses, prefixed "sha256:", as the edge's --tls-pin takes them.
import { createHash, X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { KeysError } from './errors.ts'

/** `sha256:` + colon-separated upper-case hex of the SHA-256 of the DER certificate. */
export function fingerprintOfDer(der: Uint8Array): string {
  const hex = createHash('sha256').update(der).digest('hex').toUpperCase()
  return `sha256:${hex.match(/../g)!.join(':')}`
}

/** The certificate in a PEM (first one) or DER file, with a message that says what to give. */
export async function readCertificateFile(path: string): Promise<X509Certificate> {
  let content: Buffer
  try {
    content = await readFile(path)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new KeysError(
      'FILE_UNREADABLE',
      code === 'ENOENT'
        ? `no file ${path}: give the path of a certificate, e.g. canbridge-pki/server.crt`
        : `cannot read ${path} (${code}): give a readable certificate file`,
      { cause: error },
    )
  }
  try {
    return new X509Certificate(content)
  } catch (error) {
    const text = content.toString('latin1')
    throw new KeysError(
      'NOT_A_CERTIFICATE',
      /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)
        ? `${path} holds a private key, not a certificate: give the matching .crt file (and never share the key)`
        : `${path} is not a certificate (PEM or DER): give a .crt file such as ca.crt, server.crt or edges/<id>.crt`,
      { cause: error },
    )
  }
}

export async function fingerprintOfFile(path: string): Promise<string> {
  return fingerprintOfDer((await readCertificateFile(path)).raw)
}
