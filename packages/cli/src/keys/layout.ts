// Where each file of a canbridge PKI directory lives. The TLS code reads the same names.
import { join } from 'node:path'

export const DEFAULT_PKI_DIR = './canbridge-pki'

export interface PkiLayout {
  dir: string
  caCert: string
  caKey: string
  serverCert: string
  serverKey: string
  edgesDir: string
  /** the server's token table: `{ "version": 1, "edges": { "<edgeId>": "<token>" } }` */
  tokenTable: string
}

export interface EdgeFiles {
  cert: string
  key: string
  token: string
}

export function pkiLayout(dir: string = DEFAULT_PKI_DIR): PkiLayout {
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    edgesDir: join(dir, 'edges'),
    tokenTable: join(dir, 'edge-tokens.json'),
  }
}

/** The files of one edge; `edgeId` must have passed `checkEdgeId` (it is a file name). */
export function edgeFiles(layout: PkiLayout, edgeId: string): EdgeFiles {
  return {
    cert: join(layout.edgesDir, `${edgeId}.crt`),
    key: join(layout.edgesDir, `${edgeId}.key`),
    token: join(layout.edgesDir, `${edgeId}.token`),
  }
}

export const FILE_MODE = { SECRET: 0o600, PUBLIC: 0o644, DIRECTORY: 0o700 } as const
