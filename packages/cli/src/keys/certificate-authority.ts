// The private CA: a self-signed ECDSA P-256 certificate that may sign end-entity certificates
// only (pathlen 0), created once, then read back from ca.crt / ca.key to sign more.
import { X509Certificate as NodeX509Certificate, randomBytes, webcrypto } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { randomSerialNumber, validityFor } from './certificate-fields.ts'
import { KeysError } from './errors.ts'
import {
  generateKeyPair,
  importSigningKey,
  parsePrivateKeyPem,
  privateKeyToPem,
  publicKeyDer,
  SIGNING_ALGORITHM,
} from './key-pair.ts'
import type { PkiLayout } from './layout.ts'
import {
  BasicConstraintsExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate,
  X509CertificateGenerator,
} from './x509.ts'

export const DEFAULT_CA_DAYS = 3650

export interface CertificateAuthority {
  cert: X509Certificate
  signingKey: webcrypto.CryptoKey
}

export interface NewCertificateAuthority extends CertificateAuthority {
  certPem: string
  keyPem: string
}

export async function createCertificateAuthority(
  days: number,
  now: Date,
): Promise<NewCertificateAuthority> {
  const keys = await generateKeyPair()
  const cert = await X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerialNumber(),
      // A random suffix: two CAs made by this tool never share a name, so a certificate from
      // one is never looked up under the other.
      name: [{ CN: [`canbridge CA ${randomBytes(4).toString('hex')}`] }, { O: ['canbridge'] }],
      ...validityFor(days, now),
      keys,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        new BasicConstraintsExtension(true, 0, true),
        new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
        await SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
      ],
    },
    webcrypto,
  )
  return {
    cert,
    signingKey: keys.privateKey,
    certPem: `${cert.toString('pem')}\n`,
    keyPem: await privateKeyToPem(keys.privateKey),
  }
}

async function readCaFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') {
      throw new KeysError(
        'CA_MISSING',
        `no ${what} at ${path}: create the CA first with "canbridge keys init --dir <dir>", or point --dir at the directory that holds ca.crt and ca.key`,
        { cause: error },
      )
    }
    if (code === 'EACCES' || code === 'EISDIR' || code === 'EPERM') {
      throw new KeysError(
        'CA_UNREADABLE',
        `cannot read the ${what} ${path} (${code}): run as the user who owns it, or fix its permissions`,
        { cause: error },
      )
    }
    throw error
  }
}

/** Reads ca.crt and ca.key and checks they are a CA certificate and its own key. */
export async function loadCertificateAuthority(layout: PkiLayout): Promise<CertificateAuthority> {
  const certPem = await readCaFile(layout.caCert, 'CA certificate')
  const keyPem = await readCaFile(layout.caKey, 'CA private key')
  let nodeCert: NodeX509Certificate
  try {
    nodeCert = new NodeX509Certificate(certPem)
  } catch (error) {
    throw new KeysError(
      'CA_UNREADABLE',
      `${layout.caCert} is not a PEM certificate: restore it from a backup, or make a new CA with "canbridge keys init --force" (every certificate must then be issued again)`,
      { cause: error },
    )
  }
  if (!nodeCert.ca) {
    throw new KeysError(
      'CA_UNREADABLE',
      `${layout.caCert} is not a CA certificate (basicConstraints CA:false): it cannot sign; use the ca.crt that "canbridge keys init" wrote`,
    )
  }
  const key = parsePrivateKeyPem(keyPem)
  if (typeof key === 'string') {
    throw new KeysError(
      'CA_UNREADABLE',
      `${layout.caKey} is ${key}: use the ca.key that "canbridge keys init" wrote with ca.crt`,
    )
  }
  const certPublicKey = nodeCert.publicKey.export({ type: 'spki', format: 'der' })
  if (!publicKeyDer(key).equals(certPublicKey)) {
    throw new KeysError(
      'CA_UNREADABLE',
      `${layout.caKey} is not the key of ${layout.caCert}: put back the pair "canbridge keys init" wrote together`,
    )
  }
  return { cert: new X509Certificate(certPem), signingKey: await importSigningKey(key) }
}
