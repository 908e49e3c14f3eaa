// ECDSA P-256 keys through WebCrypto: generation, PKCS#8 PEM export, and reading a PEM key
// back (any PEM form Node reads, refused unless it is P-256).
import { createPrivateKey, createPublicKey, type KeyObject, webcrypto } from 'node:crypto'
import { PemConverter } from './x509.ts'

type CryptoKey = webcrypto.CryptoKey

export const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const
export const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const

export function generateKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  // Extractable: the private key is exported once, to its 0600 file.
  return webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])
}

/** PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"), newline-terminated. */
export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key)
  return `${PemConverter.encode(der, 'PRIVATE KEY')}\n`
}

/** Why `pem` is not a usable P-256 private key, or its KeyObject. */
export function parsePrivateKeyPem(pem: string): KeyObject | string {
  let key: KeyObject
  try {
    key = createPrivateKey(pem)
  } catch (error) {
    if (error instanceof Error && 'code' in error) return `not a PEM private key (${error.code})`
    throw error
  }
  const curve = key.asymmetricKeyDetails?.namedCurve
  if (key.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    return `a ${key.asymmetricKeyType ?? 'unknown'}${curve ? ` ${curve}` : ''} key, not ECDSA P-256`
  }
  return key
}

export function importSigningKey(key: KeyObject): Promise<CryptoKey> {
  const der = key.export({ type: 'pkcs8', format: 'der' })
  return webcrypto.subtle.importKey('pkcs8', der, KEY_ALGORITHM, false, ['sign'])
}

/** The DER SubjectPublicKeyInfo of a private key, to compare with a certificate's. */
export function publicKeyDer(privateKey: KeyObject): Buffer {
  return createPublicKey(privateKey).export({ type: 'spki', format: 'der' })
}
