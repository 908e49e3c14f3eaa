// Configuration: defaults ← config file (JSON) ← environment (CANBRIDGE_*) ← command-line
// flags. Every value is checked where it enters; a bad one fails with a message naming the
// setting, where it came from, the value, and what is expected.

import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { hostname } from 'node:os'
import { parseVirtualChannel, VIRTUAL_PREFIX } from './can/virtual-source.ts'
import { EdgeError } from './errors.ts'
import { parsePin } from './pins.ts'
import { MAX_RING_BYTES, MIN_RING_BYTES } from './ring.ts'
import { type IdRange, parseAllowList } from './tx-policy/allow-list.ts'

export type ServerAddress =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'unix'; path: string }

/** Where the socketcand server listens; `host` undefined = every address (IPv6 and IPv4). */
export interface SocketcandListen {
  host: string | undefined
  /** 0 = any free port (the log says which) */
  port: number
}

/** socketcand's own TCP port */
export const SOCKETCAND_DEFAULT_PORT = 29536
/** where socketcand listens unless given an address: it authenticates no one */
export const SOCKETCAND_DEFAULT_HOST = '127.0.0.1'

export const DROP_POLICIES = ['drop-newest', 'drop-oldest'] as const
export type DropPolicy = (typeof DROP_POLICIES)[number]
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type ConfigLogLevel = (typeof LOG_LEVELS)[number]
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const
export type LogFormat = (typeof LOG_FORMATS)[number]

export interface EdgeConfig {
  /** the servers, in the order the edge tries them (link/reconnector.ts); at least one */
  server: ServerAddress[]
  channels: string[]
  edgeId: string
  ringBytes: number
  spoolDir: string | null
  spoolBytes: number
  dropPolicy: DropPolicy
  listenOnly: boolean
  /** the CAN ids the server may transmit (tx-policy/allow-list.ts); null: every id */
  txAllow: IdRange[] | null
  /** transmit rate limit per channel in frames/s (TRANSMIT and periodic together); null: none */
  txRateLimit: number | null
  /** the rate limit's burst; null: the default, a tenth of the rate (tx-policy/tx-settings.ts) */
  txBurst: number | null
  /** TLS and authentication of the server link: checked together by link/security/link-security.ts */
  tlsCa: string | null
  tlsServername: string | null
  tlsPins: string[]
  tlsCert: string | null
  tlsKey: string | null
  tokenFile: string | null
  insecure: boolean
  logLevel: ConfigLogLevel
  /** auto: readable lines on a terminal, JSON lines otherwise (a service's journal) */
  logFormat: LogFormat
  statsIntervalMs: number
  metricsPort: number | null
  shutdownTimeoutMs: number
  txTimeoutMs: number
  txQueue: number
  highWater: number
  /** serve the socketcand protocol here, or null (off) */
  socketcand: SocketcandListen | null
  /** send socketcand's UDP discovery beacon while serving it */
  socketcandBeacon: boolean
  /** SO_RCVBUF of each CAN socket, or auto: one second at the interface's highest frame rate */
  receiveBuffer: number | 'auto'
  /** echoes of own frames from the kernel (CAN_RAW_RECV_OWN_MSGS), not made by the edge */
  kernelEcho: boolean
  /** the longest a received frame waits in the kernel's queue so that frames are read in batches */
  maxReadDelayMs: number
  /**
   * 2: the channels are read in the socket-write worker (default); 3: in a poll worker of
   * their own; 1: everything in the main thread (least memory, no worker restarts)
   */
  threads: 1 | 2 | 3
  /** error classes (CAN_ERR_* bits) sent to socketcand raw-mode clients; 0: none */
  socketcandErrorMask: number
  /** a line feed before each streamed socketcand message (python-can before 4.3.1) */
  socketcandLineFeeds: boolean
}

export class ConfigError extends EdgeError {
  override readonly name = 'ConfigError'
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }
const DURATION_UNITS: Record<string, number> = { '': 1, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** A value that does not fit its setting: the message says what is expected. */
class Invalid extends Error {
  override readonly name = 'Invalid'
}

type Parse<T> = (raw: unknown) => T

function numberOrString(raw: unknown, expected: string): number | string {
  if (typeof raw === 'number' || typeof raw === 'string') return raw
  throw new Invalid(expected)
}

/** A byte size: 65536, "64K", "32M", "1G" (binary units). */
function size(min: number, max: number): Parse<number> {
  const expected = `expected a byte size from ${human(min)} to ${human(max)}, like 65536, 64K, 32M or 1G`
  return (raw) => {
    const value = numberOrString(raw, expected)
    const match =
      typeof value === 'number' ? null : /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)i?b?\s*$/i.exec(value)
    const bytes =
      typeof value === 'number'
        ? value
        : match
          ? Math.round(Number(match[1]) * SIZE_UNITS[match[2]!.toLowerCase()]!)
          : Number.NaN
    if (!Number.isInteger(bytes) || bytes < min || bytes > max) throw new Invalid(expected)
    return bytes
  }
}

/** A duration: milliseconds as a number, or "500ms", "10s", "5m". */
function duration(min: number, max: number): Parse<number> {
  const expected = `expected a duration from ${min} ms to ${max} ms, like 500ms, 10s or 5m`
  return (raw) => {
    const value = numberOrString(raw, expected)
    const match =
      typeof value === 'number' ? null : /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|)\s*$/i.exec(value)
    const ms =
      typeof value === 'number'
        ? value
        : match
          ? Number(match[1]) * DURATION_UNITS[match[2]!.toLowerCase()]!
          : Number.NaN
    if (!Number.isFinite(ms) || ms < min || ms > max) throw new Invalid(expected)
    return Math.round(ms)
  }
}

function integer(min: number, max: number): Parse<number> {
  const expected = `expected an integer from ${min} to ${max}`
  return (raw) => {
    const value = numberOrString(raw, expected)
    const n =
      typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN
    if (!Number.isInteger(n) || n < min || n > max) throw new Invalid(expected)
    return n
  }
}

const booleanish: Parse<boolean> = (raw) => {
  if (typeof raw === 'boolean') return raw
  const v = typeof raw === 'string' ? raw.trim().toLowerCase() : ''
  if (['1', 'true', 'yes', 'on'].includes(v)) return true
  if (['0', 'false', 'no', 'off', ''].includes(v) && typeof raw === 'string') return false
  throw new Invalid('expected true or false (1/0, yes/no, on/off)')
}

function oneOf<T extends readonly string[]>(values: T): Parse<T[number]> {
  return (raw) => {
    if (typeof raw !== 'string' || !(values as readonly string[]).includes(raw)) {
      throw new Invalid(`expected one of ${values.join(', ')}`)
    }
    return raw as T[number]
  }
}

function text(raw: unknown, expected: string): string {
  if (typeof raw !== 'string') throw new Invalid(expected)
  return raw
}

const SERVER_EXPECTED = 'expected host:port (port 1..65535), [ipv6]:port or unix:/path'

function serverAddress(value: string): ServerAddress {
  if (value.startsWith('unix:')) {
    const path = value.slice(5)
    if (path.length === 0 || path.length > 107) {
      throw new Invalid('expected unix:/path/to/socket (at most 107 characters)')
    }
    return { kind: 'unix', path }
  }
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value.trim())
  const port = match ? Number(match[3]) : 0
  if (!match || port < 1 || port > 65535) throw new Invalid(SERVER_EXPECTED)
  return { kind: 'tcp', host: (match[1] ?? match[2])!, port }
}

/** The servers the edge fails over between, in order: comma-separated, or a list in the file. */
const serverList: Parse<ServerAddress[]> = (raw) => {
  const expected = `expected one server or several, in the order they are tried: a list in the config file, comma-separated elsewhere; each ${SERVER_EXPECTED.slice('expected '.length)}`
  const items = listItems(raw, expected)
  if (items.length === 0) throw new Invalid(expected)
  if (items.length > MAX_SERVERS)
    throw new Invalid(`at most ${MAX_SERVERS} servers, got ${items.length}`)
  const seen = new Map<string, number>()
  return items.map((item, i) => {
    const which = items.length > 1 ? `server ${i + 1} of ${items.length}` : 'the server'
    if (item.trim() === '') throw new Invalid(`${which} is empty: ${expected}`)
    let address: ServerAddress
    try {
      address = serverAddress(item.trim())
    } catch (error) {
      if (!(error instanceof Invalid)) throw error
      // one server: the message names the value already
      if (items.length === 1) throw error
      throw new Invalid(`${which} ${JSON.stringify(item.trim())}: ${error.message}`)
    }
    // host names are case-insensitive: A:1 and a:1 are the same server
    const key =
      address.kind === 'unix'
        ? `unix:${address.path}`
        : `${address.host.toLowerCase()}:${address.port}`
    const first = seen.get(key)
    if (first !== undefined)
      throw new Invalid(
        `${which} ${JSON.stringify(item.trim())} is server ${first + 1} again: give each server once`,
      )
    seen.set(key, i)
    return address
  })
}

/** more servers than any failover setup needs: a longer list is a mistake (a pasted file) */
export const MAX_SERVERS = 64

/** A list: comma-separated in a string (flags, environment), or an array in the config file. */
function listItems(raw: unknown, expected: string): string[] {
  if (typeof raw === 'string') return raw.split(',')
  if (Array.isArray(raw)) return raw.map((item) => text(item, expected))
  throw new Invalid(expected)
}

const channelList: Parse<string[]> = (raw) => {
  const expected = 'expected 1..256 channels, like can0 or virtual:demo'
  const list = listItems(raw, expected)
    .map((c) => c.trim())
    .filter((c) => c !== '')
  if (list.length === 0 || list.length > 256) throw new Invalid(expected)
  const seen = new Set<string>()
  for (const channel of list) {
    if (channel.startsWith(VIRTUAL_PREFIX)) {
      try {
        parseVirtualChannel(channel)
      } catch (error) {
        if (!(error instanceof RangeError)) throw error
        throw new Invalid(error.message)
      }
    } else if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(channel)) {
      throw new Invalid(
        `channel ${JSON.stringify(channel)} is not an interface name (1..15 of A-Z a-z 0-9 _ . : -) or virtual:NAME`,
      )
    }
    const name = channel.split('?')[0]!
    if (seen.has(name)) throw new Invalid(`channel ${name} is given twice`)
    seen.add(name)
  }
  return list
}

const edgeId: Parse<string> = (raw) => {
  const expected = 'expected 1..64 of A-Z a-z 0-9 _ . : @ -'
  const value = text(raw, expected)
  if (!/^[A-Za-z0-9_.:@-]{1,64}$/.test(value)) throw new Invalid(expected)
  return value
}

const optionalPath: Parse<string | null> = (raw) => {
  if (raw === null) return null
  const value = text(raw, 'expected a directory path')
  return value.trim() === '' ? null : value
}

const port: Parse<number | null> = (raw) => {
  const expected = 'expected a TCP port 1..65535, or 0/off for none'
  if (raw === null || raw === '' || raw === 'off' || raw === 0 || raw === '0') return null
  const value = numberOrString(raw, expected)
  const n = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Invalid(expected)
  return n
}

const fraction: Parse<number> = (raw) => {
  const expected = 'expected a fraction from 0.1 to 0.95'
  const value = numberOrString(raw, expected)
  const n = typeof value === 'number' ? value : value.trim() === '' ? Number.NaN : Number(value)
  if (!Number.isFinite(n) || n < 0.1 || n > 0.95) throw new Invalid(expected)
  return n
}

/** A parser from another module that throws RangeError with its own message. */
function checkedBy<T>(parse: (value: string) => T, expected: string): Parse<T> {
  return (raw) => {
    try {
      return parse(text(raw, expected))
    } catch (error) {
      if (!(error instanceof RangeError)) throw error
      throw new Invalid(error.message)
    }
  }
}

const filePath: Parse<string | null> = (raw) => {
  if (raw === null) return null
  const value = text(raw, 'expected a file path')
  return value.trim() === '' ? null : value
}

/** --tx-allow: a string, or in the config file also an array of entries. */
const txAllowList: Parse<IdRange[] | null> = (raw) => {
  const expected =
    'expected hex ids or ranges, comma-separated, like 123,200-2FF,18DAF100-18DAF1FF (1 to 3 digits: standard id, 8 digits: extended id)'
  if (raw === null) return null
  return checkedBy(parseAllowList, expected)(listItems(raw, expected).join(','))
}

/** --tls-pin, repeatable; the environment and a string in the file separate pins with commas. */
const pinList: Parse<string[]> = (raw) => {
  const expected = 'expected sha256:AB:CD:… (the SHA-256 fingerprint of the server certificate)'
  const pins = listItems(raw, expected)
    .filter((pin) => pin.trim() !== '')
    .map(checkedBy(parsePin, expected))
  return [...new Set(pins)]
}

/** off / 0 / null = none, else frames per second. */
const rateLimit: Parse<number | null> = (raw) => {
  if (raw === null || raw === 'off' || raw === 0 || raw === '0') return null
  return integer(1, 1_000_000)(raw)
}

const hostName: Parse<string | null> = (raw) => {
  const expected = 'expected a host name as the server certificate names it, like bus.example.lan'
  if (raw === null) return null
  const value = text(raw, expected).trim()
  if (value === '') return null
  if (isIP(value) !== 0) {
    throw new Invalid(
      'an IP address: leave tls-servername out, the address in --server is checked against the IP names of the certificate',
    )
  }
  if (!/^[A-Za-z0-9.-]{1,253}$/.test(value)) throw new Invalid(expected)
  return value
}

const SOCKETCAND_EXPECTED = `expected PORT, HOST:PORT or [IPv6]:PORT (port 0..65535, 0 = any free port), HOST alone (port ${SOCKETCAND_DEFAULT_PORT}), *:PORT (every address), on (127.0.0.1, port ${SOCKETCAND_DEFAULT_PORT}) or off`

const HOST_NAME =
  /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/

/** An IPv4 address, or a host name (it has a letter: `1.5` is neither). */
function isHost(host: string): boolean {
  return IPV4.test(host) || (HOST_NAME.test(host) && /[A-Za-z]/.test(host))
}

/**
 * `--socketcand`: off, on, PORT, HOST, HOST:PORT, [IPv6]:PORT, `*` (every address). Without a
 * host it listens on loopback: socketcand has no authentication, so reaching beyond this
 * machine must be asked for with an address.
 */
const socketcandListen: Parse<SocketcandListen | null> = (raw) => {
  const loopback = { host: SOCKETCAND_DEFAULT_HOST, port: SOCKETCAND_DEFAULT_PORT }
  if (raw === true) return loopback
  if (raw === false || raw === null) return null
  const value = typeof raw === 'number' ? String(raw) : text(raw, SOCKETCAND_EXPECTED).trim()
  const word = value.toLowerCase()
  if (['on', 'true', 'yes'].includes(word)) return loopback
  if (['off', 'false', 'no', ''].includes(word)) return null
  // [IPv6], host or * (every address), or nothing; then :port, or no port (29536)
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*))(?::(\d{1,5}))?$/.exec(value)
  if (!match) throw new Invalid(SOCKETCAND_EXPECTED)
  const [, ipv6, named = '', portText] = match
  const portOnly = ipv6 === undefined && portText === undefined && /^\d{1,5}$/.test(named)
  const host =
    ipv6 ?? (named === '*' ? undefined : portOnly || named === '' ? SOCKETCAND_DEFAULT_HOST : named)
  const port = portOnly
    ? Number(named)
    : portText === undefined
      ? SOCKETCAND_DEFAULT_PORT
      : Number(portText)
  if (host !== undefined && ipv6 === undefined && !isHost(host))
    throw new Invalid(SOCKETCAND_EXPECTED)
  if (named === '' && ipv6 === undefined && portText === undefined)
    throw new Invalid(SOCKETCAND_EXPECTED)
  if (port > 65535) throw new Invalid(SOCKETCAND_EXPECTED)
  return { host, port }
}

/** Smallest and largest SO_RCVBUF the edge asks for (the kernel's own floor is ~2K). */
export const MIN_RECEIVE_BUFFER = 4 * 1024
export const MAX_RECEIVE_BUFFER = 1024 * 1024 * 1024

/** `auto`, or a byte size. */
const receiveBufferSize: Parse<number | 'auto'> = (raw) => {
  if (typeof raw === 'string' && raw.trim().toLowerCase() === 'auto') return 'auto'
  try {
    return size(MIN_RECEIVE_BUFFER, MAX_RECEIVE_BUFFER)(raw)
  } catch (error) {
    if (!(error instanceof Invalid)) throw error
    throw new Invalid(`expected auto, or ${error.message.replace(/^expected /, '')}`)
  }
}

/** CAN_ERR_MASK of linux/can.h: every error class */
const CAN_ERR_MASK = 0x1fffffff

/** socketcand's `-e` mask: hex (with or without 0x), as `-e 0x1FFFFFFF`; 0 or off: none. */
const errorMask: Parse<number> = (raw) => {
  const expected =
    'expected a hexadecimal error mask from 0 to 1FFFFFFF (the CAN_ERR_* classes; 1FFFFFFF: every class), or off'
  if (raw === false || raw === null || raw === 'off') return 0
  const value = numberOrString(raw, expected)
  const mask =
    typeof value === 'number'
      ? value
      : /^\s*(0x)?[0-9a-f]{1,8}\s*$/i.test(value)
        ? Number.parseInt(value.trim().replace(/^0x/i, ''), 16)
        : Number.NaN
  if (!Number.isInteger(mask) || mask < 0 || mask > CAN_ERR_MASK) throw new Invalid(expected)
  return mask
}

interface Setting {
  /** key in the config file and in EdgeConfig */
  key: keyof EdgeConfig
  /** command-line flag (commander's attribute name is the camel-case key) */
  flag: string
  /** what the flag's value is, in --help: `<host:port>`, `<bytes>` (switches have none) */
  placeholder?: string
  env: string
  parse: Parse<unknown>
  default: () => unknown
  /** help text */
  help: string
}

/** Every setting, its sources, its check and its default: the README's reference. */
export const SETTINGS: readonly Setting[] = [
  {
    key: 'server',
    flag: '--server',
    placeholder: '<host:port[,host:port…]>',
    env: 'CANBRIDGE_SERVER',
    parse: serverList,
    default: () => undefined,
    help: 'server address: host:port, [ipv6]:port or unix:/path (required); several, comma-separated (a list in the config file): tried in order, a lost or failed connection moves to the next, the backoff grows after a whole round failed; the TLS and token settings apply to every server',
  },
  {
    key: 'channels',
    flag: '--channel',
    env: 'CANBRIDGE_CHANNELS',
    parse: channelList,
    default: () => undefined,
    help: 'CAN channel, repeatable: can0, or virtual:NAME[?rate=..&pattern=..] (required); env: comma-separated',
  },
  {
    key: 'edgeId',
    flag: '--edge-id',
    placeholder: '<id>',
    env: 'CANBRIDGE_EDGE_ID',
    parse: edgeId,
    default: () =>
      hostname()
        .replace(/[^A-Za-z0-9_.:@-]/g, '-')
        .slice(0, 64) || 'edge',
    help: "this edge's stable name (default: the host name)",
  },
  {
    key: 'ringBytes',
    flag: '--ring-bytes',
    placeholder: '<bytes>',
    env: 'CANBRIDGE_RING_BYTES',
    parse: size(MIN_RING_BYTES, MAX_RING_BYTES),
    default: () => 8 * 1024 * 1024,
    help: 'memory ring per channel (default 8M)',
  },
  {
    key: 'spoolDir',
    flag: '--spool-dir',
    placeholder: '<dir>',
    env: 'CANBRIDGE_SPOOL_DIR',
    parse: optionalPath,
    default: () => null,
    help: 'directory of the disk spool (default: none, memory only)',
  },
  {
    key: 'spoolBytes',
    flag: '--spool-bytes',
    placeholder: '<bytes>',
    env: 'CANBRIDGE_SPOOL_BYTES',
    parse: size(1024 * 1024, 2 ** 50),
    default: () => 256 * 1024 * 1024,
    help: 'disk spool limit per channel (default 256M)',
  },
  {
    key: 'dropPolicy',
    flag: '--drop-policy',
    placeholder: '<policy>',
    env: 'CANBRIDGE_DROP_POLICY',
    parse: oneOf(DROP_POLICIES),
    default: () => 'drop-oldest',
    help: 'what goes when ring and spool are full: drop-newest | drop-oldest (default)',
  },
  {
    key: 'listenOnly',
    flag: '--listen-only',
    env: 'CANBRIDGE_LISTEN_ONLY',
    parse: booleanish,
    default: () => false,
    help: 'refuse every transmit and periodic task',
  },
  {
    key: 'txAllow',
    flag: '--tx-allow',
    placeholder: '<ids>',
    env: 'CANBRIDGE_TX_ALLOW',
    parse: txAllowList,
    default: () => null,
    help: 'the only CAN ids the server may transmit: hex ids and ranges, like 123,200-2FF,18DAF100-18DAF1FF (1-3 digits: standard id, 8 digits: extended id; default: every id)',
  },
  {
    key: 'txRateLimit',
    flag: '--tx-rate-limit',
    placeholder: '<frames/s>',
    env: 'CANBRIDGE_TX_RATE_LIMIT',
    parse: rateLimit,
    default: () => null,
    help: 'most frames/s the server may transmit per channel, transmits and periodic tasks together (default: off)',
  },
  {
    key: 'txBurst',
    flag: '--tx-burst',
    placeholder: '<frames>',
    env: 'CANBRIDGE_TX_BURST',
    parse: (raw) => (raw === null ? null : integer(1, 1_000_000)(raw)),
    default: () => null,
    help: 'frames the rate limit lets through at once (default: a tenth of --tx-rate-limit, at least 1)',
  },
  {
    key: 'tlsCa',
    flag: '--tls-ca',
    placeholder: '<file>',
    env: 'CANBRIDGE_TLS_CA',
    parse: filePath,
    default: () => null,
    help: 'TLS: trust a server certificate signed by this CA (PEM file, e.g. ca.crt); the --server host (or --tls-servername) must be in it; with several servers each certificate must name its own host',
  },
  {
    key: 'tlsPins',
    flag: '--tls-pin',
    env: 'CANBRIDGE_TLS_PINS',
    parse: pinList,
    default: () => [],
    help: 'TLS: accept a server whose certificate has this SHA-256 fingerprint (sha256:AB:CD:…), repeatable for a rotation; without --tls-ca the pin alone verifies the server; env: comma-separated',
  },
  {
    key: 'tlsServername',
    flag: '--tls-servername',
    placeholder: '<name>',
    env: 'CANBRIDGE_TLS_SERVERNAME',
    parse: hostName,
    default: () => null,
    help: 'TLS: the name the server certificate must carry (and SNI), when it is not the --server host; with several servers every one must carry it',
  },
  {
    key: 'tlsCert',
    flag: '--tls-cert',
    placeholder: '<file>',
    env: 'CANBRIDGE_TLS_CERT',
    parse: filePath,
    default: () => null,
    help: "TLS: this edge's client certificate (PEM; its CN is the edge id), with --tls-key",
  },
  {
    key: 'tlsKey',
    flag: '--tls-key',
    placeholder: '<file>',
    env: 'CANBRIDGE_TLS_KEY',
    parse: filePath,
    default: () => null,
    help: "TLS: the client certificate's private key (PEM, mode 0600)",
  },
  {
    key: 'tokenFile',
    flag: '--token-file',
    placeholder: '<file>',
    env: 'CANBRIDGE_TOKEN_FILE',
    parse: filePath,
    default: () => null,
    help: "authenticate with this edge's token (a file of one line, mode 0600): the server and the edge prove they hold it",
  },
  {
    key: 'insecure',
    flag: '--insecure',
    env: 'CANBRIDGE_INSECURE',
    parse: booleanish,
    default: () => false,
    help: 'allow plain TCP without TLS or token to a server that is not on this host (lab networks only: anyone on the path can read and inject frames)',
  },
  {
    key: 'logLevel',
    flag: '--log-level',
    placeholder: '<level>',
    env: 'CANBRIDGE_LOG_LEVEL',
    parse: oneOf(LOG_LEVELS),
    default: () => 'info',
    help: 'fatal | error | warn | info (default) | debug | trace | silent',
  },
  {
    key: 'logFormat',
    flag: '--log-format',
    placeholder: '<format>',
    env: 'CANBRIDGE_LOG_FORMAT',
    parse: oneOf(LOG_FORMATS),
    default: () => 'auto',
    help: 'auto (default: readable lines when the log goes to a terminal, JSON lines otherwise, as under systemd) | json | pretty',
  },
  {
    key: 'statsIntervalMs',
    flag: '--stats-interval',
    placeholder: '<duration>',
    env: 'CANBRIDGE_STATS_INTERVAL',
    parse: duration(100, 86_400_000),
    default: () => 60_000,
    help: 'how often statistics are logged and sent as STATS (default 60s)',
  },
  {
    key: 'metricsPort',
    flag: '--metrics-port',
    placeholder: '<port>',
    env: 'CANBRIDGE_METRICS_PORT',
    parse: port,
    default: () => null,
    help: 'serve Prometheus metrics on this port at /metrics (default: off)',
  },
  {
    key: 'shutdownTimeoutMs',
    flag: '--shutdown-timeout',
    placeholder: '<duration>',
    env: 'CANBRIDGE_SHUTDOWN_TIMEOUT',
    parse: duration(0, 600_000),
    default: () => 5000,
    help: 'on SIGTERM, how long to wait for the server to acknowledge before spooling (default 5s)',
  },
  {
    key: 'txTimeoutMs',
    flag: '--tx-timeout',
    placeholder: '<duration>',
    env: 'CANBRIDGE_TX_TIMEOUT',
    parse: duration(1, 600_000),
    default: () => 1000,
    help: 'how long a transmit without ttlMs may wait for a full TX queue (default 1s)',
  },
  {
    key: 'txQueue',
    flag: '--tx-queue',
    placeholder: '<requests>',
    env: 'CANBRIDGE_TX_QUEUE',
    parse: integer(1, 65_536),
    default: () => 256,
    help: 'transmit requests that may wait per channel (default 256)',
  },
  {
    key: 'highWater',
    flag: '--high-water',
    placeholder: '<fraction>',
    env: 'CANBRIDGE_HIGH_WATER',
    parse: fraction,
    default: () => 0.5,
    help: 'ring fill (0.1..0.95) above which unacknowledged frames move to the spool (default 0.5)',
  },
  {
    key: 'socketcand',
    flag: '--socketcand',
    env: 'CANBRIDGE_SOCKETCAND',
    parse: socketcandListen,
    default: () => null,
    help: `also serve socketcand clients (python-can interface='socketcand', SavvyCAN) on [HOST:]PORT; alone: 127.0.0.1, port ${SOCKETCAND_DEFAULT_PORT}; '*:PORT' every address (no authentication: trusted networks only; default: off)`,
  },
  {
    key: 'socketcandBeacon',
    flag: '--socketcand-beacon',
    env: 'CANBRIDGE_SOCKETCAND_BEACON',
    parse: booleanish,
    default: () => true,
    help: "with --socketcand, broadcast socketcand's discovery beacon (UDP 42000, every 3 s; default: on)",
  },
  {
    key: 'receiveBuffer',
    flag: '--receive-buffer',
    placeholder: '<bytes|auto>',
    env: 'CANBRIDGE_RECEIVE_BUFFER',
    parse: receiveBufferSize,
    default: () => 'auto',
    help: "queue the kernel holds for each CAN socket (SO_RCVBUF): a size like 4M, or auto (default): one second at the interface's highest frame rate, capped by net.core.rmem_max unless the edge has CAP_NET_ADMIN",
  },
  {
    key: 'kernelEcho',
    flag: '--kernel-echo',
    env: 'CANBRIDGE_KERNEL_ECHO',
    parse: booleanish,
    default: () => true,
    help: "own-messages echoes come from the kernel (CAN_RAW_RECV_OWN_MSGS: the kernel's timestamp, only frames really sent; default: on); off: the edge echoes a frame once the kernel took it",
  },
  {
    key: 'maxReadDelayMs',
    flag: '--max-read-delay',
    placeholder: '<duration>',
    env: 'CANBRIDGE_MAX_READ_DELAY',
    parse: duration(0, 1000),
    default: () => 10,
    help: "on a steady bus, read frames in batches: a frame waits at most this long in the kernel's queue (default 10ms; 0: read each frame as it arrives, at several times the CPU per frame). The first frame after a quiet spell is read at once, and the wait shrinks so that the receive buffer never fills meanwhile",
  },
  {
    key: 'threads',
    flag: '--threads',
    placeholder: '<1|2|3>',
    env: 'CANBRIDGE_THREADS',
    parse: (raw) => integer(1, 3)(raw) as 1 | 2 | 3,
    default: () => 1,
    help: 'JavaScript threads: 1 (default) everything in the main thread (a fault of the sending side restarts it there, the ring kept); 2 the sending side in a worker of its own, whose heap limit ends a leak there without ending the process (about 17 MB more memory); 3 the channels in a poll worker as well (a few µs more per frame). README: threads',
  },
  {
    key: 'socketcandErrorMask',
    flag: '--socketcand-error-mask',
    placeholder: '<mask>',
    env: 'CANBRIDGE_SOCKETCAND_ERROR_MASK',
    parse: errorMask,
    default: () => 0,
    help: "with --socketcand, send raw-mode clients the error frames of these classes as < error … >, as socketcand's -e: a hex mask of CAN_ERR_* bits, 1FFFFFFF for all (default: none; a client that enables the canbridge extension's errdata gets them all)",
  },
  {
    key: 'socketcandLineFeeds',
    flag: '--socketcand-line-feeds',
    env: 'CANBRIDGE_SOCKETCAND_LINE_FEEDS',
    parse: booleanish,
    default: () => false,
    help: 'with --socketcand, a line feed before each frame: python-can before 4.3.1 (Debian bookworm: 4.1.0) loses frames its reads cut in two without it (default: off, as socketcand)',
  },
]

export type FlagValues = Partial<Record<keyof EdgeConfig, unknown>> & {
  config?: string | undefined
}

function human(bytes: number): string {
  for (const [unit, factor] of [
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`
  }
  return String(bytes)
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new ConfigError(`cannot read the config file ${path}: ${(error as Error).message}`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(error as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`config file ${path} must hold a JSON object`)
  }
  const known = new Set(SETTINGS.map((s) => s.key as string))
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      throw new ConfigError(
        `config file ${path}: unknown key ${JSON.stringify(key)} (known: ${[...known].join(', ')})`,
      )
    }
  }
  return value as Record<string, unknown>
}

/**
 * Merges the layers and checks every value. `flags` holds only what was given on the
 * command line; `env` is process.env or a test's own.
 */
export function loadConfig(flags: FlagValues, env: Record<string, string | undefined>): EdgeConfig {
  const { values } = resolveSettings(flags, env, (problem) => {
    throw problem
  })
  return values as unknown as EdgeConfig
}

/** What `inspectConfig` found: the values it could read and what loadConfig would refuse. */
export interface ConfigInspection {
  /** every setting that was given validly or has a default */
  values: Partial<EdgeConfig>
  /** the config file, when one was named (flag or CANBRIDGE_CONFIG) */
  configPath: string | undefined
  /** bad values and unreadable or invalid config files, in loadConfig's words */
  problems: string[]
  /** required settings given nowhere (loadConfig's message for each) */
  missing: { key: 'server' | 'channels'; message: string }[]
}

/**
 * Reads the layers like loadConfig but never throws: `canbridge-edge doctor` reports every
 * problem and checks what it could read.
 */
export function inspectConfig(
  flags: FlagValues,
  env: Record<string, string | undefined>,
): ConfigInspection {
  const problems: string[] = []
  const missing: ConfigInspection['missing'] = []
  const { values, configPath } = resolveSettings(
    flags,
    env,
    (problem) => problems.push(problem.message),
    (key, message) => missing.push({ key, message }),
  )
  return { values: values as Partial<EdgeConfig>, configPath, problems, missing }
}

const MISSING = {
  server:
    'no server given: use --server host:port (or unix:/path; several comma-separated), CANBRIDGE_SERVER, or "server" in the config file',
  channels:
    'no channel given: use --channel can0 (repeatable), CANBRIDGE_CHANNELS=can0,can1, or "channels" in the config file',
} as const

function resolveSettings(
  flags: FlagValues,
  env: Record<string, string | undefined>,
  onProblem: (problem: ConfigError) => void,
  onMissing: (key: 'server' | 'channels', message: string) => void = (_, message) =>
    onProblem(new ConfigError(message)),
): { values: Record<string, unknown>; configPath: string | undefined } {
  const configPath = flags.config ?? env['CANBRIDGE_CONFIG']
  let file: Record<string, unknown> = {}
  if (configPath) {
    try {
      file = readConfigFile(configPath)
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      onProblem(error)
    }
  }
  const result: Record<string, unknown> = {}
  for (const setting of SETTINGS) {
    let raw: unknown
    let source: string
    if (flags[setting.key] !== undefined) {
      raw = flags[setting.key]
      source = setting.flag
    } else if (env[setting.env] !== undefined) {
      raw = env[setting.env]
      source = setting.env
    } else if (file[setting.key] !== undefined) {
      raw = file[setting.key]
      source = `"${setting.key}" in ${configPath}`
    } else {
      result[setting.key] = setting.default()
      continue
    }
    try {
      result[setting.key] = setting.parse(raw)
    } catch (error) {
      if (!(error instanceof Invalid)) throw error
      onProblem(
        new ConfigError(
          `bad ${setting.flag.slice(2)} ${JSON.stringify(raw)} (from ${source}): ${error.message}`,
        ),
      )
    }
  }
  for (const key of ['server', 'channels'] as const) {
    if (result[key] === undefined && !Object.hasOwn(result, key)) continue
    if (result[key] === undefined) {
      delete result[key]
      onMissing(key, MISSING[key])
    }
  }
  return { values: result, configPath }
}
