// "keys show": what a PKI directory holds (subjects, names, validity, fingerprints) and what
// is wrong with it: expiry within 30 days, certificates the CA did not sign, keys that do not
// match, tokens that differ from the table, secrets others can read.
import type { X509Certificate } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { isoDay } from './certificate-fields.ts'
import { edgeIdsOnDisk } from './edge-listing.ts'
import { readTokenTable } from './edge-tokens.ts'
import { KeysError } from './errors.ts'
import { fingerprintOfDer, readCertificateFile } from './fingerprint.ts'
import { parsePrivateKeyPem, publicKeyDer } from './key-pair.ts'
import { edgeFiles, type PkiLayout, pkiLayout } from './layout.ts'
import { checkPkiDirectory, pathExists } from './secure-files.ts'

export const EXPIRY_WARNING_DAYS = 30
const DAY_MS = 86_400_000

export interface CertificateSummary {
  path: string
  /** e.g. `CN=pi-garage` (attributes joined with ", ") */
  subject: string
  /** e.g. `DNS:localhost`, `IP:::1`, `URI:urn:canbridge:edge:pi-garage` */
  altNames: string[]
  notBefore: Date
  notAfter: Date
  fingerprint: string
  /** undefined when there is no readable ca.crt to check against */
  signedByCa: boolean | undefined
  /** the key file beside it; undefined when it is not there */
  keyPath: string | undefined
  /** undefined when there is no key file, or it is not a P-256 key */
  keyMatches: boolean | undefined
}

export interface EdgeSummary {
  edgeId: string
  certificate: CertificateSummary | undefined
  tokenPath: string | undefined
  inTokenTable: boolean
}

export interface PkiSummary {
  layout: PkiLayout
  ca: CertificateSummary | undefined
  server: CertificateSummary | undefined
  edges: EdgeSummary[]
  /** undefined when there is no edge-tokens.json */
  tokenTableEntries: number | undefined
  warnings: string[]
  /** facts worth knowing that are not problems (e.g. ca.key kept elsewhere) */
  notes: string[]
}

export async function inspectPki(options: { dir?: string; now?: Date } = {}): Promise<PkiSummary> {
  const layout = pkiLayout(options.dir)
  await checkPkiDirectory(layout.dir)
  const now = options.now ?? new Date()
  if (!(await pathExists(layout.dir))) {
    throw new KeysError(
      'NO_PKI',
      `no directory ${layout.dir}: create it with "canbridge keys init --dir ${layout.dir}", or give the --dir where your keys are`,
    )
  }
  const warnings: string[] = []
  const notes: string[] = []
  const caCert = await readOptionalCertificate(layout.caCert, warnings)
  const summarize = (path: string, keyPath: string) =>
    summarizeCertificate(path, keyPath, caCert, warnings)

  const ca = caCert ? await summarize(layout.caCert, layout.caKey) : undefined
  if (ca?.signedByCa === false) {
    warnings.push(`${layout.caCert} is not self-signed: not a CA "canbridge keys init" made`)
  }
  if (ca && ca.keyPath === undefined) {
    notes.push(`${layout.caKey} is not here: fine if you keep it offline, but "add-edge" needs it`)
  }
  const server = await summarize(layout.serverCert, layout.serverKey)

  const tableExists = await pathExists(layout.tokenTable)
  const table = await readTokenTable(layout.tokenTable)
  const ids = new Set([...(await edgeIdsOnDisk(layout)), ...Object.keys(table.edges)])
  const edges: EdgeSummary[] = []
  for (const edgeId of [...ids].sort()) {
    const files = edgeFiles(layout, edgeId)
    const tokenPath = (await pathExists(files.token)) ? files.token : undefined
    const inTokenTable = Object.hasOwn(table.edges, edgeId)
    edges.push({
      edgeId,
      certificate: await summarize(files.cert, files.key),
      tokenPath,
      inTokenTable,
    })
    if (tokenPath) {
      const token = (await readFile(tokenPath, 'utf8')).trim()
      if (!inTokenTable) {
        warnings.push(
          `${tokenPath} has no entry in ${layout.tokenTable}: the server will refuse it; run "canbridge keys add-edge ${edgeId} --force --dir ${layout.dir}"`,
        )
      } else if (token !== table.edges[edgeId]) {
        warnings.push(
          `${tokenPath} differs from its entry in ${layout.tokenTable}: that edge's token login fails; run "canbridge keys add-edge ${edgeId} --force --dir ${layout.dir}"`,
        )
      }
    }
  }

  const newKeys = `make new keys with "canbridge keys init --force --dir ${layout.dir}" (a new CA: every edge needs new files too)`
  const checks: [CertificateSummary | undefined, string][] = [
    [ca, newKeys],
    [server, newKeys],
    ...edges.map((edge): [CertificateSummary | undefined, string] => [
      edge.certificate,
      `issue it again with "canbridge keys add-edge ${edge.edgeId} --force --dir ${layout.dir}"`,
    ]),
  ]
  for (const [summary, renew] of checks) {
    if (!summary) continue
    warnings.push(...certificateProblems(summary, summary !== ca, layout.caCert, renew, now))
  }
  for (const path of [
    layout.caKey,
    layout.serverKey,
    layout.tokenTable,
    ...edges.flatMap((edge) => {
      const files = edgeFiles(layout, edge.edgeId)
      return [files.key, files.token]
    }),
  ]) {
    const mode = await fileMode(path)
    if (mode !== undefined && (mode & 0o077) !== 0) {
      warnings.push(
        `${path} can be read by other users (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 ${path}`,
      )
    }
  }
  return {
    layout,
    ca,
    server,
    edges,
    tokenTableEntries: tableExists ? Object.keys(table.edges).length : undefined,
    warnings,
    notes,
  }
}

async function readOptionalCertificate(path: string, warnings: string[]) {
  if (!(await pathExists(path))) return undefined
  try {
    return await readCertificateFile(path)
  } catch (error) {
    if (!(error instanceof KeysError)) throw error
    warnings.push(error.message)
    return undefined
  }
}

async function summarizeCertificate(
  path: string,
  keyPath: string,
  ca: X509Certificate | undefined,
  warnings: string[],
): Promise<CertificateSummary | undefined> {
  const cert = await readOptionalCertificate(path, warnings)
  if (!cert) return undefined
  const hasKey = await pathExists(keyPath)
  return {
    path,
    subject: cert.subject.split('\n').join(', '),
    altNames: altNamesOf(cert),
    notBefore: cert.validFromDate,
    notAfter: cert.validToDate,
    fingerprint: fingerprintOfDer(cert.raw),
    signedByCa: ca ? cert.checkIssued(ca) && cert.verify(ca.publicKey) : undefined,
    keyPath: hasKey ? keyPath : undefined,
    keyMatches: hasKey ? await keyMatches(cert, keyPath) : undefined,
  }
}

function altNamesOf(cert: X509Certificate): string[] {
  if (!cert.subjectAltName) return []
  return cert.subjectAltName.split(', ').map((name) => {
    if (!name.startsWith('IP Address:')) return name
    const ip = name.slice('IP Address:'.length)
    // Node spells IPv6 in full (0:0:0:0:0:0:0:1); the URL parser gives the short form.
    return `IP:${ip.includes(':') ? new URL(`http://[${ip}]`).hostname.slice(1, -1) : ip}`
  })
}

async function keyMatches(cert: X509Certificate, keyPath: string): Promise<boolean | undefined> {
  const key = parsePrivateKeyPem(await readFile(keyPath, 'utf8'))
  if (typeof key === 'string') return undefined
  return publicKeyDer(key).equals(cert.publicKey.export({ type: 'spki', format: 'der' }))
}

function certificateProblems(
  summary: CertificateSummary,
  mustBeSignedByCa: boolean,
  caPath: string,
  renew: string,
  now: Date,
): string[] {
  const problems: string[] = []
  const daysLeft = Math.floor((summary.notAfter.getTime() - now.getTime()) / DAY_MS)
  if (summary.notAfter <= now) {
    problems.push(`${summary.path} expired on ${isoDay(summary.notAfter)}: ${renew}`)
  } else if (summary.notAfter.getTime() - now.getTime() <= EXPIRY_WARNING_DAYS * DAY_MS) {
    problems.push(
      `${summary.path} expires on ${isoDay(summary.notAfter)} (in ${daysLeft} days): ${renew}`,
    )
  }
  if (summary.notBefore > now) {
    problems.push(
      `${summary.path} is not valid before ${summary.notBefore.toISOString()}: is this machine's clock right?`,
    )
  }
  if (mustBeSignedByCa && summary.signedByCa === false) {
    problems.push(
      `${summary.path} was not signed by ${caPath} (left from an earlier CA?): ${renew}`,
    )
  }
  if (summary.keyMatches === false) {
    problems.push(`${summary.keyPath} is not the key of ${summary.path}: ${renew}`)
  }
  if (summary.keyPath !== undefined && summary.keyMatches === undefined) {
    problems.push(`${summary.keyPath} is not an ECDSA P-256 private key: ${renew}`)
  }
  return problems
}

async function fileMode(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mode & 0o777
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}
