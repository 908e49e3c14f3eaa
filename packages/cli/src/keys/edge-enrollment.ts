// What one edge gets (certificate, key, token) and what of it already exists: shared by
// "init --edge" and "add-edge".
import type { CertificateAuthority } from './certificate-authority.ts'
import { generateEdgeToken, type TokenTable } from './edge-tokens.ts'
import { type EdgeFiles, edgeFiles, FILE_MODE, type PkiLayout } from './layout.ts'
import { issueEdgeCertificate } from './leaf-certificates.ts'
import { existingPaths, type PlannedFile } from './secure-files.ts'

export interface EdgeMaterial {
  edgeId: string
  files: EdgeFiles
  token: string
  notAfter: Date
  planned: PlannedFile[]
}

export async function prepareEdge(
  ca: CertificateAuthority,
  layout: PkiLayout,
  edgeId: string,
  days: number,
  now: Date,
): Promise<EdgeMaterial> {
  const files = edgeFiles(layout, edgeId)
  const issued = await issueEdgeCertificate(ca, { edgeId, days, now, path: files.cert })
  const token = generateEdgeToken()
  return {
    edgeId,
    files,
    token,
    notAfter: issued.notAfter,
    planned: [
      {
        path: files.cert,
        content: issued.certPem,
        mode: FILE_MODE.PUBLIC,
        what: `edge ${edgeId} certificate`,
      },
      {
        path: files.key,
        content: issued.keyPem,
        mode: FILE_MODE.SECRET,
        what: `edge ${edgeId} private key`,
      },
      {
        path: files.token,
        content: `${token}\n`,
        mode: FILE_MODE.SECRET,
        what: `edge ${edgeId} token`,
      },
    ],
  }
}

/** The edge's files that exist, plus its token-table entry if it has one. */
export async function edgeLeftovers(
  layout: PkiLayout,
  table: TokenTable,
  edgeId: string,
): Promise<string[]> {
  const files = edgeFiles(layout, edgeId)
  const found = await existingPaths([files.cert, files.key, files.token])
  if (Object.hasOwn(table.edges, edgeId))
    found.push(`the entry "${edgeId}" in ${layout.tokenTable}`)
  return found
}
