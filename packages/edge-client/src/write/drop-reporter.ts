// The socket-write worker's DROPS reports (PROTOCOL.md §5.4): each lost range reported once
// per process, queued while no connection is up, and sent again on the next connection
// until an ACK past it on the connection that carried it confirms it. Owns that state; the
// worker tells it what was lost, when a connection comes and goes, and what was acknowledged.
import { type Drops, SequenceRanges } from '@canbridge/protocol'

/** Where reports go: the current connection once it is welcomed. */
export interface DropsSink {
  send(drops: Drops): void
}

export interface DropReporterOptions {
  /** the edge's channels, by index */
  channels: readonly { name: string }[]
  /** a run of drops, for the log: the first of a kind at once, then summed every logEveryMs */
  log(fields: DropLogFields): void
  /** unsent reports kept while disconnected; beyond, the oldest go (STATS keeps the totals) */
  maxPending?: number
  /** how often a sustained run of drops of one kind is logged, summed (default 5 s) */
  logEveryMs?: number
  /** clock in milliseconds (tests inject one) */
  now?: () => number
  setTimer?: (callback: () => void, ms: number) => unknown
}

export type DropLogFields = {
  channel: string
  fromSeq: number
  count: number
  reason: string
  /** present on a summed line: how many runs it sums, and where the last ended */
  runs?: number
  untilSeq?: number
}

const DEFAULT_MAX_PENDING = 4096
const DEFAULT_LOG_EVERY_MS = 5000

interface ChannelDrops {
  /** ranges reported by this process (a resend passes a ring gap again) */
  reported: SequenceRanges
  /** reports sent on the current connection and not yet confirmed by an ACK past them */
  unconfirmed: Drops[]
}

/** Log lines of one channel and reason summed over an interval. */
interface DropLog {
  lastAt: number
  timerSet: boolean
  runs: number
  count: number
  fromSeq: number
  untilSeq: number
}

export class DropReporter {
  readonly #options: Required<Omit<DropReporterOptions, 'channels' | 'log'>> &
    Pick<DropReporterOptions, 'log'>
  readonly #names: string[]
  readonly #channels: ChannelDrops[]
  readonly #pending: Drops[] = []
  /**
   * reports already sent once: one queued again after a reconnect goes out unchanged (the
   * server dedupes by exact range), so a new drop is never merged into it
   */
  readonly #sent = new WeakSet<Drops>()
  readonly #logs = new Map<string, DropLog>()
  #sink: DropsSink | null = null

  constructor(options: DropReporterOptions) {
    this.#options = {
      log: options.log,
      maxPending: options.maxPending ?? DEFAULT_MAX_PENDING,
      logEveryMs: options.logEveryMs ?? DEFAULT_LOG_EVERY_MS,
      now: options.now ?? (() => performance.now()),
      setTimer: options.setTimer ?? ((callback, ms) => setTimeout(callback, ms)),
    }
    this.#names = options.channels.map((c) => c.name)
    this.#channels = options.channels.map(() => ({
      reported: new SequenceRanges(),
      unconfirmed: [],
    }))
  }

  /** reports waiting for a connection */
  get pending(): number {
    return this.#pending.length
  }

  /** Frames `[fromSeq, fromSeq + count)` of `channel` were lost: reports what was not yet. */
  report(channel: number, fromSeq: number, count: number, reason: string): void {
    for (const [from, to] of this.#channels[channel]!.reported.addNew(fromSeq, fromSeq + count))
      this.#queue(channel, from, to - from, reason)
  }

  /** Frames lost where the sequence has no place for them (interface loss): sent at most once. */
  reportUnranged(channel: number, count: number, reason: string): void {
    this.#queue(channel, null, count, reason)
  }

  /** The server holds everything of `channel` below `seq`: no report there is needed again. */
  forgetBelow(channel: number, seq: number): void {
    this.#channels[channel]!.reported.forgetBelow(seq)
  }

  /**
   * An ACK of the current connection up to `ackSeq`: the reports it carried below that
   * arrived (each went before any later frame), so they are not sent again.
   */
  acknowledged(channel: number, ackSeq: number): void {
    const c = this.#channels[channel]!
    if (c.unconfirmed.length > 0)
      c.unconfirmed = c.unconfirmed.filter((drops) => drops.fromSeq! + drops.count > ackSeq)
  }

  /**
   * A connection was welcomed: the reports the last one carried without a confirmation go
   * first (it may have lost them), then everything queued.
   */
  connected(sink: DropsSink): void {
    const again: Drops[] = []
    for (const c of this.#channels) {
      again.push(...c.unconfirmed)
      c.unconfirmed = []
    }
    this.#pending.unshift(...again)
    this.#sink = sink
    this.flush()
  }

  /** The connection is gone: reports wait for the next. */
  disconnected(): void {
    this.#sink = null
  }

  /** Sends what is queued, if connected. */
  flush(): void {
    const sink = this.#sink
    if (sink === null) return
    while (this.#pending.length > 0) {
      const drops = this.#pending.shift()!
      sink.send(drops)
      // without a range the server cannot dedupe a resend: at most once (STATS has the total)
      if (drops.fromSeq === null) continue
      this.#sent.add(drops)
      const unconfirmed = this.#channels[drops.channel]!.unconfirmed
      if (unconfirmed.length >= this.#options.maxPending) unconfirmed.shift()
      unconfirmed.push(drops)
    }
  }

  #queue(channel: number, fromSeq: number | null, count: number, reason: string): void {
    if (fromSeq !== null) this.#log(channel, fromSeq, count, reason) // interface loss: logged by the poll worker
    const pending = this.#pending
    const last = pending.at(-1)
    if (
      last !== undefined &&
      !this.#sent.has(last) &&
      last.channel === channel &&
      last.reason === reason &&
      last.fromSeq !== null &&
      last.fromSeq + last.count === fromSeq
    ) {
      last.count += count
    } else {
      if (pending.length >= this.#options.maxPending) pending.shift()
      pending.push({ channel, fromSeq, count, reason })
    }
    this.flush()
  }

  /** A sustained overload drops in many small runs: log the first at once, then sum them. */
  #log(channel: number, fromSeq: number, count: number, reason: string): void {
    const key = `${channel}:${reason}`
    const { now, logEveryMs, setTimer, log } = this.#options
    const at = now()
    const entry = this.#logs.get(key)
    if (entry === undefined || (!entry.timerSet && at - entry.lastAt >= logEveryMs)) {
      log({ channel: this.#names[channel]!, fromSeq, count, reason })
      this.#logs.set(key, {
        lastAt: at,
        timerSet: false,
        runs: 0,
        count: 0,
        fromSeq: 0,
        untilSeq: 0,
      })
      return
    }
    if (entry.runs === 0) entry.fromSeq = fromSeq
    entry.runs++
    entry.count += count
    entry.untilSeq = fromSeq + count
    if (entry.timerSet) return
    entry.timerSet = true
    setTimer(
      () => {
        log({
          channel: this.#names[channel]!,
          fromSeq: entry.fromSeq,
          count: entry.count,
          reason,
          runs: entry.runs,
          untilSeq: entry.untilSeq,
        })
        this.#logs.set(key, {
          lastAt: now(),
          timerSet: false,
          runs: 0,
          count: 0,
          fromSeq: 0,
          untilSeq: 0,
        })
      },
      Math.max(0, logEveryMs - (at - entry.lastAt)),
    )
  }
}
