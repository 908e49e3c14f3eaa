// TCPBus's options: what each means, its default and range, checked in one place where they
// enter (before a worker is spawned), every error naming the option, its range and the value.
import { MAX_MESSAGE_BYTES } from '@canbridge/protocol'
import type { CanFilter } from './filters.ts'
import type { Logger } from './logger.ts'
import type { EdgeAuthOptions, TlsServerOptions } from './security/server-security.ts'
import type { HoldOptions } from './send-worker.ts'

export interface TCPBusOptions {
  /** TCP port to listen on (0 picks a free one; see `address`) */
  port?: number | undefined
  /**
   * address to bind; default `127.0.0.1` (this machine only). Any address other machines can
   * reach needs authentication (`auth` or `tls.clientCaFile`) or `insecure: true`.
   */
  host?: string | undefined
  /** TLS 1.3 on the link; with `clientCaFile`, edges must present a certificate from that CA */
  tls?: TlsServerOptions | undefined
  /** edges must prove their token (PROTOCOL.md §5.13) */
  auth?: EdgeAuthOptions | undefined
  /** accept unauthenticated edges on a non-loopback address: lab networks only, logged loudly */
  insecure?: boolean | undefined
  /** peer addresses or CIDR blocks allowed to connect; others are closed at once */
  allowedPeers?: readonly string[] | undefined
  /** edges connected at once (default 64); one more is refused with TOO_MANY_EDGES */
  maxEdges?: number | undefined
  /** connections still in their handshake at once (default 64); more are closed at once */
  maxHandshakes?: number | undefined
  /**
   * connections in their handshake at once from one address (default 8): one host cannot
   * take every handshake slot, nor make the server do more than this many TLS handshakes
   */
  maxHandshakesPerAddress?: number | undefined
  /** bytes queued for an edge that does not read before it is disconnected (default 16 MiB) */
  maxQueuedBytes?: number | undefined
  /** listen on this Unix socket instead of TCP (a stale socket file is replaced) */
  path?: string | undefined
  /** the name sent in WELCOME; default: the host name */
  serverId?: string | undefined
  /** heartbeat interval both ends use (100..60000, default 1000); 3 silent intervals close */
  heartbeatMs?: number | undefined
  /**
   * ACKs to one edge at most this often (0..1000 ms, default 50; 0: after every turn of the
   * event loop that received frames). Each ACK wakes the edge: on a Pi at ordinary rates that
   * costs more than the frames it frees, and the edge's ring holds far more than 50 ms
   */
  ackIntervalMs?: number | undefined
  /** a connection that has not sent preamble and HELLO by then is closed (default 5000) */
  handshakeTimeoutMs?: number | undefined
  /** frames the receive queue holds before edges are paused (default 65536) */
  receiveQueueFrames?: number | undefined
  /** deliver frames this bus sent, with `isRx` false (asks edges for echoes) */
  receiveOwnMessages?: boolean | undefined
  /** hold sends while a channel's edge is away instead of failing at once */
  queueWhileDisconnected?: { ttlMs: number; maxFrames?: number | undefined } | undefined
  /** default `send` timeout waiting for the edge's result (default 1000) */
  sendTimeoutMs?: number | undefined
  /**
   * How long a send whose TRANSMIT was written waits past its timeout for the edge's verdict
   * (default 10000; 0: not at all): the edge may put the frame on the bus until its ttl,
   * counted from when it read the TRANSMIT, ends, and it always answers (sent, or
   * `ttl-expired`); only an edge that says nothing for this long more is a `timeout`
   */
  sendResultGraceMs?: number | undefined
  /** initial receive filters */
  canFilters?: readonly CanFilter[] | null | undefined
  /** largest message accepted from an edge (default and ceiling 1 MiB) */
  maxMessageBytes?: number | undefined
  /**
   * run the link (listener, TLS, sessions, decoding, ACKs, heartbeats) in a worker thread, so
   * that a busy application never holds up the edges (default false; see README "Worker mode")
   */
  worker?: boolean | undefined
  /** pino-shaped logger; default: warnings and errors to stderr */
  logger?: Logger | undefined
}

/**
 * The options with every default filled in and every range checked: plain data, so that they
 * cross to the worker thread as they are (the logger and filters stay with the application).
 */
export interface ResolvedTCPBusOptions {
  port: number | undefined
  path: string | undefined
  host: string
  tls: TlsServerOptions | undefined
  auth: EdgeAuthOptions | undefined
  insecure: boolean
  allowedPeers: readonly string[] | undefined
  maxEdges: number
  maxHandshakes: number
  maxHandshakesPerAddress: number
  maxQueuedBytes: number
  serverId: string | undefined
  heartbeatMs: number
  ackIntervalMs: number
  handshakeTimeoutMs: number
  receiveQueueFrames: number
  receiveOwnMessages: boolean
  hold: HoldOptions | undefined
  sendTimeoutMs: number
  sendResultGraceMs: number
  maxMessageBytes: number
  worker: boolean
}

const MAX_TIMER_MS = 2 ** 31 - 1

/** [default, min, max] of each integer option. */
const INTEGER_OPTIONS = {
  maxEdges: [64, 1, 65_535],
  maxHandshakes: [64, 1, 65_535],
  maxHandshakesPerAddress: [8, 1, 65_535],
  maxQueuedBytes: [16 * 1024 * 1024, 65_536, MAX_TIMER_MS],
  heartbeatMs: [1000, 100, 60_000],
  ackIntervalMs: [50, 0, 1000],
  handshakeTimeoutMs: [5000, 1, 3_600_000],
  sendTimeoutMs: [1000, 1, MAX_TIMER_MS],
  sendResultGraceMs: [10_000, 0, MAX_TIMER_MS],
  maxMessageBytes: [MAX_MESSAGE_BYTES, 1024, MAX_MESSAGE_BYTES],
  receiveQueueFrames: [65_536, 1, MAX_TIMER_MS],
} as const satisfies Record<string, readonly [number, number, number]>

export const DEFAULT_HOST = '127.0.0.1'
const DEFAULT_HELD_FRAMES = 1000

export function resolveTCPBusOptions(options: TCPBusOptions): ResolvedTCPBusOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('TCPBus.listen needs an options object ({ port } or { path })')
  }
  const integer = (name: keyof typeof INTEGER_OPTIONS): number => {
    const [fallback, min, max] = INTEGER_OPTIONS[name]
    return integerOption(options[name], fallback, min, max, name)
  }
  const resolved: ResolvedTCPBusOptions = {
    port: options.port,
    path: options.path,
    host: options.host ?? DEFAULT_HOST,
    tls: options.tls,
    auth: options.auth,
    insecure: options.insecure === true,
    allowedPeers: options.allowedPeers,
    maxEdges: integer('maxEdges'),
    maxHandshakes: integer('maxHandshakes'),
    maxHandshakesPerAddress: integer('maxHandshakesPerAddress'),
    maxQueuedBytes: integer('maxQueuedBytes'),
    serverId: options.serverId,
    heartbeatMs: integer('heartbeatMs'),
    ackIntervalMs: integer('ackIntervalMs'),
    handshakeTimeoutMs: integer('handshakeTimeoutMs'),
    receiveQueueFrames: integer('receiveQueueFrames'),
    receiveOwnMessages: flag(options.receiveOwnMessages, false, 'receiveOwnMessages'),
    hold: holdOptions(options.queueWhileDisconnected),
    sendTimeoutMs: integer('sendTimeoutMs'),
    sendResultGraceMs: integer('sendResultGraceMs'),
    maxMessageBytes: integer('maxMessageBytes'),
    worker: flag(options.worker, false, 'worker'),
  }
  if (options.path === undefined && options.port === undefined) {
    throw new TypeError('TCPBus needs a port (0 for any free one) or a Unix socket path')
  }
  if (options.path !== undefined && options.port !== undefined) {
    throw new TypeError('give either port or path, not both')
  }
  if (options.path !== undefined && options.tls !== undefined) {
    throw new TypeError('tls is for TCP; a Unix socket is protected by its file permissions')
  }
  return resolved
}

function holdOptions(hold: TCPBusOptions['queueWhileDisconnected']): HoldOptions | undefined {
  if (hold === undefined) return undefined
  return {
    ttlMs: integerOption(hold.ttlMs, undefined, 1, MAX_TIMER_MS, 'queueWhileDisconnected.ttlMs'),
    maxFrames: integerOption(
      hold.maxFrames,
      DEFAULT_HELD_FRAMES,
      1,
      MAX_TIMER_MS,
      'queueWhileDisconnected.maxFrames',
    ),
  }
}

function integerOption(
  value: number | undefined,
  fallback: number | undefined,
  min: number,
  max: number,
  name: string,
): number {
  if (value === undefined) {
    if (fallback === undefined) throw new TypeError(`${name} is required`)
    return fallback
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in ${min}..${max}, got ${String(value)}`)
  }
  return value
}

function flag(value: unknown, fallback: boolean, name: string): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean')
    throw new TypeError(`${name} must be a boolean, got ${String(value)}`)
  return value
}
