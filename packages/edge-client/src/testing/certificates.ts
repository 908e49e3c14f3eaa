// Certificates for TLS tests, made with the openssl command (not with the code under test) in
// a temporary directory: ECDSA P-256 keys, a CA, a second CA ("wrong CA"), server certificates
// (good, expired, for another name, from the other CA, self-signed) and a client certificate.
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface KeyPair {
  cert: string
  key: string
}

export interface TestPki {
  dir: string
  ca: KeyPair
  otherCa: KeyPair
  /** signed by `ca`, SAN IP:127.0.0.1 and DNS:localhost */
  server: KeyPair
  /** signed by `ca`, its validity ended before the test */
  expired: KeyPair
  /** signed by `ca`, made for elsewhere.example only (hostname mismatch on 127.0.0.1) */
  otherName: KeyPair
  /** signed by `otherCa`, SAN 127.0.0.1 */
  fromOtherCa: KeyPair
  /** self-signed, SAN 127.0.0.1: trusted only through a pin */
  selfSigned: KeyPair
  /** signed by `ca`, CN = the edge id (clientAuth) */
  client: KeyPair
  edgeId: string
  /** removes the directory */
  remove(): void
}

function openssl(args: string[], cwd: string): string {
  return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

function newKey(dir: string, name: string): string {
  const key = join(dir, `${name}.key`)
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key], dir)
  // the edge refuses a key file other users can read, as ssh does
  chmodSync(key, 0o600)
  return key
}

function selfSignedCert(dir: string, name: string, cn: string, ext: string[] = []): KeyPair {
  const key = newKey(dir, name)
  const cert = join(dir, `${name}.crt`)
  openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      key,
      '-subj',
      `/CN=${cn}`,
      '-days',
      '30',
      '-out',
      cert,
      ...ext,
    ],
    dir,
  )
  return { cert, key }
}

function issued(
  dir: string,
  ca: KeyPair,
  name: string,
  cn: string,
  extensions: string,
  days: number,
): KeyPair {
  const key = newKey(dir, name)
  const csr = join(dir, `${name}.csr`)
  const extFile = join(dir, `${name}.ext`)
  const cert = join(dir, `${name}.crt`)
  openssl(['req', '-new', '-key', key, '-subj', `/CN=${cn}`, '-out', csr], dir)
  writeFileSync(extFile, `${extensions}\n`)
  openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-CAcreateserial',
      // a negative count ends the validity before it starts: an expired certificate
      '-days',
      String(days),
      '-extfile',
      extFile,
      '-out',
      cert,
    ],
    dir,
  )
  return { cert, key }
}

const SERVER_EXT = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'

export function createTestPki(edgeId = 'pi-test'): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'canbridge-pki-'))
  const caExt = [
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]
  const ca = selfSignedCert(dir, 'ca', 'canbridge test CA', caExt)
  const otherCa = selfSignedCert(dir, 'other-ca', 'another CA', caExt)
  return {
    dir,
    ca,
    otherCa,
    server: issued(dir, ca, 'server', 'server', SERVER_EXT, 30),
    expired: issued(dir, ca, 'expired', 'server', SERVER_EXT, -1),
    otherName: issued(
      dir,
      ca,
      'other-name',
      'elsewhere',
      'subjectAltName=DNS:elsewhere.example\nextendedKeyUsage=serverAuth',
      30,
    ),
    fromOtherCa: issued(dir, otherCa, 'from-other-ca', 'server', SERVER_EXT, 30),
    selfSigned: selfSignedCert(dir, 'self-signed', 'server', [
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ]),
    client: issued(dir, ca, 'client', edgeId, 'extendedKeyUsage=clientAuth', 30),
    edgeId,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}

/** The certificate's SHA-256 fingerprint as openssl prints it: `AB:CD:…` (upper case). */
export function opensslFingerprint(certPath: string): string {
  const out = execFileSync(
    'openssl',
    ['x509', '-in', certPath, '-noout', '-fingerprint', '-sha256'],
    {
      encoding: 'utf8',
    },
  )
  const match = /Fingerprint=([0-9A-F:]+)/i.exec(out)
  if (!match) throw new Error(`no fingerprint in: ${out}`)
  return match[1]!.toUpperCase()
}

/** A file's text (PEM files for servers). */
export function pem(path: string): string {
  return readFileSync(path, 'utf8')
}
