// What TCPBus needs to authenticate edges: a TLS context (with client certificates when a CA
// is given) and the token table, loaded and checked once at listen with errors that say
// which file to fix.
import { readFile } from 'node:fs/promises'
import { CanInitializationError } from '../errors.ts'
import { TokenTable } from './token-table.ts'

export interface TlsServerOptions {
  /** PEM certificate (chain) of this server, e.g. `server.crt` from `canbridge keys init` */
  certFile: string
  /** its PEM private key, e.g. `server.key` */
  keyFile: string
  /**
   * Require a client certificate signed by this CA (e.g. `ca.crt`); the edge's HELLO must then
   * name the edge the certificate was made for (its CN).
   */
  clientCaFile?: string | undefined
}

export interface EdgeAuthOptions {
  /** `edge-tokens.json` from `canbridge keys` (mode 0600) */
  tokensFile?: string | undefined
  /** `{ edgeId: token }`, instead of or in addition to the file */
  tokens?: Readonly<Record<string, string>> | undefined
}

/** PEM material for `tls.createServer`, checked to form a working context. */
export interface TlsMaterial {
  cert: Buffer
  key: Buffer
  ca?: Buffer
}

export interface ServerSecurity {
  /** undefined: plain TCP */
  tls: TlsMaterial | undefined
  /** edges must present a certificate from the client CA */
  clientCertificates: boolean
  /** edges must prove a token (PROTOCOL.md §5.13) */
  tokens: TokenTable | undefined
}

export async function loadServerSecurity(
  tls: TlsServerOptions | undefined,
  auth: EdgeAuthOptions | undefined,
): Promise<ServerSecurity> {
  return {
    tls: tls === undefined ? undefined : await loadTls(tls),
    clientCertificates: tls?.clientCaFile !== undefined,
    tokens: auth === undefined ? undefined : await loadTokens(auth),
  }
}

async function loadTls(options: TlsServerOptions): Promise<TlsMaterial> {
  if (typeof options.certFile !== 'string' || typeof options.keyFile !== 'string') {
    throw new CanInitializationError(
      'tls needs certFile and keyFile (server.crt and server.key from "canbridge keys init")',
    )
  }
  const cert = await readPem(options.certFile, 'tls.certFile')
  const key = await readPem(options.keyFile, 'tls.keyFile')
  const ca =
    options.clientCaFile === undefined
      ? undefined
      : await readPem(options.clientCaFile, 'tls.clientCaFile')
  checkValidity(cert, options.certFile)
  const material = { cert, key, ...(ca === undefined ? {} : { ca }) }
  try {
    // node:tls (OpenSSL) only when TLS is asked for: see @canbridge/protocol's auth.ts
    process.getBuiltinModule('node:tls').createSecureContext({ ...material, minVersion: 'TLSv1.3' })
    return material
  } catch (error) {
    const reason = (error as Error).message
    const hint = /key values mismatch/i.test(reason)
      ? `${options.keyFile} is not the key of ${options.certFile}`
      : `check that ${options.certFile} and ${options.keyFile} are PEM files`
    throw new CanInitializationError(`cannot use the TLS certificate: ${reason} (${hint})`, {
      cause: error,
    })
  }
}

async function readPem(path: string, setting: string): Promise<Buffer> {
  try {
    return await readFile(path)
  } catch (error) {
    throw new CanInitializationError(
      `cannot read ${setting} ${path}: ${(error as Error).message}`,
      {
        cause: error,
      },
    )
  }
}

/** An expired or not-yet-valid server certificate would fail every edge: say so at listen. */
function checkValidity(pem: Buffer, path: string): void {
  let cert: import('node:crypto').X509Certificate
  try {
    cert = new (process.getBuiltinModule('node:crypto').X509Certificate)(pem)
  } catch (error) {
    throw new CanInitializationError(
      `${path} is not a PEM certificate: ${(error as Error).message}`,
    )
  }
  const now = Date.now()
  if (Date.parse(cert.validTo) < now) {
    throw new CanInitializationError(
      `the server certificate ${path} expired on ${cert.validTo}: make a new one with "canbridge keys init --force"`,
    )
  }
  if (Date.parse(cert.validFrom) > now) {
    throw new CanInitializationError(
      `the server certificate ${path} is not valid before ${cert.validFrom} (check the clock)`,
    )
  }
}

async function loadTokens(auth: EdgeAuthOptions): Promise<TokenTable> {
  if (auth.tokensFile === undefined && auth.tokens === undefined) {
    throw new CanInitializationError(
      'auth needs tokensFile (edge-tokens.json from "canbridge keys") or tokens',
    )
  }
  const merged: Record<string, string> = {}
  if (auth.tokensFile !== undefined) {
    const table = await TokenTable.fromFile(auth.tokensFile)
    Object.assign(merged, table.entries())
  }
  if (auth.tokens !== undefined) Object.assign(merged, auth.tokens)
  return TokenTable.fromRecord(merged)
}
