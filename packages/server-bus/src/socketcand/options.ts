// SocketcandBus's options: what each means, its default and range, checked in one place
// where they enter, every error naming the option, its range and the value given.
import { SOCKETCAND_PORT } from '@canbridge/protocol'
import type { CanFilter } from '../filters.ts'
import { type Logger, stderrLogger } from '../logger.ts'
import type { SocketcandLinkMode } from './link.ts'
import type { ReconnectPolicy } from './reconnecting-link.ts'

export interface SocketcandBusOptions {
  /** the socketcand server's host name or address */
  host: string
  /** its TCP port (default 29536) */
  port?: number | undefined
  /** the bus to open on the server, e.g. `vcan0` (`< open vcan0 >`) */
  channel: string
  /**
   * `raw` (default): every frame on the bus; periodic tasks go through a second
   * connection in BCM mode. `bcm`: one connection in BCM mode; frames arrive only for
   * the ids the filters subscribe to (each filter one exact id).
   */
  mode?: SocketcandLinkMode | undefined
  /** deliver the frames this bus sends, with `isRx` false (socketcand does not echo them) */
  receiveOwnMessages?: boolean | undefined
  /** initial receive filters */
  canFilters?: readonly CanFilter[] | null | undefined
  /** ask the server for canbridge's extension (remote and CAN FD frames); default true */
  extension?: boolean | undefined
  /** reconnect after a lost connection (default: true, 100 ms doubling to 5 s); false shuts the bus down */
  reconnect?: boolean | Partial<ReconnectPolicy> | undefined
  /** how long `connect` keeps trying to reach the server (default 10000, as python-can) */
  connectTimeoutMs?: number | undefined
  /** each connection's handshake must finish within this (default 5000) */
  handshakeTimeoutMs?: number | undefined
  /** `< echo >` interval; a server silent for 3 of them is taken for dead (default 1000; 0 = off) */
  keepaliveMs?: number | undefined
  /** default `send` timeout for handing the frame to the connection (default 1000) */
  sendTimeoutMs?: number | undefined
  /** frames the receive queue holds before reading pauses (default 65536) */
  receiveQueueFrames?: number | undefined
  /** pino-shaped logger; default: warnings and errors to stderr */
  logger?: Logger | undefined
}

/** The options with every default filled in. */
export interface ResolvedSocketcandOptions {
  host: string
  port: number
  channel: string
  mode: SocketcandLinkMode
  receiveOwnMessages: boolean
  extension: boolean
  /** null: do not reconnect */
  reconnect: ReconnectPolicy | null
  connectTimeoutMs: number
  handshakeTimeoutMs: number
  keepaliveMs: number
  sendTimeoutMs: number
  receiveQueueFrames: number
  logger: Logger
}

const MAX_TIMER_MS = 2 ** 31 - 1

/** [default, min, max] of each integer option. */
const INTEGER_OPTIONS = {
  port: [SOCKETCAND_PORT, 1, 65_535],
  connectTimeoutMs: [10_000, 1, MAX_TIMER_MS],
  handshakeTimeoutMs: [5000, 1, 3_600_000],
  keepaliveMs: [1000, 0, 3_600_000],
  sendTimeoutMs: [1000, 1, MAX_TIMER_MS],
  receiveQueueFrames: [65_536, 1, MAX_TIMER_MS],
} as const satisfies Record<string, readonly [number, number, number]>

export const DEFAULT_RECONNECT: ReconnectPolicy = { initialDelayMs: 100, maxDelayMs: 5000 }

// Printable ASCII without blanks, '<' or '>', as `< open BUS >` can carry it.
const BUS_NAME = /^[\x21-\x3b\x3d\x3f-\x7e]{1,16}$/

export function resolveOptions(options: SocketcandBusOptions): ResolvedSocketcandOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('SocketcandBus.connect needs an options object { host, channel }')
  }
  if (typeof options.host !== 'string' || options.host === '') {
    throw new TypeError(
      `host must be the socketcand server's name or address, got ${String(options.host)}`,
    )
  }
  if (typeof options.channel !== 'string' || !BUS_NAME.test(options.channel)) {
    throw new TypeError(
      `channel must be the server's bus name (1..16 printable characters, e.g. "vcan0"), got ${JSON.stringify(options.channel)}`,
    )
  }
  const mode = options.mode ?? 'raw'
  if (mode !== 'raw' && mode !== 'bcm') {
    throw new RangeError(`mode must be 'raw' or 'bcm', got ${JSON.stringify(mode)}`)
  }
  const integer = (name: keyof typeof INTEGER_OPTIONS): number => {
    const [fallback, min, max] = INTEGER_OPTIONS[name]
    return inRange(options[name], fallback, min, max, name)
  }
  return {
    host: options.host,
    port: integer('port'),
    channel: options.channel,
    mode,
    receiveOwnMessages: flag(options.receiveOwnMessages, false, 'receiveOwnMessages'),
    extension: flag(options.extension, true, 'extension'),
    reconnect: reconnectPolicy(options.reconnect),
    connectTimeoutMs: integer('connectTimeoutMs'),
    handshakeTimeoutMs: integer('handshakeTimeoutMs'),
    keepaliveMs: integer('keepaliveMs'),
    sendTimeoutMs: integer('sendTimeoutMs'),
    receiveQueueFrames: integer('receiveQueueFrames'),
    logger: options.logger ?? stderrLogger,
  }
}

function reconnectPolicy(option: SocketcandBusOptions['reconnect']): ReconnectPolicy | null {
  if (option === false) return null
  if (option === undefined || option === true) return DEFAULT_RECONNECT
  if (typeof option !== 'object' || option === null) {
    throw new TypeError(
      `reconnect must be true, false or { initialDelayMs, maxDelayMs }, got ${String(option)}`,
    )
  }
  const { initialDelayMs: initial, maxDelayMs: max } = DEFAULT_RECONNECT
  const initialDelayMs = inRange(
    option.initialDelayMs,
    initial,
    1,
    3_600_000,
    'reconnect.initialDelayMs',
  )
  const fallback = Math.max(initialDelayMs, max)
  const maxDelayMs = inRange(
    option.maxDelayMs,
    fallback,
    initialDelayMs,
    3_600_000,
    'reconnect.maxDelayMs',
  )
  return { initialDelayMs, maxDelayMs }
}

function inRange(value: unknown, fallback: number, min: number, max: number, name: string): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw new RangeError(`${name} must be an integer in ${min}..${max}, got ${String(value)}`)
  }
  return value as number
}

function flag(value: unknown, fallback: boolean, name: string): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean')
    throw new TypeError(`${name} must be a boolean, got ${String(value)}`)
  return value
}
