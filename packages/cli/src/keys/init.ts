// "keys init": a new CA, the server certificate and, optionally, the first edges, in one
// directory. Everything is generated in memory and checked before the first file is written.
import { hostname } from 'node:os'
import { createCertificateAuthority, DEFAULT_CA_DAYS } from './certificate-authority.ts'
import { type EdgeMaterial, edgeLeftovers, prepareEdge } from './edge-enrollment.ts'
import { edgeIdsOnDisk } from './edge-listing.ts'
import { readTokenTable, writeTokenTable } from './edge-tokens.ts'
import { KeysError } from './errors.ts'
import { fingerprintOfDer } from './fingerprint.ts'
import { checkEdgeId, checkServerIp, checkServerName, parseDays } from './inputs.ts'
import { FILE_MODE, type PkiLayout, pkiLayout } from './layout.ts'
import { DEFAULT_LEAF_DAYS, issueServerCertificate } from './leaf-certificates.ts'
import {
  checkPkiDirectory,
  existingPaths,
  makePrivateDirectory,
  type WrittenFile,
  writePlannedFiles,
} from './secure-files.ts'

export interface InitOptions {
  /** default `./canbridge-pki` */
  dir?: string
  /** DNS names in the server certificate; the first is its CN */
  serverNames?: readonly string[]
  /** IP addresses in the server certificate */
  serverIps?: readonly string[]
  /** edges to enrol now (more later with `addEdge`) */
  edges?: readonly string[]
  /** validity of the server and edge certificates, default 825 */
  days?: number
  /** validity of the CA, default 3650 */
  caDays?: number
  /** replace existing files instead of refusing */
  force?: boolean
  /** the time of issuance (default: now); tests pass a past time to make expired certificates */
  now?: Date
}

export interface ServerCertificateInfo {
  commonName: string
  names: string[]
  ips: string[]
  notAfter: Date
  fingerprint: string
}

export interface InitResult {
  layout: PkiLayout
  written: WrittenFile[]
  ca: { subject: string; notAfter: Date; fingerprint: string }
  server: ServerCertificateInfo
  edges: { edgeId: string; notAfter: Date }[]
  /** edge ids left in the directory from before, whose certificates the new CA did not sign */
  staleEdges: string[]
  /** the token-table entries of edges not enrolled in this run, kept as they were */
  keptTokenEntries: string[]
}

/** With neither names nor addresses given: this machine's name, localhost and loopback. */
export function defaultServerNames(): { names: string[]; ips: string[] } {
  const names = ['localhost']
  const host = hostname()
  try {
    names.unshift(checkServerName(host))
  } catch (error) {
    // A host name that is no DNS name (e.g. with "_") is left out, not fatal.
    if (!(error instanceof KeysError)) throw error
  }
  return { names: [...new Set(names)], ips: ['127.0.0.1', '::1'] }
}

function serverIdentity(options: InitOptions): { names: string[]; ips: string[] } {
  const names = (options.serverNames ?? []).map(checkServerName)
  const ips = (options.serverIps ?? []).map(checkServerIp)
  if (names.length === 0 && ips.length === 0) return defaultServerNames()
  return { names: [...new Set(names)], ips: [...new Set(ips)] }
}

export async function initPki(options: InitOptions = {}): Promise<InitResult> {
  const layout = pkiLayout(options.dir)
  await checkPkiDirectory(layout.dir)
  const now = options.now ?? new Date()
  const days = parseDays(options.days ?? DEFAULT_LEAF_DAYS, 'days')
  const caDays = parseDays(options.caDays ?? DEFAULT_CA_DAYS, 'CA days')
  if (days > caDays) {
    throw new KeysError(
      'BAD_DAYS',
      `days ${days} is longer than the CA's ${caDays} days: a certificate cannot outlive its CA; lower --days or raise --ca-days`,
    )
  }
  const { names, ips } = serverIdentity(options)
  const edgeIds = [...new Set((options.edges ?? []).map(checkEdgeId))]

  const table = await readTokenTable(layout.tokenTable)
  if (!options.force) {
    const found = await existingPaths([
      layout.caCert,
      layout.caKey,
      layout.serverCert,
      layout.serverKey,
    ])
    for (const edgeId of edgeIds) found.push(...(await edgeLeftovers(layout, table, edgeId)))
    if (found.length > 0) {
      throw new KeysError(
        'FILES_EXIST',
        `nothing written: ${layout.dir} already holds ${found.join(', ')}. Add edges to that CA with "canbridge keys add-edge <id> --dir ${layout.dir}", choose another --dir, or give --force to replace them (a new CA: every edge needs new certificate files)`,
      )
    }
  }
  // Certificates of other edges stay, but the new CA did not sign them: the result says so.
  const staleEdges = (await edgeIdsOnDisk(layout, ['crt'])).filter((id) => !edgeIds.includes(id))

  const ca = await createCertificateAuthority(caDays, now)
  const server = await issueServerCertificate(ca, {
    names,
    ips,
    days,
    now,
    path: layout.serverCert,
  })
  const edges: EdgeMaterial[] = []
  for (const edgeId of edgeIds) edges.push(await prepareEdge(ca, layout, edgeId, days, now))

  await makePrivateDirectory(layout.dir)
  if (edges.length > 0) await makePrivateDirectory(layout.edgesDir)
  const written = await writePlannedFiles([
    { path: layout.caCert, content: ca.certPem, mode: FILE_MODE.PUBLIC, what: 'CA certificate' },
    { path: layout.caKey, content: ca.keyPem, mode: FILE_MODE.SECRET, what: 'CA private key' },
    {
      path: layout.serverCert,
      content: server.certPem,
      mode: FILE_MODE.PUBLIC,
      what: 'server certificate',
    },
    {
      path: layout.serverKey,
      content: server.keyPem,
      mode: FILE_MODE.SECRET,
      what: 'server private key',
    },
    ...edges.flatMap((edge) => edge.planned),
  ])
  const keptTokenEntries = Object.keys(table.edges).filter((id) => !edgeIds.includes(id))
  for (const edge of edges) table.edges[edge.edgeId] = edge.token
  await writeTokenTable(layout.tokenTable, table)
  written.push({
    path: layout.tokenTable,
    mode: FILE_MODE.SECRET,
    what: "the server's token table",
  })

  return {
    layout,
    written,
    ca: {
      subject: ca.cert.subject,
      notAfter: ca.cert.notAfter,
      fingerprint: fingerprintOfDer(new Uint8Array(ca.cert.rawData)),
    },
    server: {
      commonName: names[0] ?? ips[0]!,
      names,
      ips,
      notAfter: server.notAfter,
      fingerprint: fingerprintOfDer(new Uint8Array(server.cert.rawData)),
    },
    edges: edges.map(({ edgeId, notAfter }) => ({ edgeId, notAfter })),
    staleEdges,
    keptTokenEntries,
  }
}
