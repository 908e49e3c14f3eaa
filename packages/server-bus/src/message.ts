// CanMessage: python-can's can.Message in camelCase, validated when built by hand, and built
// without validation (already done by the decoder) and without per-frame buffers on receipt.
import {
  FD_LENGTHS,
  FRAME_FLAG,
  MAX_CLASSIC_LENGTH,
  MAX_EXTENDED_ID,
  MAX_STANDARD_ID,
  RECORD_FIELD,
  type TxFrame,
} from '@canbridge/protocol'

export interface CanMessageOptions {
  /** receive time in seconds since the Unix epoch (python-can's `timestamp`); default 0 */
  timestamp?: number | undefined
  /** the exact receive time in nanoseconds; wins over `timestamp` when both are given */
  timestampNs?: bigint | undefined
  /** default 0 */
  arbitrationId?: number | undefined
  /** 29-bit identifier; default true, as in python-can */
  isExtendedId?: boolean | undefined
  isRemoteFrame?: boolean | undefined
  isErrorFrame?: boolean | undefined
  /** e.g. `pi-garage/can0`; default null */
  channel?: string | null | undefined
  /** data length (python-can's meaning: bytes, not the 4-bit code); default `data.length` */
  dlc?: number | undefined
  /** payload bytes, copied; must be empty for a remote frame */
  data?: Uint8Array | ArrayLike<number> | undefined
  isFd?: boolean | undefined
  /** false for a frame this end transmitted; default true */
  isRx?: boolean | undefined
  bitrateSwitch?: boolean | undefined
  errorStateIndicator?: boolean | undefined
}

/** The options a record's FRAME_FLAG bits stand for (EXT, RTR, ERR, FD, BRS, ESI, TX). */
export function flagOptions(
  flags: number,
): Required<
  Pick<
    CanMessageOptions,
    | 'isExtendedId'
    | 'isRemoteFrame'
    | 'isErrorFrame'
    | 'isFd'
    | 'bitrateSwitch'
    | 'errorStateIndicator'
    | 'isRx'
  >
> {
  return {
    isExtendedId: (flags & FRAME_FLAG.EXT) !== 0,
    isRemoteFrame: (flags & FRAME_FLAG.RTR) !== 0,
    isErrorFrame: (flags & FRAME_FLAG.ERR) !== 0,
    isFd: (flags & FRAME_FLAG.FD) !== 0,
    bitrateSwitch: (flags & FRAME_FLAG.BRS) !== 0,
    errorStateIndicator: (flags & FRAME_FLAG.ESI) !== 0,
    isRx: (flags & FRAME_FLAG.TX) === 0,
  }
}

export interface EqualsOptions {
  /**
   * Largest timestamp difference still equal, in milliseconds; `null` ignores timestamps.
   * Default 0.001 (python-can's 1e-6 s).
   */
  timestampDeltaMs?: number | null | undefined
  /** compare `isRx` too; default true */
  checkDirection?: boolean | undefined
}

const NS_PER_SECOND = 1_000_000_000
const TWO_POW_24 = 16_777_216
// 2^48 = 281474 × 10^9 + 976710656: lets a 64-bit timestamp held as three 24-bit parts be
// split into exact seconds and nanoseconds with doubles alone.
const TWO_POW_48_SECONDS = 281_474
const TWO_POW_48_REMAINDER = 976_710_656
const VALID_FD_LENGTH = new Set(FD_LENGTHS)
const EMPTY = new Uint8Array(0)

/** Unique token for the internal constructor path (never exported from the package). */
const RAW = Symbol('CanMessage.raw')

let initFromRecord: (message: CanMessage, bytes: Uint8Array, offset: number) => void

/**
 * A CAN or CAN FD frame. Built by hand with an options object (validated, every error names
 * the field), or handed out by a bus. Fields are read-only: build a new message to change one.
 */
export class CanMessage {
  readonly arbitrationId: number = 0
  /** data length in bytes (the requested length for a remote frame), as python-can */
  readonly dlc: number = 0
  readonly channel: string | null = null
  /** FRAME_FLAG bits: EXT, RTR, ERR, FD, BRS, ESI, TX */
  #flags = 0
  // Receive time as three 24-bit parts of the u64 nanoseconds: small integers, so a received
  // message stores its time without a HeapNumber or BigInt allocation.
  #t0 = 0
  #t1 = 0
  #t2 = 0
  /** set for a message built from a float timestamp only */
  #seconds: number | undefined = undefined
  #timestampNs: bigint | undefined = undefined
  // Up to 8 payload bytes packed three per integer; the Uint8Array is made on first access.
  #d0 = 0
  #d1 = 0
  #d2 = 0
  #data: Uint8Array | undefined = undefined

  constructor(options: CanMessageOptions | typeof RAW = {}) {
    if (options === RAW) return
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`CanMessage options must be an object, got ${String(options)}`)
    }
    const isExtendedId = flag(options.isExtendedId, 'isExtendedId', true)
    const isRemoteFrame = flag(options.isRemoteFrame, 'isRemoteFrame', false)
    const isErrorFrame = flag(options.isErrorFrame, 'isErrorFrame', false)
    const isFd = flag(options.isFd, 'isFd', false)
    const isRx = flag(options.isRx, 'isRx', true)
    const bitrateSwitch = flag(options.bitrateSwitch, 'bitrateSwitch', false)
    const errorStateIndicator = flag(options.errorStateIndicator, 'errorStateIndicator', false)

    const id = options.arbitrationId ?? 0
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new RangeError(`arbitrationId must be a non-negative integer, got ${String(id)}`)
    }
    const maxId = isExtendedId || isErrorFrame ? MAX_EXTENDED_ID : MAX_STANDARD_ID
    if (id > maxId) {
      throw new RangeError(
        isExtendedId || isErrorFrame
          ? `arbitrationId 0x${id.toString(16)} is above 0x1fffffff (29-bit)`
          : `arbitrationId 0x${id.toString(16)} is above 0x7ff for a standard id (set isExtendedId for 29 bits)`,
      )
    }
    if (isRemoteFrame && isErrorFrame) {
      throw new RangeError('isRemoteFrame and isErrorFrame cannot both be true')
    }
    if (isRemoteFrame && isFd) throw new RangeError('isRemoteFrame: CAN FD has no remote frames')
    if (isErrorFrame && isFd) throw new RangeError('isErrorFrame: an error frame is not CAN FD')
    if (!isFd && bitrateSwitch) throw new RangeError('bitrateSwitch is only allowed with isFd')
    if (!isFd && errorStateIndicator) {
      throw new RangeError('errorStateIndicator is only allowed with isFd')
    }

    const data = copyData(options.data)
    if (isRemoteFrame && data.length > 0) {
      throw new RangeError(
        `data: a remote frame carries no data (got ${data.length} bytes); give its length as dlc`,
      )
    }
    const dlc = options.dlc ?? data.length
    if (typeof dlc !== 'number' || !Number.isInteger(dlc) || dlc < 0) {
      throw new RangeError(`dlc must be a non-negative integer, got ${String(dlc)}`)
    }
    if (isFd) {
      if (!VALID_FD_LENGTH.has(dlc)) {
        throw new RangeError(`dlc ${dlc} is not a CAN FD length (0..8, 12, 16, 20, 24, 32, 48, 64)`)
      }
    } else if (dlc > MAX_CLASSIC_LENGTH) {
      throw new RangeError(`dlc ${dlc} is above 8 for a classic CAN frame (set isFd for more)`)
    }
    if (!isRemoteFrame && dlc !== data.length) {
      throw new RangeError(`dlc ${dlc} does not match the ${data.length} bytes of data`)
    }

    const channel = options.channel ?? null
    if (channel !== null && typeof channel !== 'string') {
      throw new TypeError(`channel must be a string or null, got ${typeof channel}`)
    }

    let timestampNs = options.timestampNs
    let seconds = options.timestamp
    if (timestampNs !== undefined) {
      if (typeof timestampNs !== 'bigint' || timestampNs < 0n || timestampNs >= 1n << 64n) {
        throw new RangeError(
          `timestampNs must be a bigint in 0..2^64-1, got ${String(timestampNs)}`,
        )
      }
      if (seconds !== undefined) {
        checkSeconds(seconds)
        if (Math.abs(secondsOfNs(timestampNs) - seconds) > 1e-6) {
          throw new RangeError(
            `timestamp ${seconds} and timestampNs ${timestampNs} disagree by more than 1 µs`,
          )
        }
      }
      seconds = undefined
    } else if (seconds !== undefined) {
      checkSeconds(seconds)
    } else {
      timestampNs = 0n
    }

    this.arbitrationId = id
    this.dlc = dlc
    this.channel = channel
    this.#flags =
      (isExtendedId ? FRAME_FLAG.EXT : 0) |
      (isRemoteFrame ? FRAME_FLAG.RTR : 0) |
      (isErrorFrame ? FRAME_FLAG.ERR : 0) |
      (isFd ? FRAME_FLAG.FD : 0) |
      (bitrateSwitch ? FRAME_FLAG.BRS : 0) |
      (errorStateIndicator ? FRAME_FLAG.ESI : 0) |
      (isRx ? 0 : FRAME_FLAG.TX)
    this.#seconds = seconds
    this.#timestampNs = timestampNs
    this.#data = data
  }

  static {
    initFromRecord = (message, bytes, offset) => {
      const flags = bytes[offset + RECORD_FIELD.FLAGS]!
      const len = bytes[offset + RECORD_FIELD.LEN]!
      const m = message as { arbitrationId: number; dlc: number }
      const id = offset + RECORD_FIELD.ID
      m.arbitrationId =
        bytes[id]! | (bytes[id + 1]! << 8) | (bytes[id + 2]! << 16) | (bytes[id + 3]! << 24)
      m.dlc = len
      message.#flags = flags
      message.#t0 = bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16)
      message.#t1 = bytes[offset + 3]! | (bytes[offset + 4]! << 8) | (bytes[offset + 5]! << 16)
      message.#t2 = bytes[offset + 6]! | (bytes[offset + 7]! << 8)
      if (flags & FRAME_FLAG.RTR || len === 0) {
        message.#data = EMPTY
      } else if (len <= MAX_CLASSIC_LENGTH) {
        const start = offset + RECORD_FIELD.DATA
        let d0 = 0
        let d1 = 0
        let d2 = 0
        for (let i = 0; i < len; i++) {
          const byte = bytes[start + i]!
          if (i < 3) d0 |= byte << (i * 8)
          else if (i < 6) d1 |= byte << ((i - 3) * 8)
          else d2 |= byte << ((i - 6) * 8)
        }
        message.#d0 = d0
        message.#d1 = d1
        message.#d2 = d2
      } else {
        const start = offset + RECORD_FIELD.DATA
        message.#data = bytes.slice(start, start + len)
      }
    }
  }

  /** Receive time in seconds since the Unix epoch, as a float (python-can's `timestamp`). */
  get timestamp(): number {
    if (this.#seconds !== undefined) return this.#seconds
    if (this.#timestampNs !== undefined) return secondsOfNs(this.#timestampNs)
    const rest = this.#t2 * TWO_POW_48_REMAINDER + this.#t1 * TWO_POW_24 + this.#t0
    const whole = Math.floor(rest / NS_PER_SECOND)
    return this.#t2 * TWO_POW_48_SECONDS + whole + (rest - whole * NS_PER_SECOND) / NS_PER_SECOND
  }

  /** Exact receive time in nanoseconds since the Unix epoch. */
  get timestampNs(): bigint {
    if (this.#timestampNs !== undefined) return this.#timestampNs
    if (this.#seconds !== undefined) return BigInt(Math.round(this.#seconds * 1e6)) * 1000n
    const rest = this.#t2 * TWO_POW_48_REMAINDER + this.#t1 * TWO_POW_24 + this.#t0
    const whole = Math.floor(rest / NS_PER_SECOND)
    this.#timestampNs =
      BigInt(this.#t2 * TWO_POW_48_SECONDS + whole) * 1_000_000_000n +
      BigInt(rest - whole * NS_PER_SECOND)
    return this.#timestampNs
  }

  /** The payload; empty for a remote frame. Its own buffer, made on first access. */
  get data(): Uint8Array {
    let data = this.#data
    if (data === undefined) {
      const len = this.dlc
      data = new Uint8Array(len)
      for (let i = 0; i < len; i++) {
        const packed = i < 3 ? this.#d0 : i < 6 ? this.#d1 : this.#d2
        data[i] = packed >>> ((i % 3) * 8)
      }
      this.#data = data
    }
    return data
  }

  get isExtendedId(): boolean {
    return (this.#flags & FRAME_FLAG.EXT) !== 0
  }
  get isRemoteFrame(): boolean {
    return (this.#flags & FRAME_FLAG.RTR) !== 0
  }
  get isErrorFrame(): boolean {
    return (this.#flags & FRAME_FLAG.ERR) !== 0
  }
  get isFd(): boolean {
    return (this.#flags & FRAME_FLAG.FD) !== 0
  }
  get bitrateSwitch(): boolean {
    return (this.#flags & FRAME_FLAG.BRS) !== 0
  }
  get errorStateIndicator(): boolean {
    return (this.#flags & FRAME_FLAG.ESI) !== 0
  }
  /** false for a frame this end transmitted, echoed back (`receiveOwnMessages`) */
  get isRx(): boolean {
    return (this.#flags & FRAME_FLAG.TX) === 0
  }

  /**
   * Compares by value like python-can's `Message.equals`: every field, `channel` included,
   * timestamps within `timestampDeltaMs`.
   */
  equals(other: CanMessage, options: EqualsOptions = {}): boolean {
    if (this === other) return true
    if (!(other instanceof CanMessage)) return false
    const deltaMs = options.timestampDeltaMs === undefined ? 0.001 : options.timestampDeltaMs
    const checkDirection = options.checkDirection ?? true
    const flagMask = checkDirection ? 0xff : 0xff & ~FRAME_FLAG.TX
    if ((this.#flags & flagMask) !== (other.#flags & flagMask)) return false
    if (this.arbitrationId !== other.arbitrationId || this.dlc !== other.dlc) return false
    if (this.channel !== other.channel) return false
    if (deltaMs !== null && Math.abs(this.timestamp - other.timestamp) * 1000 > deltaMs) {
      return false
    }
    const a = this.data
    const b = other.data
    if (a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
    return true
  }

  /**
   * One line in python-can's `Message.__str__` format (python-can 4.x: flags `X/S Rx/Tx E R F
   * BS EI`, data padded to 24 columns, the text when every byte is alphanumeric, the channel),
   * with the length field labelled `DLC:` as python-can 3.x and our issue write it (4.x says `DL:`).
   */
  toString(): string {
    const fields = [`Timestamp: ${this.timestamp.toFixed(6).padStart(15)}`]
    const id = this.arbitrationId.toString(16).padStart(this.isExtendedId ? 8 : 4, '0')
    fields.push(`ID: ${id}`.padStart(12))
    fields.push(
      [
        this.isExtendedId ? 'X' : 'S',
        this.isRx ? 'Rx' : 'Tx',
        this.isErrorFrame ? 'E' : ' ',
        this.isRemoteFrame ? 'R' : ' ',
        this.isFd ? 'F' : ' ',
        this.bitrateSwitch ? 'BS' : '  ',
        this.errorStateIndicator ? 'EI' : '  ',
      ].join(' '),
    )
    fields.push(`DLC: ${String(this.dlc).padStart(2)}`)
    const data = this.data
    const shown = Math.min(this.dlc, data.length)
    const hex: string[] = []
    for (let i = 0; i < shown; i++) hex.push(data[i]!.toString(16).padStart(2, '0'))
    fields.push(hex.length > 0 ? hex.join(' ').padEnd(24) : ' '.repeat(24))
    if (isAlphanumeric(data)) fields.push(`'${String.fromCharCode(...data)}'`)
    if (this.channel !== null) fields.push(`Channel: ${this.channel}`)
    return fields.join('    ').trim()
  }

  /** A plain object for logs and JSON (`timestampNs` as a decimal string, `data` as numbers). */
  toJSON(): Record<string, unknown> {
    return {
      timestamp: this.timestamp,
      timestampNs: this.timestampNs.toString(),
      arbitrationId: this.arbitrationId,
      isExtendedId: this.isExtendedId,
      isRemoteFrame: this.isRemoteFrame,
      isErrorFrame: this.isErrorFrame,
      isFd: this.isFd,
      bitrateSwitch: this.bitrateSwitch,
      errorStateIndicator: this.errorStateIndicator,
      isRx: this.isRx,
      dlc: this.dlc,
      data: Array.from(this.data),
      channel: this.channel,
    }
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `CanMessage(${this.toString()})`
  }

  /** The frame to transmit: protocol flags and a copy of the data (no timestamp, no TX bit). */
  toTxFrame(): TxFrame {
    return {
      id: this.arbitrationId,
      flags: this.#flags & ~FRAME_FLAG.TX,
      len: this.dlc,
      data: this.data.slice(),
    }
  }
}

/**
 * Builds a message from a record the decoder has validated, reading the bytes once and
 * keeping no reference to them (a kept message never pins a socket buffer).
 */
export function messageFromRecord(
  bytes: Uint8Array,
  offset: number,
  channel: string | null,
): CanMessage {
  const message = new CanMessage(RAW)
  initFromRecord(message, bytes, offset)
  ;(message as { channel: string | null }).channel = channel
  return message
}

function flag(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean')
    throw new TypeError(`${name} must be a boolean, got ${String(value)}`)
  return value
}

function checkSeconds(seconds: unknown): asserts seconds is number {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
    throw new RangeError(
      `timestamp must be a finite number of seconds >= 0, got ${String(seconds)}`,
    )
  }
}

function copyData(data: CanMessageOptions['data']): Uint8Array {
  if (data === undefined || data === null) return new Uint8Array(0)
  if (data instanceof Uint8Array) return data.slice()
  if (typeof data !== 'object' || typeof data.length !== 'number') {
    throw new TypeError(`data must be a Uint8Array or an array of bytes, got ${typeof data}`)
  }
  const bytes = new Uint8Array(data.length)
  for (let i = 0; i < data.length; i++) {
    const byte = data[i]
    if (typeof byte !== 'number' || !Number.isInteger(byte) || byte < 0 || byte > 255) {
      throw new RangeError(`data[${i}] must be an integer in 0..255, got ${String(byte)}`)
    }
    bytes[i] = byte
  }
  return bytes
}

function secondsOfNs(ns: bigint): number {
  const whole = ns / 1_000_000_000n
  return Number(whole) + Number(ns - whole * 1_000_000_000n) / NS_PER_SECOND
}

/** Python's `bytearray.isalnum()`: non-empty and every byte an ASCII letter or digit. */
function isAlphanumeric(data: Uint8Array): boolean {
  if (data.length === 0) return false
  for (const byte of data) {
    const digit = byte >= 0x30 && byte <= 0x39
    const upper = byte >= 0x41 && byte <= 0x5a
    const lower = byte >= 0x61 && byte <= 0x7a
    if (!digit && !upper && !lower) return false
  }
  return true
}
