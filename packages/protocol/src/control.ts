// Control messages (PROTOCOL.md §5): their shapes, and the checks that turn an untrusted
// msgpack value into one of them. The same checks run before encoding.
import { AUTH_NONCE_BYTES, AUTH_PROOF_BYTES, MAX_SEQUENCE } from './constants.ts'
import { CodecError } from './errors.ts'
import type { CanFilter } from './filters.ts'
import { type CanFrame, frameProblem, payloadLength } from './frame.ts'

export interface ChannelOffer {
  name: string
  fd: boolean
  /** oldest sequence the edge still holds for this channel */
  nextSeq: number
}
export interface Hello {
  edgeId: string
  instanceId: string
  software: string
  channels: ChannelOffer[]
  capabilities: string[]
  /** the edge's nonce (32 bytes) when it authenticates with a token (PROTOCOL.md §5.13) */
  authNonce?: Uint8Array | undefined
}
export interface ChannelResume {
  name: string
  /** next sequence the server expects, or null with no history */
  nextSeq: number | null
}
export interface Welcome {
  serverId: string
  heartbeatMs: number
  channels: ChannelResume[]
  capabilities: string[]
}
export interface Ack {
  channel: number
  nextSeq: number
}
/** Why frames were lost at the edge (PROTOCOL.md §5.4); receivers accept any other string. */
export const DROP_REASON = {
  /** the edge's memory ring was full */
  RING_FULL: 'ring-full',
  /** the edge's disk spool was full */
  SPOOL_FULL: 'spool-full',
  TTL: 'ttl',
  /** the kernel dropped them from the edge's full socket receive queue (SO_RXQ_OVFL) */
  KERNEL_OVERFLOW: 'kernel-overflow',
  /** the interface's controller or driver lost them (rx_dropped, rx_over_errors, rx_fifo_errors) */
  INTERFACE_LOSS: 'interface-loss',
} as const
export type DropReason = (typeof DROP_REASON)[keyof typeof DROP_REASON]

/** HELLO capabilities of an edge (PROTOCOL.md §5.1); receivers ignore names they do not know. */
export const EDGE_CAPABILITY = {
  FD: 'fd',
  TRANSMIT: 'transmit',
  PERIODIC: 'periodic',
  FILTERS: 'filters',
  LISTEN_ONLY: 'listen-only',
  OWN_MESSAGES: 'own-messages',
  /** every frame the kernel drops from the edge's socket queues is reported (`kernel-overflow`) */
  KERNEL_DROPS: 'kernel-drops',
  /** losses the interfaces count (controller, driver) are reported (`interface-loss`) */
  INTERFACE_DROPS: 'interface-drops',
  /** FD, BRS and ESI are exact on every received frame (also FD frames of 8 bytes or fewer) */
  FD_FLAGS: 'fd-flags',
  /** echoes of own frames come from the kernel: its timestamp, and only frames really sent */
  KERNEL_ECHO: 'kernel-echo',
} as const
export type EdgeCapability = (typeof EDGE_CAPABILITY)[keyof typeof EDGE_CAPABILITY]
export interface Drops {
  channel: number
  fromSeq: number | null
  count: number
  reason: string
}
/** A frame to put on the bus; no timestamp (the kernel gives it one). */
export interface TxFrame {
  id: number
  flags: number
  /** data length, or the DLC of a remote frame */
  len: number
  data: Uint8Array
}
export interface Transmit {
  requestId: number
  channel: number
  frame: TxFrame
  ttlMs?: number | undefined
}
export const TRANSMIT_ERROR = [
  'not-connected',
  'listen-only',
  'tx-queue-full',
  'interface-down',
  'timeout',
  'ttl-expired',
  'not-allowed',
  'invalid-frame',
  'rate-limited',
  'internal',
] as const
export type TransmitError = (typeof TRANSMIT_ERROR)[number]
export interface TransmitResult {
  requestId: number
  ok: boolean
  error?: TransmitError | undefined
  message?: string | undefined
}
export interface SetFilters {
  /** channel index, or null for every channel */
  channel: number | null
  filters: CanFilter[]
}
export interface PeriodicStart {
  taskId: number
  channel: number
  frames: TxFrame[]
  periodMs: number
  durationMs?: number | undefined
}
export interface PeriodicModify {
  taskId: number
  frames: TxFrame[]
}
export interface PeriodicStop {
  taskId: number
}
export interface Heartbeat {
  timeMs: number
}
export interface ChannelStats {
  channel: number
  counters: Record<string, number>
}
export interface Stats {
  uptimeMs: number
  reconnects: number
  channels: ChannelStats[]
}
export const BUS_STATES = ['active', 'warning', 'passive', 'bus-off', 'stopped'] as const
export type BusStateName = (typeof BUS_STATES)[number]
export interface BusState {
  channel: number
  state: BusStateName
  /** edge wall clock at the change, ms since the Unix epoch */
  timeMs?: number | undefined
}
export interface ErrorMessage {
  code: string
  message: string
  fatal: boolean
}

export interface AuthChallenge {
  /** the server's nonce, 32 bytes */
  nonce: Uint8Array
  /** the server's proof that it holds the edge's token, 32 bytes */
  proof: Uint8Array
}
export interface AuthResponse {
  /** the edge's proof that it holds its token, 32 bytes */
  proof: Uint8Array
}

/** Body type of every control message, by type name. */
export interface ControlBodies {
  HELLO: Hello
  WELCOME: Welcome
  AUTH_CHALLENGE: AuthChallenge
  AUTH_RESPONSE: AuthResponse
  ACK: Ack
  DROPS: Drops
  TRANSMIT: Transmit
  TRANSMIT_RESULT: TransmitResult
  SET_FILTERS: SetFilters
  PERIODIC_START: PeriodicStart
  PERIODIC_MODIFY: PeriodicModify
  PERIODIC_STOP: PeriodicStop
  HEARTBEAT: Heartbeat
  STATS: Stats
  BUS_STATE: BusState
  ERROR: ErrorMessage
}
export type ControlTypeName = keyof ControlBodies

/** Raised by the checks below; the codec wraps it into a ProtocolError. */
export class ControlShapeError extends CodecError {
  override readonly name = 'ControlShapeError'
}

type Fields = Record<string, unknown>

function fail(path: string, expected: string, value: unknown): never {
  throw new ControlShapeError(`${path} must be ${expected}, got ${shown(value)}`)
}

/**
 * A value for an error message. Never String() a decoded map or array: a map with a
 * `toString` or `valueOf` key (any peer can send one) makes that throw a TypeError.
 */
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 40))
  if (typeof value === 'object' && value !== null) return Object.prototype.toString.call(value)
  return String(value)
}

function object(value: unknown, path: string): Fields {
  if (
    typeof value !== 'object' ||
    value === null ||
    Array.isArray(value) ||
    value instanceof Uint8Array
  ) {
    fail(path, 'a map', Array.isArray(value) ? 'an array' : typeof value)
  }
  return value as Fields
}

function integer(o: Fields, key: string, path: string, max = MAX_SEQUENCE, min = 0): number {
  const value = o[key]
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(`${path}.${key}`, `an integer in ${min}..${max}`, value)
  }
  return value
}

function positiveNumber(o: Fields, key: string, path: string): number {
  const value = o[key]
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    fail(`${path}.${key}`, 'a number > 0', value)
  return value
}

function finiteNumber(o: Fields, key: string, path: string): number {
  const value = o[key]
  if (typeof value !== 'number' || !Number.isFinite(value))
    fail(`${path}.${key}`, 'a finite number', value)
  return value
}

function string(o: Fields, key: string, path: string, minLength = 0, maxLength = 1024): string {
  const value = o[key]
  if (typeof value !== 'string' || value.length < minLength || value.length > maxLength) {
    fail(`${path}.${key}`, `a string of ${minLength}..${maxLength} characters`, value)
  }
  return value
}

function boolean(o: Fields, key: string, path: string): boolean {
  const value = o[key]
  if (typeof value !== 'boolean') fail(`${path}.${key}`, 'a boolean', value)
  return value
}

function optional<T>(o: Fields, key: string, read: () => T): T | undefined {
  return o[key] === undefined || o[key] === null ? undefined : read()
}

/** A required field that may be nil (`int | nil` in PROTOCOL.md): absent is an error. */
function nullable<T>(o: Fields, key: string, path: string, read: () => T): T | null {
  if (o[key] === undefined) fail(`${path}.${key}`, 'present (nil is allowed)', undefined)
  return o[key] === null ? null : read()
}

function array<T>(
  o: Fields,
  key: string,
  path: string,
  min: number,
  max: number,
  item: (v: unknown, p: string) => T,
): T[] {
  const value = o[key]
  if (!Array.isArray(value) || value.length < min || value.length > max) {
    fail(
      `${path}.${key}`,
      `an array of ${min}..${max} items`,
      Array.isArray(value) ? `${value.length} items` : value,
    )
  }
  return value.map((v, i) => item(v, `${path}.${key}[${i}]`))
}

/** Exactly `size` bytes of msgpack binary; the result is a copy the caller owns. */
function fixedBytes(o: Fields, key: string, path: string, size: number): Uint8Array {
  const value = o[key]
  if (!(value instanceof Uint8Array) || value.length !== size) {
    fail(
      `${path}.${key}`,
      `${size} bytes of binary`,
      value instanceof Uint8Array ? `${value.length} bytes` : value,
    )
  }
  return Uint8Array.from(value)
}

function stringItem(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length > 64)
    fail(path, 'a string of at most 64 characters', value)
  return value
}

const CHANNEL_MAX = 0xffff

export function checkTxFrame(value: unknown, path: string): TxFrame {
  const o = object(value, path)
  const id = integer(o, 'id', path, 0xffffffff)
  const flags = integer(o, 'flags', path, 0xff)
  const data = o['data']
  if (!(data instanceof Uint8Array)) fail(`${path}.data`, 'binary', typeof data)
  const len = o['len'] === undefined ? data.length : integer(o, 'len', path, 64)
  const problem = frameProblem(id, flags, len)
  if (problem !== undefined) throw new ControlShapeError(`${path}: ${problem}`)
  if (data.length !== payloadLength(flags, len)) {
    throw new ControlShapeError(
      `${path}.data has ${data.length} bytes, len says ${payloadLength(flags, len)}`,
    )
  }
  return { id, flags, len, data }
}

/** A received frame converted for transmission (drops the timestamp). */
export function txFrameOf(frame: CanFrame): TxFrame {
  return { id: frame.id, flags: frame.flags, len: frame.len, data: frame.data }
}

function checkFilter(value: unknown, path: string): CanFilter {
  const o = object(value, path)
  const filter: CanFilter = {
    canId: integer(o, 'canId', path, 0x1fffffff),
    canMask: integer(o, 'canMask', path, 0x1fffffff),
  }
  const extended = optional(o, 'extended', () => boolean(o, 'extended', path))
  if (extended !== undefined) filter.extended = extended
  return filter
}

function checkFrames(o: Fields, path: string): TxFrame[] {
  return array(o, 'frames', path, 1, 256, checkTxFrame)
}

/** One check per control type: returns a fresh, typed copy or throws ControlShapeError. */
export const CONTROL_CHECKS: { [K in ControlTypeName]: (value: unknown) => ControlBodies[K] } = {
  HELLO(value) {
    const o = object(value, 'HELLO')
    const hello: Hello = {
      edgeId: string(o, 'edgeId', 'HELLO', 1, 64),
      instanceId: string(o, 'instanceId', 'HELLO', 1, 64),
      software: string(o, 'software', 'HELLO', 0, 128),
      channels: array(o, 'channels', 'HELLO', 1, 256, (v, p) => {
        const c = object(v, p)
        return {
          name: string(c, 'name', p, 1, 64),
          fd: boolean(c, 'fd', p),
          nextSeq: integer(c, 'nextSeq', p),
        }
      }),
      capabilities: array(o, 'capabilities', 'HELLO', 0, 64, stringItem),
    }
    const authNonce = optional(o, 'authNonce', () =>
      fixedBytes(o, 'authNonce', 'HELLO', AUTH_NONCE_BYTES),
    )
    if (authNonce !== undefined) hello.authNonce = authNonce
    return hello
  },
  WELCOME(value) {
    const o = object(value, 'WELCOME')
    return {
      serverId: string(o, 'serverId', 'WELCOME', 0, 64),
      heartbeatMs: integer(o, 'heartbeatMs', 'WELCOME', 60_000, 100),
      channels: array(o, 'channels', 'WELCOME', 0, 256, (v, p) => {
        const c = object(v, p)
        return {
          name: string(c, 'name', p, 1, 64),
          nextSeq: nullable(c, 'nextSeq', p, () => integer(c, 'nextSeq', p)),
        }
      }),
      capabilities: array(o, 'capabilities', 'WELCOME', 0, 64, stringItem),
    }
  },
  AUTH_CHALLENGE(value) {
    const o = object(value, 'AUTH_CHALLENGE')
    return {
      nonce: fixedBytes(o, 'nonce', 'AUTH_CHALLENGE', AUTH_NONCE_BYTES),
      proof: fixedBytes(o, 'proof', 'AUTH_CHALLENGE', AUTH_PROOF_BYTES),
    }
  },
  AUTH_RESPONSE(value) {
    const o = object(value, 'AUTH_RESPONSE')
    return { proof: fixedBytes(o, 'proof', 'AUTH_RESPONSE', AUTH_PROOF_BYTES) }
  },
  ACK(value) {
    const o = object(value, 'ACK')
    return {
      channel: integer(o, 'channel', 'ACK', CHANNEL_MAX),
      nextSeq: integer(o, 'nextSeq', 'ACK'),
    }
  },
  DROPS(value) {
    const o = object(value, 'DROPS')
    return {
      channel: integer(o, 'channel', 'DROPS', CHANNEL_MAX),
      fromSeq: nullable(o, 'fromSeq', 'DROPS', () => integer(o, 'fromSeq', 'DROPS')),
      count: integer(o, 'count', 'DROPS'),
      reason: string(o, 'reason', 'DROPS', 1, 64),
    }
  },
  TRANSMIT(value) {
    const o = object(value, 'TRANSMIT')
    const message: Transmit = {
      requestId: integer(o, 'requestId', 'TRANSMIT'),
      channel: integer(o, 'channel', 'TRANSMIT', CHANNEL_MAX),
      frame: checkTxFrame(o['frame'], 'TRANSMIT.frame'),
    }
    const ttlMs = optional(o, 'ttlMs', () => integer(o, 'ttlMs', 'TRANSMIT'))
    if (ttlMs !== undefined) message.ttlMs = ttlMs
    return message
  },
  TRANSMIT_RESULT(value) {
    const o = object(value, 'TRANSMIT_RESULT')
    const result: TransmitResult = {
      requestId: integer(o, 'requestId', 'TRANSMIT_RESULT'),
      ok: boolean(o, 'ok', 'TRANSMIT_RESULT'),
    }
    const error = optional(o, 'error', () => {
      const code = string(o, 'error', 'TRANSMIT_RESULT', 1, 32)
      if (!(TRANSMIT_ERROR as readonly string[]).includes(code))
        fail('TRANSMIT_RESULT.error', TRANSMIT_ERROR.join(' | '), code)
      return code as TransmitError
    })
    if (error !== undefined) result.error = error
    const message = optional(o, 'message', () => string(o, 'message', 'TRANSMIT_RESULT', 0, 1024))
    if (message !== undefined) result.message = message
    if (!result.ok && result.error === undefined)
      fail('TRANSMIT_RESULT.error', 'present when ok is false', undefined)
    return result
  },
  SET_FILTERS(value) {
    const o = object(value, 'SET_FILTERS')
    return {
      channel: nullable(o, 'channel', 'SET_FILTERS', () =>
        integer(o, 'channel', 'SET_FILTERS', CHANNEL_MAX),
      ),
      filters: array(o, 'filters', 'SET_FILTERS', 0, 512, checkFilter),
    }
  },
  PERIODIC_START(value) {
    const o = object(value, 'PERIODIC_START')
    const task: PeriodicStart = {
      taskId: integer(o, 'taskId', 'PERIODIC_START'),
      channel: integer(o, 'channel', 'PERIODIC_START', CHANNEL_MAX),
      frames: checkFrames(o, 'PERIODIC_START'),
      periodMs: positiveNumber(o, 'periodMs', 'PERIODIC_START'),
    }
    const durationMs = optional(o, 'durationMs', () =>
      positiveNumber(o, 'durationMs', 'PERIODIC_START'),
    )
    if (durationMs !== undefined) task.durationMs = durationMs
    return task
  },
  PERIODIC_MODIFY(value) {
    const o = object(value, 'PERIODIC_MODIFY')
    return {
      taskId: integer(o, 'taskId', 'PERIODIC_MODIFY'),
      frames: checkFrames(o, 'PERIODIC_MODIFY'),
    }
  },
  PERIODIC_STOP(value) {
    const o = object(value, 'PERIODIC_STOP')
    return { taskId: integer(o, 'taskId', 'PERIODIC_STOP') }
  },
  HEARTBEAT(value) {
    const o = object(value, 'HEARTBEAT')
    return { timeMs: finiteNumber(o, 'timeMs', 'HEARTBEAT') }
  },
  STATS(value) {
    const o = object(value, 'STATS')
    return {
      uptimeMs: finiteNumber(o, 'uptimeMs', 'STATS'),
      reconnects: integer(o, 'reconnects', 'STATS'),
      channels: array(o, 'channels', 'STATS', 0, 256, (v, p) => {
        const c = object(v, p)
        const raw = object(c['counters'], `${p}.counters`)
        const counters: Record<string, number> = Object.create(null)
        const names = Object.keys(raw)
        if (names.length > 128) fail(`${p}.counters`, 'at most 128 counters', names.length)
        for (const name of names) counters[name] = finiteNumber(raw, name, `${p}.counters`)
        return { channel: integer(c, 'channel', p, CHANNEL_MAX), counters }
      }),
    }
  },
  BUS_STATE(value) {
    const o = object(value, 'BUS_STATE')
    const state = string(o, 'state', 'BUS_STATE', 1, 16)
    if (!(BUS_STATES as readonly string[]).includes(state))
      fail('BUS_STATE.state', BUS_STATES.join(' | '), state)
    const message: BusState = {
      channel: integer(o, 'channel', 'BUS_STATE', CHANNEL_MAX),
      state: state as BusStateName,
    }
    const timeMs = optional(o, 'timeMs', () => finiteNumber(o, 'timeMs', 'BUS_STATE'))
    if (timeMs !== undefined) message.timeMs = timeMs
    return message
  },
  ERROR(value) {
    const o = object(value, 'ERROR')
    return {
      code: string(o, 'code', 'ERROR', 1, 64),
      message: string(o, 'message', 'ERROR', 0, 4096),
      fatal: boolean(o, 'fatal', 'ERROR'),
    }
  },
}
