// Replays a log's messages onto a bus with canplayer's timing rules: each frame when its log
// time (scaled by the speed) has passed since the first one; a time jumping backwards, or
// forward by more than the skip limit, restarts the clock there; or, ignoring the times,
// back to back with a fixed gap. Sends overlap (up to a window) so the link stays busy;
// their order on each channel is kept by the bus.
import { setTimeout as sleep } from 'node:timers/promises'
import { type CanMessage, CanOperationError } from '@canbridge/server-bus'
import { microsecondsOf } from '@canbridge/server-bus/internal'
import type { Route } from './interface-map.ts'

export type ReplayTiming =
  /** the log's timing, `speed` times faster; `skipGapUs`: longer pauses are skipped */
  | { mode: 'original'; speed: number; skipGapUs?: number | undefined }
  /** ignore the times: one frame after the other, `gapMs` apart (0: as fast as sends go) */
  | { mode: 'fast'; gapMs: number }

export interface ReplaySource {
  /** one pass over the log (a new reader each time: the log is read again per loop) */
  open(): AsyncIterable<CanMessage>
  /** the line the reader is at, for messages */
  readonly line: number
}

export interface ReplayTarget {
  route(logInterface: string): Route
  send(message: CanMessage, channel: string): Promise<void>
  /** a frame routed to stdout (canplayer's stdout=<log-if>) */
  print(message: CanMessage, logInterface: string): void | Promise<void>
  /** every frame sent (canplayer -v) */
  sent?(message: CanMessage, channel: string): void
}

export interface ReplayOptions {
  timing: ReplayTiming
  /** passes over the log (Infinity: until stopped) */
  loops: number
  /** sends awaiting their result at most (default 256) */
  window?: number | undefined
  signal?: AbortSignal | undefined
  /** called for each failed send (after counting it) */
  onFailure?(failure: ReplayFailure): void
  /** the time source (tests give a fake one); default the wall clock and real timers */
  clock?: Clock | undefined
}

/** Milliseconds from some start, and a pause that a signal ends early. */
export interface Clock {
  now(): number
  pause(ms: number, signal: AbortSignal | undefined): Promise<void>
}

const WALL_CLOCK: Clock = { now: () => performance.now(), pause }

export interface ReplayFailure {
  line: number
  channel: string
  reason: string
  message: string
}

export class ReplayStats {
  /** frames the edges accepted */
  sent = 0
  failed = 0
  readonly failures = new Map<string, number>()
  /** frames of log interfaces no assignment names */
  skipped = 0
  printed = 0
  /** sends awaiting a result now */
  inFlight = 0
  /** passes finished */
  loopsDone = 0
  /** how late the last frame went out, ms (0 when on time or ignoring times) */
  lateMs = 0
  /** log time covered in the current pass, µs */
  logSpanUs = 0
}

const DEFAULT_WINDOW = 256

/** Plays the source `loops` times; resolves with the counts once every send has settled. */
export async function replay(
  source: ReplaySource,
  target: ReplayTarget,
  options: ReplayOptions,
  stats = new ReplayStats(),
): Promise<ReplayStats> {
  const window = options.window ?? DEFAULT_WINDOW
  const pending = new Set<Promise<void>>()
  const signal = options.signal
  try {
    for (let loop = 0; loop < options.loops && !signal?.aborted; loop++) {
      const clock = new ReplayClock(options.timing, options.clock ?? WALL_CLOCK)
      for await (const message of source.open()) {
        if (signal?.aborted) break
        const route = target.route(message.channel!)
        if (route.kind === 'skip') {
          stats.skipped++
          continue
        }
        await clock.waitFor(message, stats, signal)
        if (signal?.aborted) break
        if (route.kind === 'stdout') {
          await target.print(message, message.channel!)
          stats.printed++
          continue
        }
        while (pending.size >= window) await Promise.race(pending)
        const send = sendOne(target, message, route.channel, source.line, stats, options)
        pending.add(send)
        void send.finally(() => pending.delete(send))
      }
      stats.loopsDone++
    }
  } finally {
    await Promise.all(pending)
  }
  return stats
}

function sendOne(
  target: ReplayTarget,
  message: CanMessage,
  channel: string,
  line: number,
  stats: ReplayStats,
  options: ReplayOptions,
): Promise<void> {
  stats.inFlight++
  let sending: Promise<void>
  try {
    sending = target.send(message, channel)
  } catch (error) {
    sending = Promise.reject(error)
  }
  return sending.then(
    () => {
      stats.inFlight--
      stats.sent++
      target.sent?.(message, channel)
    },
    (error: unknown) => {
      stats.inFlight--
      stats.failed++
      const reason = (error instanceof CanOperationError ? error.reason : undefined) ?? 'error'
      stats.failures.set(reason, (stats.failures.get(reason) ?? 0) + 1)
      options.onFailure?.({ line, channel, reason, message: (error as Error).message })
    },
  )
}

/** When each frame of one pass is due. */
class ReplayClock {
  readonly #timing: ReplayTiming
  readonly #clock: Clock
  #baseLogUs: number | undefined
  #baseWallMs = 0
  #lastLogUs = 0
  #firstLogUs: number | undefined
  #started = false

  constructor(timing: ReplayTiming, clock: Clock) {
    this.#timing = timing
    this.#clock = clock
  }

  async waitFor(message: CanMessage, stats: ReplayStats, signal: AbortSignal | undefined) {
    const timing = this.#timing
    if (timing.mode === 'fast') {
      if (this.#started && timing.gapMs > 0) await this.#clock.pause(timing.gapMs, signal)
      this.#started = true
      return
    }
    const logUs = microsecondsOf(message)
    this.#firstLogUs ??= logUs
    stats.logSpanUs = logUs - this.#firstLogUs
    const jumped =
      logUs < this.#lastLogUs ||
      (timing.skipGapUs !== undefined && logUs - this.#lastLogUs > timing.skipGapUs)
    if (this.#baseLogUs === undefined || jumped) {
      this.#baseLogUs = logUs
      this.#baseWallMs = this.#clock.now()
    }
    this.#lastLogUs = logUs
    const due = this.#baseWallMs + (logUs - this.#baseLogUs) / 1000 / timing.speed
    const wait = due - this.#clock.now()
    stats.lateMs = wait < 0 ? -wait : 0
    // timers fire in whole milliseconds: frames due within one go out now
    if (wait >= 1) await this.#clock.pause(wait, signal)
  }
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return sleep(ms, undefined, { signal }).catch((error: unknown) => {
    if ((error as Error).name !== 'AbortError') throw error
  })
}
