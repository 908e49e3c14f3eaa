// Test PKIs made with the package's own key tool (`canbridge keys`), in a temp directory:
// a CA with a server certificate for 127.0.0.1 and edges, and a second, foreign CA.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { addEdge, edgeFiles, initPki, type PkiLayout } from '../../src/keys/index.ts'

export interface TestPki {
  layout: PkiLayout
  /** ca.crt, for `tls.ca` of a client */
  ca: Buffer
  edge(edgeId: string): Promise<{ cert: Buffer; key: Buffer; token: string }>
  /** an edge certificate that expired yesterday */
  expiredEdge(edgeId: string): Promise<{ cert: Buffer; key: Buffer }>
  remove(): Promise<void>
}

export async function makePki(edges: string[] = ['pi-a'], name = 'pki'): Promise<TestPki> {
  const root = await mkdtemp(join(tmpdir(), 'canbridge-tls-'))
  const dir = join(root, name)
  const { layout } = await initPki({
    dir,
    serverNames: ['localhost'],
    serverIps: ['127.0.0.1'],
    edges,
  })
  const files = async (edgeId: string) => {
    const f = edgeFiles(layout, edgeId)
    return {
      cert: await readFile(f.cert),
      key: await readFile(f.key),
      token: (await readFile(f.token, 'utf8')).trim(),
    }
  }
  return {
    layout,
    ca: await readFile(layout.caCert),
    edge: files,
    async expiredEdge(edgeId) {
      const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000)
      await addEdge({ dir, edgeId, days: 1, now: twoDaysAgo })
      const { cert, key } = await files(edgeId)
      return { cert, key }
    },
    remove: () => rm(root, { recursive: true, force: true }),
  }
}
