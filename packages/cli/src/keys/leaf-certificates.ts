// End-entity certificates signed by the CA: the server's (serverAuth, its DNS names and IP
// addresses) and one per edge (clientAuth, CN and a URI naming the edge id).
import { webcrypto } from 'node:crypto'
import type { CertificateAuthority } from './certificate-authority.ts'
import { isoDay, randomSerialNumber, validityFor } from './certificate-fields.ts'
import { KeysError } from './errors.ts'
import { generateKeyPair, privateKeyToPem, SIGNING_ALGORITHM } from './key-pair.ts'
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  type JsonGeneralName,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  type X509Certificate,
  X509CertificateGenerator,
} from './x509.ts'

export const DEFAULT_LEAF_DAYS = 825

export interface IssuedCertificate {
  cert: X509Certificate
  certPem: string
  keyPem: string
  notAfter: Date
}

interface LeafRequest {
  commonName: string
  altNames: JsonGeneralName[]
  usage: ExtendedKeyUsage
  days: number
  now: Date
  /** the file it goes to, for the error message */
  path: string
}

async function issueLeaf(
  ca: CertificateAuthority,
  request: LeafRequest,
): Promise<IssuedCertificate> {
  const validity = validityFor(request.days, request.now)
  if (validity.notAfter > ca.cert.notAfter) throw outlivesCa(ca.cert.notAfter, request)
  const keys = await generateKeyPair()
  const cert = await X509CertificateGenerator.create(
    {
      serialNumber: randomSerialNumber(),
      subject: [{ CN: [request.commonName] }],
      issuer: ca.cert.subjectName,
      ...validity,
      publicKey: keys.publicKey,
      signingKey: ca.signingKey,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        new BasicConstraintsExtension(false, undefined, true),
        // ECDSA in TLS 1.3 only signs: no keyEncipherment / keyAgreement.
        new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true),
        new ExtendedKeyUsageExtension([request.usage]),
        new SubjectAlternativeNameExtension(request.altNames),
        await SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
        await AuthorityKeyIdentifierExtension.create(ca.cert.publicKey, false, webcrypto),
      ],
    },
    webcrypto,
  )
  return {
    cert,
    certPem: `${cert.toString('pem')}\n`,
    keyPem: await privateKeyToPem(keys.privateKey),
    notAfter: cert.notAfter,
  }
}

function outlivesCa(caEnd: Date, request: LeafRequest): KeysError {
  const end = isoDay(caEnd)
  const newCa = 'make a new CA with "canbridge keys init --force" and issue every certificate again'
  if (caEnd <= request.now) {
    return new KeysError('CA_TOO_SHORT', `the CA certificate expired on ${end}: ${newCa}`)
  }
  const daysLeft = Math.floor((caEnd.getTime() - request.now.getTime()) / 86_400_000)
  return new KeysError(
    'CA_TOO_SHORT',
    daysLeft < 1
      ? `the CA certificate expires on ${end}, in less than a day: ${newCa}`
      : `${request.path} would outlive the CA (valid until ${end}): give --days ${daysLeft} or less, or make a new CA with "canbridge keys init --force"`,
  )
}

export interface ServerCertificateRequest {
  /** DNS names, already checked; the first (else the first IP) becomes the CN */
  names: readonly string[]
  ips: readonly string[]
  days: number
  now: Date
  path: string
}

export async function issueServerCertificate(
  ca: CertificateAuthority,
  request: ServerCertificateRequest,
): Promise<IssuedCertificate> {
  const commonName = request.names[0] ?? request.ips[0]
  if (commonName === undefined) {
    throw new KeysError(
      'BAD_SERVER_NAME',
      'the server certificate needs at least one --server-name or --server-ip',
    )
  }
  return issueLeaf(ca, {
    commonName,
    altNames: [
      ...request.names.map((value): JsonGeneralName => ({ type: 'dns', value })),
      ...request.ips.map((value): JsonGeneralName => ({ type: 'ip', value })),
    ],
    usage: ExtendedKeyUsage.serverAuth,
    days: request.days,
    now: request.now,
    path: request.path,
  })
}

/** The URI every edge certificate carries besides its CN. */
export function edgeUri(edgeId: string): string {
  return `urn:canbridge:edge:${edgeId}`
}

export async function issueEdgeCertificate(
  ca: CertificateAuthority,
  request: { edgeId: string; days: number; now: Date; path: string },
): Promise<IssuedCertificate> {
  return issueLeaf(ca, {
    commonName: request.edgeId,
    altNames: [{ type: 'url', value: edgeUri(request.edgeId) }],
    usage: ExtendedKeyUsage.clientAuth,
    days: request.days,
    now: request.now,
    path: request.path,
  })
}
