// The per-identifier view of cansniffer and python-can's can.viewer: for each channel and
// CAN id, how many frames, how often, how regularly, and the last payload with the bytes
// that changed lately. Updated per frame without allocating; read as rows a few times a second.
import type { CanMessage } from '@canbridge/server-bus'

/** A byte that changed within this long is shown as changed. */
const CHANGED_FOR_S = 1
/** Weight of the newest interval in the period and jitter averages. */
const EWMA = 0.1

export interface IdRow {
  channel: string
  /** arbitration id, hex, 3 digits (standard) or 8 (extended) */
  id: string
  extended: boolean
  fd: boolean
  remote: boolean
  error: boolean
  count: number
  /** frames per second over the last snapshot interval */
  rate: number
  /** mean interval between frames in ms (null until two frames) */
  periodMs: number | null
  /** mean absolute deviation from that period in ms */
  jitterMs: number | null
  /** the last payload, hex bytes separated by spaces */
  data: string
  /** indexes of the bytes that changed within the last second */
  changed: number[]
}

class IdEntry {
  readonly channel: string
  readonly id: number
  readonly extended: boolean
  count = 0
  countAtSnapshot = 0
  rate = 0
  lastTimestamp = -1
  period = -1
  jitter = -1
  fd = false
  remote = false
  error = false
  length = 0
  readonly data = new Uint8Array(64)
  /** per byte: the receive time it last changed */
  readonly changedAt = new Float64Array(64).fill(Number.NEGATIVE_INFINITY)

  constructor(channel: string, id: number, extended: boolean) {
    this.channel = channel
    this.id = id
    this.extended = extended
  }

  observe(message: CanMessage): void {
    const t = message.timestamp
    if (this.lastTimestamp >= 0 && t >= this.lastTimestamp) {
      const interval = t - this.lastTimestamp
      if (this.period < 0) {
        this.period = interval
        this.jitter = 0
      } else {
        this.jitter += EWMA * (Math.abs(interval - this.period) - this.jitter)
        this.period += EWMA * (interval - this.period)
      }
    }
    this.lastTimestamp = t
    this.count++
    this.fd = message.isFd
    this.remote = message.isRemoteFrame
    this.error = message.isErrorFrame
    const data = message.data
    for (let i = 0; i < data.length; i++) {
      if (i >= this.length || this.data[i] !== data[i]) this.changedAt[i] = t
      this.data[i] = data[i]!
    }
    this.length = data.length
  }
}

export class IdTable {
  #entries = new Map<string, Map<number, IdEntry>>()
  #lastSnapshot = performance.now()
  /** newest receive time seen (frame clock), what "changed lately" is measured against */
  #now = 0
  frames = 0

  observe(message: CanMessage): void {
    const channel = message.channel ?? ''
    let byId = this.#entries.get(channel)
    if (byId === undefined) {
      byId = new Map()
      this.#entries.set(channel, byId)
    }
    // extended ids live above 2^29 in the key, so 0x123 standard and extended stay apart
    const key = message.isExtendedId ? message.arbitrationId + 0x2000_0000 : message.arbitrationId
    let entry = byId.get(key)
    if (entry === undefined) {
      entry = new IdEntry(channel, message.arbitrationId, message.isExtendedId)
      byId.set(key, entry)
    }
    entry.observe(message)
    this.frames++
    if (message.timestamp > this.#now) this.#now = message.timestamp
  }

  /** Rows by channel, then id; rates are over the time since the previous call. */
  rows(): IdRow[] {
    const now = performance.now()
    const seconds = Math.max((now - this.#lastSnapshot) / 1000, 1e-3)
    this.#lastSnapshot = now
    const rows: IdRow[] = []
    for (const channel of [...this.#entries.keys()].sort()) {
      const byId = this.#entries.get(channel)!
      for (const key of [...byId.keys()].sort((a, b) => a - b)) {
        const entry = byId.get(key)!
        entry.rate = (entry.count - entry.countAtSnapshot) / seconds
        entry.countAtSnapshot = entry.count
        rows.push(rowOf(entry, this.#now))
      }
    }
    return rows
  }
}

function rowOf(entry: IdEntry, now: number): IdRow {
  const changed: number[] = []
  const bytes: string[] = []
  for (let i = 0; i < entry.length; i++) {
    bytes.push(entry.data[i]!.toString(16).toUpperCase().padStart(2, '0'))
    if (now - entry.changedAt[i]! <= CHANGED_FOR_S) changed.push(i)
  }
  return {
    channel: entry.channel,
    id: entry.id
      .toString(16)
      .toUpperCase()
      .padStart(entry.extended ? 8 : 3, '0'),
    extended: entry.extended,
    fd: entry.fd,
    remote: entry.remote,
    error: entry.error,
    count: entry.count,
    rate: Math.round(entry.rate * 10) / 10,
    periodMs: entry.period < 0 ? null : Math.round(entry.period * 1e5) / 100,
    jitterMs: entry.jitter < 0 ? null : Math.round(entry.jitter * 1e5) / 100,
    data: bytes.join(' '),
    changed,
  }
}
