// "keys add-edge": one more edge for an existing CA: certificate, key, token, and its entry
// in the server's token table.
import { loadCertificateAuthority } from './certificate-authority.ts'
import { edgeLeftovers, prepareEdge } from './edge-enrollment.ts'
import { readTokenTable, writeTokenTable } from './edge-tokens.ts'
import { KeysError } from './errors.ts'
import { checkEdgeId, parseDays } from './inputs.ts'
import { type EdgeFiles, FILE_MODE, type PkiLayout, pkiLayout } from './layout.ts'
import { DEFAULT_LEAF_DAYS } from './leaf-certificates.ts'
import {
  checkPkiDirectory,
  makePrivateDirectory,
  type WrittenFile,
  writePlannedFiles,
} from './secure-files.ts'

export interface AddEdgeOptions {
  edgeId: string
  /** default `./canbridge-pki`; must hold ca.crt and ca.key */
  dir?: string
  /** validity of the edge certificate, default 825 */
  days?: number
  /** replace the edge's files and token instead of refusing */
  force?: boolean
  /** the time of issuance (default: now); tests pass a past time to make expired certificates */
  now?: Date
}

export interface AddEdgeResult {
  layout: PkiLayout
  edgeId: string
  files: EdgeFiles
  notAfter: Date
  written: WrittenFile[]
  /** what existed before and was replaced (with `force`) */
  replaced: string[]
}

export async function addEdge(options: AddEdgeOptions): Promise<AddEdgeResult> {
  const edgeId = checkEdgeId(options.edgeId)
  const days = parseDays(options.days ?? DEFAULT_LEAF_DAYS, 'days')
  const layout = pkiLayout(options.dir)
  await checkPkiDirectory(layout.dir)
  const ca = await loadCertificateAuthority(layout)
  const table = await readTokenTable(layout.tokenTable)
  const replaced = await edgeLeftovers(layout, table, edgeId)
  if (replaced.length > 0 && !options.force) {
    throw new KeysError(
      'FILES_EXIST',
      `edge ${edgeId} already exists (${replaced.join(', ')}): nothing written. Give --force to issue it new files and a new token (the old ones stop working once the server has the new table), or choose another id`,
    )
  }
  const edge = await prepareEdge(ca, layout, edgeId, days, options.now ?? new Date())
  await makePrivateDirectory(layout.edgesDir)
  const written = await writePlannedFiles(edge.planned)
  table.edges[edgeId] = edge.token
  await writeTokenTable(layout.tokenTable, table)
  written.push({
    path: layout.tokenTable,
    mode: FILE_MODE.SECRET,
    what: "the server's token table",
  })
  return { layout, edgeId, files: edge.files, notAfter: edge.notAfter, written, replaced }
}
