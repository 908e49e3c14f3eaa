// Signals for the monitor: every frame a DBC knows is decoded; the newest value of each
// signal is kept for the table, and the signals chosen for plotting are aggregated into
// fixed time buckets (min, max, last) here on the server, so a plot of a 10,000 frames/s
// bus gets a few points per second to draw instead of every frame.
import type { Database, DecodeNoteCode } from '@canbridge/dbc'
import type { CanMessage } from '@canbridge/server-bus'

/** Width of one plot bucket. */
export const BUCKET_MS = 100
/** Buckets kept per plotted signal (a minute). */
const BUCKETS_KEPT = 600

export interface SignalRow {
  /** `Message.Signal` */
  key: string
  message: string
  signal: string
  value: number | string
  unit: string
  /** the choice's name when the value has one */
  choice: string | undefined
  count: number
}

export interface PlotBucket {
  /** bucket start, milliseconds since the epoch (frame time; a whole number) */
  t: number
  min: number
  max: number
  last: number
}

class SignalState {
  value: number | string = 0
  choice: string | undefined
  count = 0
  readonly unit: string
  constructor(unit: string) {
    this.unit = unit
  }
}

class Series {
  readonly buckets: PlotBucket[] = []
  /** how many buckets were ever made: a reader's cursor counts in these */
  made = 0
}

/** Per plotted signal, how many buckets a reader has seen (see `plotSince`). */
export type PlotCursors = Map<string, number>

export class SignalBoard {
  readonly database: Database
  #signals = new Map<string, SignalState>()
  #plots = new Map<string, Series>()
  /** frames the DBC could not decode fully, by note */
  readonly notes = new Map<DecodeNoteCode, number>()
  decoded = 0

  constructor(database: Database) {
    this.database = database
  }

  /** `Message.Signal` of every signal the DBC defines. */
  get known(): string[] {
    return this.database.messages.flatMap((m) => m.signals.map((s) => `${m.name}.${s.name}`))
  }

  get plotted(): string[] {
    return [...this.#plots.keys()]
  }

  /** Starts or stops plotting a signal; throws a RangeError for a name the DBC lacks. */
  plot(key: string, on: boolean): void {
    if (!this.known.includes(key))
      throw new RangeError(`no signal ${JSON.stringify(key)} in the DBC`)
    if (!on) this.#plots.delete(key)
    else if (!this.#plots.has(key)) this.#plots.set(key, new Series())
  }

  observe(message: CanMessage): void {
    const decoded = this.database.decode(message)
    if (decoded.note !== undefined) {
      this.notes.set(decoded.note.code, (this.notes.get(decoded.note.code) ?? 0) + 1)
    }
    const definition = decoded.message
    if (definition === undefined) return
    this.decoded++
    for (const signal of definition.signals) {
      const raw = decoded.signals[signal.name]
      if (raw === undefined) continue // a multiplexed signal this frame does not carry
      const key = `${definition.name}.${signal.name}`
      let state = this.#signals.get(key)
      if (state === undefined) {
        state = new SignalState(signal.unit)
        this.#signals.set(key, state)
      }
      const value = typeof raw === 'bigint' ? Number(raw) : raw
      state.value = value
      state.count++
      state.choice = typeof value === 'number' ? signal.choices?.get(value) : undefined
      const series = this.#plots.get(key)
      if (series !== undefined && typeof value === 'number')
        addToSeries(series, message.timestamp, value)
    }
  }

  rows(): SignalRow[] {
    return [...this.#signals.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, state]) => {
        const dot = key.indexOf('.')
        return {
          key,
          message: key.slice(0, dot),
          signal: key.slice(dot + 1),
          value: state.value,
          unit: state.unit,
          choice: state.choice,
          count: state.count,
        }
      })
  }

  /**
   * Plot points a reader has not seen, per plotted signal; its cursors move on. The newest
   * bucket is sent again while it fills; a new reader gets every kept bucket.
   */
  plotSince(cursors: PlotCursors): Record<string, PlotBucket[]> {
    const updates: Record<string, PlotBucket[]> = {}
    for (const [key, series] of this.#plots) {
      const kept = series.buckets.length
      const firstKept = series.made - kept
      const seen = cursors.get(key) ?? 0
      const from = Math.max(0, seen - 1 - firstKept)
      updates[key] = series.buckets.slice(from)
      cursors.set(key, series.made)
    }
    for (const key of cursors.keys()) if (!this.#plots.has(key)) cursors.delete(key)
    return updates
  }
}

function addToSeries(series: Series, timestamp: number, value: number): void {
  const t = Math.floor((timestamp * 1000) / BUCKET_MS) * BUCKET_MS
  const last = series.buckets[series.buckets.length - 1]
  if (last !== undefined && last.t === t) {
    if (value < last.min) last.min = value
    if (value > last.max) last.max = value
    last.last = value
    return
  }
  series.buckets.push({ t, min: value, max: value, last: value })
  series.made++
  if (series.buckets.length > BUCKETS_KEPT) series.buckets.shift()
}
