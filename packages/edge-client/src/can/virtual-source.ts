// `virtual:NAME`: an in-process CAN channel with scripted traffic, for demos and logic
// tests. A generator produces frames at a configured rate and pattern; sends succeed
// (optionally after simulated TX-queue-full attempts) and can be looped back as traffic.
import type { CanFilter, TxFrame } from '@canbridge/protocol'
import { FRAME_FLAG, frameProblem, matchesFilters } from '@canbridge/protocol/frames'
import type { CanSource, CanSourceEvents, LinkState, SendOutcome } from './can-source.ts'
import { FrameBatch } from './frame-batch.ts'

export const VIRTUAL_PATTERNS = ['counter', 'mixed', 'fd'] as const
export type VirtualPattern = (typeof VIRTUAL_PATTERNS)[number]

export interface VirtualOptions {
  /** frames per second; 0 = no generated traffic; Infinity (`rate=max`) = flat out */
  rate: number
  /** counter: classic 8-byte frames; mixed: standard, extended, remote and FD; fd: 64-byte FD */
  pattern: VirtualPattern
  /** stop after this many frames (0 = never) */
  count: number
  /** the channel carries CAN FD (default: true unless the pattern is counter) */
  fd: boolean
  /** generated identifiers cycle through idBase .. idBase + idCount - 1 */
  idBase: number
  idCount: number
  /** each sent frame first fails this many times with tx-queue-full (tests the retry path) */
  txBusy: number
  /** sent frames come back as received traffic, as if another node echoed them */
  loopback: boolean
  /** start generating this many milliseconds after the channel opens */
  delayMs: number
}

export const VIRTUAL_PREFIX = 'virtual:'

const DEFAULTS: VirtualOptions = {
  rate: 100,
  pattern: 'counter',
  count: 0,
  fd: false,
  idBase: 0x100,
  idCount: 16,
  txBusy: 0,
  loopback: false,
  delayMs: 0,
}

/**
 * Parses `virtual:NAME[?key=value&...]`; throws a RangeError naming the key and value.
 * Keys: rate (frames/s or `max`), pattern, count, fd, ids (`0x100-0x10f`), txbusy, loopback,
 * delay (ms before the first frame).
 */
export function parseVirtualChannel(spec: string): { name: string; options: VirtualOptions } {
  if (!spec.startsWith(VIRTUAL_PREFIX))
    throw new RangeError(`not a virtual channel: ${JSON.stringify(spec)}`)
  const [base = '', query] = spec.split('?', 2) as [string, string | undefined]
  const busName = base.slice(VIRTUAL_PREFIX.length)
  if (!/^[A-Za-z0-9_.-]{1,48}$/.test(busName)) {
    throw new RangeError(
      `virtual channel name ${JSON.stringify(busName)} must be 1..48 of A-Z a-z 0-9 _ . -`,
    )
  }
  const options: VirtualOptions = { ...DEFAULTS }
  let fdGiven = false
  for (const [key, value] of new URLSearchParams(query ?? '')) {
    const bad = (expected: string): never => {
      throw new RangeError(`${base}: ${key} must be ${expected}, got ${JSON.stringify(value)}`)
    }
    switch (key) {
      case 'rate':
        if (value === 'max') options.rate = Number.POSITIVE_INFINITY
        else options.rate = integerOf(value) ?? bad('frames per second (0..10000000) or max')
        if (Number.isFinite(options.rate) && options.rate > 10_000_000)
          bad('frames per second (0..10000000) or max')
        break
      case 'pattern':
        if (!(VIRTUAL_PATTERNS as readonly string[]).includes(value))
          bad(VIRTUAL_PATTERNS.join(' | '))
        options.pattern = value as VirtualPattern
        break
      case 'count':
        options.count = integerOf(value) ?? bad('a non-negative integer')
        break
      case 'fd':
        options.fd = booleanOf(value) ?? bad('0 | 1 | true | false')
        fdGiven = true
        break
      case 'ids': {
        const match = /^(0x[0-9a-f]+|\d+)-(0x[0-9a-f]+|\d+)$/i.exec(value)
        const low = match ? Number(match[1]) : Number.NaN
        const high = match ? Number(match[2]) : Number.NaN
        if (!(low <= high && high <= 0x7ff)) bad('a standard id range like 0x100-0x10f')
        options.idBase = low
        options.idCount = high - low + 1
        break
      }
      case 'txbusy':
        options.txBusy = integerOf(value) ?? bad('a non-negative integer')
        break
      case 'loopback':
        options.loopback = booleanOf(value) ?? bad('0 | 1 | true | false')
        break
      case 'delay':
        options.delayMs = integerOf(value) ?? bad('milliseconds (a non-negative integer)')
        break
      default:
        throw new RangeError(
          `${base}: unknown option ${JSON.stringify(key)} (rate, pattern, count, fd, ids, txbusy, loopback, delay)`,
        )
    }
  }
  if (!fdGiven) options.fd = options.pattern !== 'counter'
  if (options.pattern === 'fd' && !options.fd) {
    throw new RangeError(`${base}: pattern=fd needs fd=1`)
  }
  return { name: base, options }
}

function integerOf(value: string): number | undefined {
  if (!/^\d+$/.test(value)) return undefined
  const n = Number(value)
  return Number.isSafeInteger(n) ? n : undefined
}

function booleanOf(value: string): boolean | undefined {
  if (value === '1' || value === 'true') return true
  if (value === '0' || value === 'false') return false
  return undefined
}

/** Frames per tick when flat out: large enough to amortise the timer, small enough to stay responsive. */
const FLAT_OUT_PER_TICK = 8192

export class VirtualSource implements CanSource {
  readonly name: string
  readonly fd: boolean
  readonly options: VirtualOptions
  /** no kernel between the generator and the ring: nothing is lost unseen */
  readonly accounting = {
    kernelDrops: true,
    interfaceDrops: true,
    fdFlags: true,
    kernelEcho: false,
  }
  #events: CanSourceEvents | undefined
  #state: LinkState = 'down'
  #filters: readonly CanFilter[] = []
  #batch = new FrameBatch(1024)
  #timer: NodeJS.Timeout | NodeJS.Immediate | undefined
  #startedAt = 0
  #generated = 0
  #seconds = 0
  #nanoseconds = 0
  #busyLeft: number
  #looped: TxFrame[] = []

  constructor(spec: string) {
    const { name, options } = parseVirtualChannel(spec)
    this.name = name
    this.options = options
    this.fd = options.fd
    this.#busyLeft = options.txBusy
  }

  get linkState(): LinkState {
    return this.#state
  }

  /** frames generated so far */
  get generated(): number {
    return this.#generated
  }

  open(events: CanSourceEvents): void {
    this.#events = events
    this.#state = 'up'
    events.onLinkState('up', 'virtual channel opened')
    if (this.options.rate === 0) return
    this.#timer = setTimeout(() => {
      this.#startedAt = performance.now()
      this.#schedule()
    }, this.options.delayMs)
  }

  close(): void {
    if (this.#state === 'gone') return
    this.#state = 'gone'
    this.#clearTimer()
  }

  setFilters(filters: readonly CanFilter[]): void {
    this.#filters = filters.slice()
  }

  send(frame: TxFrame): SendOutcome {
    if (this.#state !== 'up') return { ok: false, error: 'interface-down' }
    const problem = frameProblem(frame.id, frame.flags, frame.len)
    if (problem !== undefined) return { ok: false, error: 'invalid-frame', message: problem }
    if (frame.flags & (FRAME_FLAG.ERR | FRAME_FLAG.TX)) {
      return { ok: false, error: 'invalid-frame', message: 'error and TX flags cannot be sent' }
    }
    if (frame.flags & FRAME_FLAG.FD && !this.fd) {
      return { ok: false, error: 'invalid-frame', message: `${this.name} is not a CAN FD channel` }
    }
    if (this.#busyLeft > 0) {
      this.#busyLeft--
      return { ok: false, error: 'tx-queue-full' }
    }
    this.#busyLeft = this.options.txBusy
    if (this.options.loopback) {
      this.#looped.push({ ...frame, data: frame.data.slice() })
      if (this.#looped.length === 1) setImmediate(() => this.#deliverLooped())
    }
    return { ok: true }
  }

  #deliverLooped(): void {
    if (this.#state !== 'up' || !this.#events) return
    const batch = this.#batch
    batch.count = 0
    this.#advanceClock(1000)
    for (const frame of this.#looped) {
      if (batch.full) this.#flush()
      if (!matchesFilters(this.#filters, frame.id, (frame.flags & FRAME_FLAG.EXT) !== 0)) continue
      this.#tick(1000)
      const i = batch.push(this.#seconds, this.#nanoseconds, frame.id, frame.flags, frame.len)
      batch.data.set(frame.data, i * 64)
    }
    this.#looped = []
    this.#flush()
  }

  #schedule(): void {
    const rate = this.options.rate
    if (rate === Number.POSITIVE_INFINITY) {
      this.#timer = setImmediate(this.#run)
      return
    }
    const nextDue = ((this.#generated + 1) * 1000) / rate
    const delay = Math.max(1, Math.min(50, nextDue - (performance.now() - this.#startedAt)))
    this.#timer = setTimeout(this.#run, delay)
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return
    clearTimeout(this.#timer as NodeJS.Timeout)
    clearImmediate(this.#timer as NodeJS.Immediate)
    this.#timer = undefined
  }

  #run = (): void => {
    this.#timer = undefined
    if (this.#state !== 'up') return
    const { rate, count } = this.options
    let due =
      rate === Number.POSITIVE_INFINITY
        ? FLAT_OUT_PER_TICK
        : Math.floor(((performance.now() - this.#startedAt) * rate) / 1000) - this.#generated
    if (count > 0) due = Math.min(due, count - this.#generated)
    const step = rate === Number.POSITIVE_INFINITY ? 100 : Math.max(1, Math.floor(1e9 / rate))
    // the frames were due over the time since the last run: the last one gets "now"
    this.#advanceClock(step, due)
    const batch = this.#batch
    batch.count = 0
    for (let i = 0; i < due; i++) {
      if (batch.full) this.#flush()
      this.#generate(this.#generated++, step)
    }
    this.#flush()
    if (count > 0 && this.#generated >= count) return
    this.#schedule()
  }

  #flush(): void {
    const batch = this.#batch
    if (batch.count > 0) this.#events?.onFrames(batch)
    batch.count = 0
  }

  /**
   * Moves the synthetic clock to the wall clock, less `frames` steps still to be ticked,
   * unless it is already ahead (it stays monotonic).
   */
  #advanceClock(step: number, frames = 1): void {
    const nowMs = performance.timeOrigin + performance.now() - (frames * step) / 1e6
    const seconds = Math.floor(nowMs / 1000)
    const nanoseconds = Math.min(999_999_999, Math.round((nowMs - seconds * 1000) * 1e6))
    if (
      seconds > this.#seconds ||
      (seconds === this.#seconds && nanoseconds > this.#nanoseconds + step)
    ) {
      this.#seconds = seconds
      this.#nanoseconds = nanoseconds
    }
  }

  #tick(step: number): void {
    this.#nanoseconds += step
    if (this.#nanoseconds >= 1e9) {
      this.#nanoseconds -= 1e9
      this.#seconds++
    }
  }

  #generate(n: number, step: number): void {
    const { idBase, idCount, pattern } = this.options
    let id = idBase + (n % idCount)
    let flags = 0
    let len = 8
    if (pattern === 'fd') {
      flags = FRAME_FLAG.FD | FRAME_FLAG.BRS
      len = 64
    } else if (pattern === 'mixed') {
      switch (n % 6) {
        case 1:
          flags = FRAME_FLAG.EXT
          id = 0x18da0000 + (n % idCount)
          break
        case 2:
          flags = FRAME_FLAG.RTR
          len = 4
          break
        case 3:
          if (this.fd) {
            flags = FRAME_FLAG.FD | FRAME_FLAG.BRS
            len = 64
          }
          break
        case 4:
          len = 0
          break
        case 5:
          if (this.fd) {
            flags = FRAME_FLAG.FD | FRAME_FLAG.EXT
            id = 0x1abcde00 + (n % idCount)
            len = 12
          }
          break
      }
    }
    this.#tick(step)
    if (
      this.#filters.length > 0 &&
      !matchesFilters(this.#filters, id, (flags & FRAME_FLAG.EXT) !== 0)
    )
      return
    const batch = this.#batch
    const i = batch.push(this.#seconds, this.#nanoseconds, id, flags, len)
    if (flags & FRAME_FLAG.RTR) return
    // payload: the frame's number, little-endian, then a filler that depends on it
    const data = batch.data
    const at = i * 64
    const hi = Math.floor(n / 4_294_967_296)
    for (let k = 0; k < len; k++) {
      data[at + k] =
        k < 4 ? (n >>> (8 * k)) & 0xff : k < 8 ? (hi >>> (8 * (k - 4))) & 0xff : (n + k) & 0xff
    }
  }
}
