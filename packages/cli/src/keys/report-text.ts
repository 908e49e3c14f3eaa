// What the CLI prints for each command's result: files written with their modes, the
// revocation notice, the listing of "show".
import type { AddEdgeResult } from './add-edge.ts'
import { isoDay } from './certificate-fields.ts'
import type { InitResult } from './init.ts'
import type { CertificateSummary, PkiSummary } from './inspect.ts'
import type { RevokeEdgeResult } from './revoke-edge.ts'
import type { WrittenFile } from './secure-files.ts'

function fileLines(written: readonly WrittenFile[]): string[] {
  const width = Math.max(...written.map((file) => file.path.length))
  return written.map(
    (file) =>
      `  ${file.path.padEnd(width)}  ${file.mode.toString(8).padStart(4, '0')}  ${file.what}`,
  )
}

export function initText(result: InitResult): string {
  const { server } = result
  const lines = [
    `Wrote ${result.written.length} files in ${result.layout.dir}:`,
    ...fileLines(result.written),
    '',
    `CA:     ${result.ca.subject}, valid until ${isoDay(result.ca.notAfter)}`,
    `Server: CN=${server.commonName}, names ${[...server.names, ...server.ips].join(', ')}, valid until ${isoDay(server.notAfter)}`,
    `        ${server.fingerprint}`,
  ]
  for (const edge of result.edges) {
    lines.push(`Edge:   CN=${edge.edgeId}, valid until ${isoDay(edge.notAfter)}`)
  }
  if (result.staleEdges.length > 0) {
    lines.push(
      '',
      `Warning: the certificates of ${result.staleEdges.join(', ')} in ${result.layout.edgesDir} were signed by the previous CA and no longer verify; issue them again with "canbridge keys add-edge ID --force --dir ${result.layout.dir}".`,
    )
  }
  if (result.keptTokenEntries.length > 0) {
    lines.push(
      `Kept the token-table entries of ${result.keptTokenEntries.join(', ')}: their token logins keep working.`,
    )
  }
  return `${lines.join('\n')}\n\n`
}

export function addEdgeText(result: AddEdgeResult): string {
  const lines = [
    `${result.replaced.length > 0 ? 'Replaced' : 'Added'} edge ${result.edgeId} (certificate valid until ${isoDay(result.notAfter)}):`,
    ...fileLines(result.written),
  ]
  if (result.replaced.length > 0) {
    lines.push(
      `Its old token stops working once the server has read the new ${result.layout.tokenTable}; its old certificate stays valid until it expires (see "canbridge keys revoke-edge --help").`,
    )
  }
  lines.push(
    `A running server may keep the token table it loaded: restart it unless it reloads ${result.layout.tokenTable}.`,
  )
  return `${lines.join('\n')}\n\n`
}

export function revokeEdgeText(result: RevokeEdgeResult): string {
  const lines = [`Revoked edge ${result.edgeId}:`]
  if (result.removedTokenEntry) lines.push(`  removed its entry from ${result.layout.tokenTable}`)
  for (const path of result.removedFiles) lines.push(`  deleted ${path}`)
  lines.push(
    '',
    result.removedTokenEntry
      ? `Its token no longer logs in once the server has read the new ${result.layout.tokenTable} (restart the server unless it reloads the file).`
      : 'It had no entry in the token table.',
  )
  const cert = result.certificate
  lines.push(
    cert
      ? `Its client certificate is NOT revoked: deleting the file here does not reach the copy on the Pi, which stays valid until ${isoDay(cert.notAfter)} (serial ${cert.serialNumber}, ${cert.fingerprint}). Until then the server accepts it unless told to refuse edge id ${result.edgeId}, or you make a new CA ("canbridge keys init --force") and issue every other edge again.`
      : 'It had no certificate here. If it ever had one, that certificate stays valid until it expires, unless the server refuses its edge id or you make a new CA.',
  )
  return `${lines.join('\n')}\n`
}

function certificateLines(label: string, cert: CertificateSummary | undefined, expected: string) {
  if (!cert) return [`${label}  (none: ${expected})`]
  const lines = [`${label}  ${cert.path}`, `    subject  ${cert.subject}`]
  if (cert.altNames.length > 0) lines.push(`    names    ${cert.altNames.join(', ')}`)
  lines.push(
    `    valid    ${isoDay(cert.notBefore)} to ${isoDay(cert.notAfter)}`,
    `    sha256   ${cert.fingerprint.slice('sha256:'.length)}`,
    `    key      ${cert.keyPath ?? 'not here'}`,
  )
  return lines
}

export function showText(summary: PkiSummary): string {
  const { layout } = summary
  const lines = [
    `PKI directory ${layout.dir}`,
    '',
    ...certificateLines('CA', summary.ca, `run "canbridge keys init --dir ${layout.dir}"`),
    ...certificateLines('Server', summary.server, `run "canbridge keys init --dir ${layout.dir}"`),
    '',
    summary.tokenTableEntries === undefined
      ? `Token table: none (${layout.tokenTable})`
      : `Token table: ${layout.tokenTable}, ${summary.tokenTableEntries} edge${summary.tokenTableEntries === 1 ? '' : 's'}`,
    `Edges: ${summary.edges.length === 0 ? `none (add one with "canbridge keys add-edge ID --dir ${layout.dir}")` : summary.edges.length}`,
  ]
  for (const edge of summary.edges) {
    lines.push(
      ...certificateLines(`  ${edge.edgeId}`, edge.certificate, 'no certificate'),
      `    token    ${edge.tokenPath ?? 'no token file'}${edge.inTokenTable ? ', in the token table' : ', not in the token table'}`,
    )
  }
  if (summary.notes.length > 0) lines.push('', ...summary.notes.map((note) => `Note: ${note}`))
  if (summary.warnings.length > 0) {
    lines.push('', ...summary.warnings.map((warning) => `Warning: ${warning}`))
  }
  return `${lines.join('\n')}\n`
}
