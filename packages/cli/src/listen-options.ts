// Where and how a canbridge subcommand's TCPBus listens for edges (--port, --host, --unix,
// and the security options: TLS, client certificates, tokens, allowed peers), and the stderr
// lines that say when edges come and go.
import { join } from 'node:path'
import {
  type EdgeAuthOptions,
  isLoopbackHost,
  TCPBus,
  type TCPBusAddress,
  type TCPBusOptions,
  type TlsServerOptions,
} from '@canbridge/server-bus'
import type { Command } from 'commander'
import { integerOption, UsageError } from './exit.ts'

/** The port the README's examples point edges at (socketcand's). */
export const DEFAULT_PORT = 29536

export interface ListenSettings {
  port?: number
  host?: string
  path?: string
  tls?: TlsServerOptions
  auth?: EdgeAuthOptions
  insecure?: boolean
  allowedPeers?: string[]
}

/** Adds --port, --host, --unix and the security options to a command. */
export function addListenOptions(command: Command): Command {
  command
    .option(
      '-p, --port <port>',
      `TCP port the edge connects to (canbridge-edge --server <this host>:<port>); 0 picks a free one (default ${DEFAULT_PORT})`,
    )
    .option(
      '--host <address>',
      'address to listen on (default 127.0.0.1: this machine only); any other needs --pki, --client-ca or --tokens-file, or --insecure',
    )
    .option(
      '--unix <path>',
      'listen on this Unix socket instead of TCP (edge: --server unix:<path>)',
    )
  return addSecurityOptions(command)
}

/** The TLS and authentication options of a command that listens for edges. */
export function addSecurityOptions(command: Command): Command {
  return command
    .option(
      '--pki <dir>',
      'TLS with the files of "canbridge keys init" in <dir>: server.crt, server.key, and edges must show a certificate from ca.crt',
    )
    .option('--tls-cert <file>', 'TLS: this server certificate (PEM), with --tls-key')
    .option('--tls-key <file>', 'TLS: its private key (PEM)')
    .option('--client-ca <file>', 'TLS: edges must show a certificate signed by this CA')
    .option(
      '--tokens-file <file>',
      'edges must prove their token from this table (edge-tokens.json of "canbridge keys", mode 0600)',
    )
    .option(
      '--allow-peer <cidr>',
      'only these addresses or CIDR blocks may connect (repeatable)',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option(
      '--insecure',
      'listen beyond this machine without authentication (closed lab networks only; logged as INSECURE)',
    )
}

/** Checks the options addListenOptions added. */
export function listenSettings(options: Record<string, unknown>): ListenSettings {
  const port = options['port'] as string | undefined
  const host = options['host'] as string | undefined
  const path = options['unix'] as string | undefined
  if (path !== undefined) {
    if (port !== undefined || host !== undefined) {
      throw new UsageError('--unix cannot be combined with --port or --host: give one or the other')
    }
    if (path === '') throw new UsageError('--unix needs a socket path')
    return { path }
  }
  const settings: ListenSettings = {
    port: port === undefined ? DEFAULT_PORT : integerOption(port, '--port', 0, 65_535),
    ...securitySettings(options),
  }
  if (host !== undefined) settings.host = host
  checkExposure(settings)
  return settings
}

/**
 * A host other machines can reach needs edges that prove who they are: said with this
 * command's flags (TCPBus would refuse too, in its own options' names).
 */
function checkExposure(settings: ListenSettings): void {
  const { host } = settings
  if (host === undefined || isLoopbackHost(host) || settings.insecure) return
  if (settings.tls?.clientCaFile !== undefined || settings.auth !== undefined) return
  throw new UsageError(
    `--host ${host} lets other machines connect, and nothing would prove who they are: add --pki DIR (TLS, and edges show a certificate from DIR/ca.crt; make DIR with "canbridge keys init"), --tokens-file FILE (edges prove their token; edge-tokens.json of "canbridge keys"), or both${settings.tls !== undefined ? ' (--client-ca FILE with your --tls-cert)' : ''}; or, on a closed lab network only, --insecure`,
  )
}

/** --pki, --tls-cert/--tls-key, --client-ca, --tokens-file, --allow-peer, --insecure. */
export function securitySettings(
  options: Record<string, unknown>,
): Pick<ListenSettings, 'tls' | 'auth' | 'insecure' | 'allowedPeers'> {
  const pki = options['pki'] as string | undefined
  const cert = options['tlsCert'] as string | undefined
  const key = options['tlsKey'] as string | undefined
  const clientCa = options['clientCa'] as string | undefined
  const tokensFile = options['tokensFile'] as string | undefined
  const allowedPeers = options['allowPeer'] as string[] | undefined
  const settings: Pick<ListenSettings, 'tls' | 'auth' | 'insecure' | 'allowedPeers'> = {}
  if (pki !== undefined && (cert !== undefined || key !== undefined)) {
    throw new UsageError('--pki already names the certificate and key: drop --tls-cert/--tls-key')
  }
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together')
  }
  if (pki !== undefined) {
    settings.tls = {
      certFile: join(pki, 'server.crt'),
      keyFile: join(pki, 'server.key'),
      clientCaFile: clientCa ?? join(pki, 'ca.crt'),
    }
  } else if (cert !== undefined && key !== undefined) {
    settings.tls = { certFile: cert, keyFile: key, clientCaFile: clientCa }
  } else if (clientCa !== undefined) {
    throw new UsageError('--client-ca needs TLS: add --tls-cert and --tls-key, or --pki')
  }
  if (tokensFile !== undefined) settings.auth = { tokensFile }
  if (allowedPeers !== undefined) settings.allowedPeers = allowedPeers
  if (options['insecure'] === true) settings.insecure = true
  return settings
}

export function describeAddress(address: TCPBusAddress): string {
  if ('path' in address) return `unix:${address.path}`
  const host = address.host.includes(':') ? `[${address.host}]` : address.host
  return `${host}:${address.port}`
}

/**
 * Listens where the settings say, with `options`; `note` hears where, and each edge that
 * comes and goes. Resolves null, having said why, when it cannot listen.
 */
export async function listenForEdges(
  settings: ListenSettings,
  options: TCPBusOptions,
  note: (line: string) => void,
): Promise<TCPBus | null> {
  let bus: TCPBus
  try {
    bus = await TCPBus.listen({ ...settings, ...options })
  } catch (error) {
    note((error as Error).message)
    return null
  }
  bus.on('edgeConnected', (edge) =>
    note(`edge ${edge.edgeId} connected from ${edge.peer}: ${edge.channels.join(', ')}`),
  )
  bus.on('edgeDisconnected', (edge, reason) => note(`edge ${edge.edgeId} left: ${reason}`))
  note(`listening on ${describeAddress(bus.address)}`)
  return bus
}
