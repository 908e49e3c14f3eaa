// Test PKIs made with the openssl command (not with the package's code) in a temp directory:
// a CA with a server certificate for localhost and 127.0.0.1, and client certificates whose
// CN is the edge id, each with a random token.
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, writeFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface TestPki {
  /** file paths, for `tls.certFile`, `tls.keyFile` and `tls.clientCaFile` of a server */
  layout: { caCert: string; serverCert: string; serverKey: string }
  /** ca.crt, for `tls.ca` of a client */
  ca: Buffer
  edge(edgeId: string): Promise<{ cert: Buffer; key: Buffer; token: string }>
  /** an edge certificate that expired before the test */
  expiredEdge(edgeId: string): Promise<{ cert: Buffer; key: Buffer }>
  remove(): Promise<void>
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
}

function newKey(dir: string, name: string): string {
  const key = join(dir, `${name}.key`)
  openssl(dir, 'ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key)
  chmodSync(key, 0o600)
  return key
}

/** A certificate for `cn` signed by the CA in `dir`; a negative `days` makes it expired. */
function issue(dir: string, name: string, cn: string, extensions: string, days: number) {
  const key = newKey(dir, name)
  const csr = join(dir, `${name}.csr`)
  const extFile = join(dir, `${name}.ext`)
  const cert = join(dir, `${name}.crt`)
  openssl(dir, 'req', '-new', '-key', key, '-subj', `/CN=${cn}`, '-out', csr)
  writeFileSync(extFile, `${extensions}\n`)
  const ca = ['-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial']
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    csr,
    ...ca,
    '-days',
    String(days),
    '-extfile',
    extFile,
    '-out',
    cert,
  )
  return { cert, key }
}

export async function makePki(edges: string[] = ['pi-a'], name = 'pki'): Promise<TestPki> {
  const root = await mkdtemp(join(tmpdir(), 'canbridge-tls-'))
  const dir = join(root, name)
  execFileSync('mkdir', [dir])
  const caKey = newKey(dir, 'ca')
  const caExt = [
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]
  openssl(
    dir,
    'req',
    '-x509',
    '-new',
    '-key',
    caKey,
    '-subj',
    `/CN=${name} test CA`,
    '-days',
    '30',
    ...caExt,
    '-out',
    join(dir, 'ca.crt'),
  )
  const server = issue(
    dir,
    'server',
    'localhost',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth',
    30,
  )
  const tokens = new Map<string, string>()
  const files = async (edgeId: string, days = 30) => {
    const { cert, key } = issue(
      dir,
      `edge-${edgeId}-${days}`,
      edgeId,
      'extendedKeyUsage=clientAuth',
      days,
    )
    return { cert: await readFile(cert), key: await readFile(key) }
  }
  const edge = async (edgeId: string) => {
    if (!tokens.has(edgeId)) tokens.set(edgeId, randomBytes(32).toString('base64url'))
    return { ...(await files(edgeId)), token: tokens.get(edgeId)! }
  }
  for (const edgeId of edges) await edge(edgeId)
  return {
    layout: { caCert: join(dir, 'ca.crt'), serverCert: server.cert, serverKey: server.key },
    ca: await readFile(join(dir, 'ca.crt')),
    edge,
    expiredEdge: (edgeId) => files(edgeId, -1),
    remove: () => rm(root, { recursive: true, force: true }),
  }
}
