// How the server link is protected, from the TLS and token settings checked together: files
// read and their contents checked once at startup (a bad one stops the daemon with exit code
// 2, saying what to fix), and plain TCP past this host refused unless --insecure says so.
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto'
import { ConfigError, type EdgeConfig, type ServerAddress } from '../../config.ts'
import { formatPin } from '../../pins.ts'
import { readPublicFile, readSecretFile, readTokenFile } from './secret-files.ts'

export interface TlsSettings {
  /** PEM of the CA that signs the server certificate; null: the pins alone verify it */
  ca: string | null
  caFile: string | null
  /** SHA-256 fingerprints (64 upper-case hex digits) the server's leaf certificate may have */
  pins: string[]
  /** the name checked against the certificate (and sent as SNI) when not the --server host */
  servername: string | null
  /** the client certificate (PEM chain) and its key */
  cert: string | null
  key: string | null
}

/** What the socket-write worker needs (plain data: it crosses to the worker in workerData). */
export interface LinkSecurity {
  /** null: no TLS */
  tls: TlsSettings | null
  /** the edge's token (PROTOCOL.md §5.13); null: none */
  token: string | null
  /** plain TCP past this host without a token, allowed by --insecure: warned once, at start */
  insecure: boolean
}

export const PLAIN_LINK: LinkSecurity = { tls: null, token: null, insecure: false }

export type SecuritySettings = Pick<
  EdgeConfig,
  | 'server'
  | 'edgeId'
  | 'tlsCa'
  | 'tlsPins'
  | 'tlsServername'
  | 'tlsCert'
  | 'tlsKey'
  | 'tokenFile'
  | 'insecure'
>

export interface ResolvedSecurity {
  security: LinkSecurity
  /** worth a warning at startup (an expired client certificate, a token without TLS, ...) */
  warnings: string[]
}

/** 127.0.0.0/8, ::1 and localhost: plain TCP there never leaves this host. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase()
  return (
    h === 'localhost' ||
    h === '::1' ||
    /^127\.\d+\.\d+\.\d+$/.test(h) ||
    /^::ffff:127\.\d+\.\d+\.\d+$/.test(h)
  )
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/

/** The certificates of a PEM file, each parsed, or a ConfigError that says what the file is. */
function certificates(pem: string, setting: string, path: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? []
  if (blocks.length === 0) {
    throw new ConfigError(
      PEM_PRIVATE_KEY.test(pem)
        ? `${setting} ${path} holds a private key, not a certificate: give the certificate file (.crt)`
        : `${setting} ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----); a DER file converts with: openssl x509 -inform der -in FILE -out FILE.pem`,
    )
  }
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block)
    } catch (error) {
      throw new ConfigError(
        `${setting} ${path}: certificate ${i + 1} is damaged: ${(error as Error).message}`,
      )
    }
  })
}

function privateKey(pem: string, path: string): KeyObject {
  try {
    return createPrivateKey(pem)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new ConfigError(
      code === 'ERR_MISSING_PASSPHRASE'
        ? `--tls-key ${path} is encrypted with a passphrase: the edge needs it unencrypted (openssl pkey -in ${path} -out plain.key), readable by its user only`
        : `--tls-key ${path} is not a PEM private key: ${(error as Error).message}`,
    )
  }
}

/** The edge ids a client certificate is made for: its CN and urn:canbridge:edge:<id> URIs. */
export function certificateEdgeIds(cert: X509Certificate): string[] {
  const ids: string[] = []
  for (const line of cert.subject.split('\n')) if (line.startsWith('CN=')) ids.push(line.slice(3))
  for (const name of (cert.subjectAltName ?? '').split(', ')) {
    const match = /^URI:urn:canbridge:edge:(.+)$/.exec(name)
    if (match) ids.push(match[1]!)
  }
  return ids
}

function validityWarning(cert: X509Certificate, what: string, now = Date.now()): string[] {
  if (now > Date.parse(cert.validTo)) return [`${what} expired on ${cert.validTo}`]
  if (now < Date.parse(cert.validFrom)) {
    return [`${what} is valid only from ${cert.validFrom}: is this device's clock right?`]
  }
  return []
}

function resolveTls(config: SecuritySettings, warnings: string[]): TlsSettings {
  const { tlsCa, tlsPins, tlsCert, tlsKey } = config
  if ((tlsCert === null) !== (tlsKey === null)) {
    throw new ConfigError(
      tlsCert === null
        ? '--tls-key without --tls-cert: give the client certificate too (--tls-cert FILE)'
        : "--tls-cert without --tls-key: give the certificate's private key too (--tls-key FILE)",
    )
  }
  if (tlsCa === null && tlsPins.length === 0) {
    throw new ConfigError(
      'TLS without a way to verify the server: add --tls-ca FILE (the CA that signed the server certificate, e.g. ca.crt from "canbridge keys") or --tls-pin sha256:… (the server certificate\'s fingerprint)',
    )
  }
  let ca: string | null = null
  if (tlsCa !== null) {
    ca = readPublicFile(tlsCa, '--tls-ca')
    for (const cert of certificates(ca, '--tls-ca', tlsCa)) {
      warnings.push(
        ...validityWarning(
          cert,
          `the CA certificate in ${tlsCa} (${cert.subject.replaceAll('\n', ', ')})`,
        ),
      )
    }
  }
  let cert: string | null = null
  let key: string | null = null
  if (tlsCert !== null && tlsKey !== null) {
    cert = readPublicFile(tlsCert, '--tls-cert')
    const leaf = certificates(cert, '--tls-cert', tlsCert)[0]!
    key = readSecretFile(tlsKey, '--tls-key')
    if (!leaf.checkPrivateKey(privateKey(key, tlsKey))) {
      throw new ConfigError(
        `--tls-key ${tlsKey} does not belong to --tls-cert ${tlsCert} (another key pair): give the key made with that certificate`,
      )
    }
    const ids = certificateEdgeIds(leaf)
    if (!ids.includes(config.edgeId)) {
      throw new ConfigError(
        `--tls-cert ${tlsCert} is made for edge ${ids.map((id) => `"${id}"`).join(', ') || '(no CN)'}, but this edge is "${config.edgeId}": the server refuses a certificate of another edge; set --edge-id to the certificate's CN or use this edge's own certificate`,
      )
    }
    warnings.push(...validityWarning(leaf, `the client certificate ${tlsCert}`))
  }
  return { ca, caFile: tlsCa, pins: tlsPins, servername: config.tlsServername, cert, key }
}

/** The warning of an --insecure link, logged once at start (not at every reconnect). */
export const INSECURE_WARNING =
  'INSECURE: plain TCP without TLS or token to a server off this host (--insecure): anyone on the network path can read the bus traffic and put frames on the bus'

/** Checks the TLS and token settings together and reads their files; throws ConfigError. */
export function resolveLinkSecurity(config: SecuritySettings): ResolvedSecurity {
  const warnings: string[] = []
  // one setting for every server in the list: each is checked against it
  const servers: readonly ServerAddress[] = config.server
  const tlsGiven = [
    config.tlsCa !== null && '--tls-ca',
    config.tlsPins.length > 0 && '--tls-pin',
    config.tlsServername !== null && '--tls-servername',
    config.tlsCert !== null && '--tls-cert',
    config.tlsKey !== null && '--tls-key',
  ].filter((flag) => flag !== false)
  const unix = servers.find((server) => server.kind === 'unix')
  if (unix !== undefined && tlsGiven.length > 0) {
    throw new ConfigError(
      `TLS does not apply to a Unix socket server (unix:${unix.path}): remove ${tlsGiven.join(', ')}${servers.length > 1 ? ' (the TLS settings apply to every --server)' : ''}; the socket file's owner and mode protect it (--token-file still works)`,
    )
  }
  if (config.tlsServername !== null && new Set(servers.map(hostOf)).size > 1) {
    warnings.push(
      `--tls-servername ${config.tlsServername} is checked at every server (${servers.map(hostOf).join(', ')}): each server certificate must carry that name; without --tls-servername each server is checked by its own host name`,
    )
  }
  const tls = tlsGiven.length > 0 ? resolveTls(config, warnings) : null
  const token = config.tokenFile === null ? null : readTokenFile(config.tokenFile)
  const remote = servers.filter((server) => server.kind === 'tcp' && !isLoopback(server.host))
  const remoteHosts = remote.map(hostOf).join(', ')
  if (remote.length > 0 && tls === null && token === null && !config.insecure) {
    throw new ConfigError(
      `plain TCP to ${remoteHosts} without authentication: anyone on that network could read the bus and put frames on it. Add TLS (--tls-ca FILE or --tls-pin sha256:…, with --tls-cert/--tls-key or --token-file), or a token (--token-file FILE), or, on a lab network only, --insecure`,
    )
  }
  if (remote.length > 0 && tls === null && token !== null) {
    warnings.push(
      'the token authenticates both ends, but without TLS the link is not encrypted and a man-in-the-middle can relay it: add --tls-ca or --tls-pin',
    )
  }
  const insecure = remote.length > 0 && tls === null && token === null
  if (config.insecure && !insecure) {
    warnings.push('--insecure has no effect: the link is protected or stays on this host')
  }
  return { security: { tls, token, insecure }, warnings }
}

function hostOf(server: ServerAddress): string {
  return server.kind === 'unix' ? `unix:${server.path}` : server.host
}

/** One line on how the link is protected, for the startup log and doctor. */
export function describeLinkSecurity(security: LinkSecurity): string {
  const parts: string[] = []
  const tls = security.tls
  if (tls) {
    const verify = [
      tls.caFile !== null && `CA ${tls.caFile}`,
      tls.pins.length > 0 && `pin ${tls.pins.map(formatPin).join(' or ')}`,
    ].filter((part) => part !== false)
    parts.push(`TLS 1.3, server verified by ${verify.join(' and ')}`)
    if (tls.cert !== null) parts.push('client certificate')
  } else {
    parts.push('no TLS')
  }
  parts.push(security.token !== null ? 'token' : 'no token')
  if (security.insecure) parts.push('INSECURE (--insecure)')
  return parts.join(', ')
}
