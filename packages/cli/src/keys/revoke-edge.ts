// "keys revoke-edge": takes an edge out of the server's token table and deletes its files.
// Its certificate cannot be taken back this way: any copy stays valid until it expires.
import { rm } from 'node:fs/promises'
import { edgeIdsOnDisk } from './edge-listing.ts'
import { readTokenTable, writeTokenTable } from './edge-tokens.ts'
import { KeysError } from './errors.ts'
import { fingerprintOfDer, readCertificateFile } from './fingerprint.ts'
import { checkEdgeId } from './inputs.ts'
import { edgeFiles, type PkiLayout, pkiLayout } from './layout.ts'
import { checkPkiDirectory, existingPaths } from './secure-files.ts'

export interface RevokeEdgeOptions {
  edgeId: string
  /** default `./canbridge-pki` */
  dir?: string
}

export interface RevokeEdgeResult {
  layout: PkiLayout
  edgeId: string
  removedFiles: string[]
  removedTokenEntry: boolean
  /** the deleted certificate, which copies elsewhere still present until it expires */
  certificate: { notAfter: Date; fingerprint: string; serialNumber: string } | undefined
}

export async function revokeEdge(options: RevokeEdgeOptions): Promise<RevokeEdgeResult> {
  const edgeId = checkEdgeId(options.edgeId)
  const layout = pkiLayout(options.dir)
  await checkPkiDirectory(layout.dir)
  const files = edgeFiles(layout, edgeId)
  const table = await readTokenTable(layout.tokenTable)
  const present = await existingPaths([files.cert, files.key, files.token])
  const inTable = Object.hasOwn(table.edges, edgeId)
  if (present.length === 0 && !inTable) {
    const known = [...new Set([...(await edgeIdsOnDisk(layout)), ...Object.keys(table.edges)])]
    throw new KeysError(
      'UNKNOWN_EDGE',
      `no edge ${edgeId} in ${layout.dir} (${known.length > 0 ? `edges there: ${known.sort().join(', ')}` : 'it has no edges'}): check the id and --dir ("canbridge keys show --dir ${layout.dir}" lists them)`,
    )
  }
  const certificate = present.includes(files.cert) ? await describe(files.cert) : undefined
  if (inTable) {
    delete table.edges[edgeId]
    await writeTokenTable(layout.tokenTable, table)
  }
  for (const path of present) await rm(path)
  return { layout, edgeId, removedFiles: present, removedTokenEntry: inTable, certificate }
}

async function describe(path: string): Promise<RevokeEdgeResult['certificate']> {
  try {
    const cert = await readCertificateFile(path)
    return {
      notAfter: cert.validToDate,
      fingerprint: fingerprintOfDer(cert.raw),
      serialNumber: cert.serialNumber,
    }
  } catch (error) {
    // A damaged file is still removed; there is just nothing to report about it.
    if (error instanceof KeysError && error.code === 'NOT_A_CERTIFICATE') return undefined
    throw error
  }
}
