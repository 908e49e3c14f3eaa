// The python-can-like base of every bus (can/bus.py's BusABC): `recv` as a template over an
// internal non-blocking take and wait, iteration, batches, filters, periodic tasks, shutdown.
import { EventEmitter } from 'node:events'
import type { BusStateName } from '@canbridge/protocol'
import { CanOperationError } from './errors.ts'
import { type CanFilter, matchesFilters, normalizeFilters } from './filters.ts'
import { CanMessage } from './message.ts'
import { MAX_PERIODIC_FRAMES, PeriodicTask, type PeriodicTaskHost } from './periodic-task.ts'

export type { BusStateName }

export interface SendOptions {
  /** how long to wait for the edge's confirmation; default: the bus's `sendTimeoutMs` */
  timeoutMs?: number | undefined
  /** target channel (`edge/interface`); default: the message's channel, else the only one */
  channel?: string | undefined
}

export interface SendPeriodicOptions {
  /** stop after this long (the edge stops it); default: run until stopped */
  durationMs?: number | undefined
  /** target channel, chosen as for `send` */
  channel?: string | undefined
  /** start at once (default true); otherwise call `task.start()` */
  autostart?: boolean | undefined
  /** keep the task with the bus so `shutdown()` stops it (default true) */
  storeTask?: boolean | undefined
}

export interface RecvBatchOptions {
  /** most messages returned (default 256; larger batches cost memory, see README) */
  maxFrames?: number | undefined
  /** wait at most this long for the first message; default: until one arrives */
  timeoutMs?: number | undefined
  signal?: AbortSignal | undefined
}

export interface BatchesOptions {
  /** most messages per batch (default 256) */
  maxFrames?: number | undefined
  /** ends the iteration when aborted */
  signal?: AbortSignal | undefined
}

const DEFAULT_BATCH_FRAMES = 256
// Batches are copied from this (not made by a literal): V8 may pretenure a literal site whose
// arrays are often alive at a scavenge, and an old-space array keeps its messages alive.
const NO_MESSAGES: readonly CanMessage[] = []
const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined })

/** Severity order of the bus states: `state` reports the worst across channels. */
export const BUS_STATE_SEVERITY: Readonly<Record<BusStateName, number>> = {
  active: 0,
  warning: 1,
  passive: 2,
  'bus-off': 3,
  stopped: 4,
}

/**
 * Base class with python-can's `BusABC` semantics. A subclass provides a non-blocking
 * `pollInternal`, a `waitInternal` that resolves when more may be available, `send`, the
 * periodic-task hooks and `shutdownInternal`.
 */
export abstract class Bus<Events extends Record<keyof Events, unknown[]> = Record<never, never>>
  extends EventEmitter<Events>
  implements AsyncIterable<CanMessage>, AsyncDisposable
{
  /** a description of the underlying bus */
  channelInfo = 'unknown'
  #filters: readonly CanFilter[] | null = null
  #periodicTasks = new Set<PeriodicTask>()
  #taskIds = 0
  #shutdown: Promise<void> | undefined
  #closing = false

  /**
   * True when `pollInternal` already applied the filters (python-can's `already_filtered`),
   * so `recv` does not match them again.
   */
  protected filteredInternally = false

  /** The filters in force, or null when everything passes. */
  get filters(): readonly CanFilter[] | null {
    return this.#filters
  }

  /** True once `shutdown()` was called. */
  get isShutdown(): boolean {
    return this.#closing
  }

  /**
   * Replaces the receive filters (python-can's `set_filters`): a message passes when it
   * matches at least one; `null` or `[]` passes everything.
   */
  setFilters(filters: readonly CanFilter[] | null = null): void {
    this.#filters = normalizeFilters(filters)
    this.applyFilters(this.#filters)
  }

  /** Hook to push the filters down (to the edge's kernel, for TCPBus). */
  protected applyFilters(_filters: readonly CanFilter[] | null): void {}

  /** python-can's `_matches_filters`. */
  protected matchesFilters(message: CanMessage): boolean {
    return matchesFilters(this.#filters, message.arbitrationId, message.isExtendedId)
  }

  /**
   * Waits for the next message (python-can's `recv`): no timeout waits until one arrives,
   * `0` polls, otherwise at most `timeoutMs`. Resolves null on timeout and after shutdown.
   */
  async recv(timeoutMs?: number): Promise<CanMessage | null> {
    checkTimeout(timeoutMs, 'timeoutMs')
    const deadline = timeoutMs === undefined ? undefined : performance.now() + timeoutMs
    for (;;) {
      const message = this.pollInternal()
      if (message !== null) {
        if (this.filteredInternally || this.matchesFilters(message)) return message
        continue
      }
      if (this.isShutdown) return null
      let left: number | undefined
      if (deadline !== undefined) {
        left = deadline - performance.now()
        if (left <= 0) return null
      }
      await this.waitInternal(left)
    }
  }

  /**
   * Waits for messages and returns those available at once, up to `maxFrames`; an empty
   * array on timeout, abort or shutdown.
   */
  async recvBatch(options: RecvBatchOptions = {}): Promise<CanMessage[]> {
    const maxFrames = options.maxFrames ?? DEFAULT_BATCH_FRAMES
    if (!Number.isInteger(maxFrames) || maxFrames < 1) {
      throw new RangeError(`maxFrames must be a positive integer, got ${String(maxFrames)}`)
    }
    checkTimeout(options.timeoutMs, 'timeoutMs')
    const signal = options.signal
    const deadline =
      options.timeoutMs === undefined ? undefined : performance.now() + options.timeoutMs
    const out = NO_MESSAGES.slice()
    for (;;) {
      this.#takeBatch(out, maxFrames)
      if (out.length > 0 || this.isShutdown || signal?.aborted) return out
      let left: number | undefined
      if (deadline !== undefined) {
        left = deadline - performance.now()
        if (left <= 0) return out
      }
      await this.waitInternal(left, signal)
    }
  }

  /**
   * Iterates over batches of messages (each an array of up to `maxFrames`), for throughput:
   * one await per batch instead of one per message. Ends at shutdown or abort.
   */
  async *batches(options: BatchesOptions = {}): AsyncGenerator<CanMessage[], void, undefined> {
    const { maxFrames, signal } = options
    for (;;) {
      const batch = await this.recvBatch({ maxFrames, signal })
      if (batch.length === 0) return
      yield batch
    }
  }

  /** `for await (const message of bus)`: every message until shutdown. */
  [Symbol.asyncIterator](): AsyncIterator<CanMessage> {
    return this.messages()
  }

  /** Iterates over messages one at a time until shutdown, or until `signal` aborts. */
  messages(options: { signal?: AbortSignal | undefined } = {}): AsyncIterableIterator<CanMessage> {
    const { signal } = options
    const iterator: AsyncIterableIterator<CanMessage> = {
      next: () => this.#next(signal),
      return: () => Promise.resolve(DONE),
      [Symbol.asyncIterator]: () => iterator,
    }
    return iterator
  }

  /** Transmits a message; resolves once the edge reports the kernel accepted it. */
  abstract send(message: CanMessage, options?: SendOptions): Promise<void>

  /**
   * Starts sending `messages` in turn, one every `periodMs` (python-can's `send_periodic`).
   * Returns the task, with `stop()`, `modifyData()` and `start()`.
   */
  sendPeriodic(
    messages: CanMessage | readonly CanMessage[],
    periodMs: number,
    options: SendPeriodicOptions = {},
  ): PeriodicTask {
    if (this.isShutdown) throw new CanOperationError('the bus is shut down', { reason: 'shutdown' })
    const list = Array.isArray(messages) ? messages : [messages as CanMessage]
    if (list.length === 0 || list.length > MAX_PERIODIC_FRAMES) {
      throw new RangeError(
        `messages must hold 1..${MAX_PERIODIC_FRAMES} messages, got ${list.length}`,
      )
    }
    list.forEach((message, i) => {
      if (!(message instanceof CanMessage))
        throw new TypeError(`messages[${i}] must be a CanMessage`)
    })
    if (typeof periodMs !== 'number' || !Number.isFinite(periodMs) || periodMs <= 0) {
      throw new RangeError(`periodMs must be a number > 0, got ${String(periodMs)}`)
    }
    const { durationMs } = options
    if (
      durationMs !== undefined &&
      (typeof durationMs !== 'number' || !Number.isFinite(durationMs) || durationMs <= 0)
    ) {
      throw new RangeError(`durationMs must be a number > 0, got ${String(durationMs)}`)
    }
    const channel = this.resolveChannel(options.channel, list[0]!.channel)
    const store = options.storeTask ?? true
    const host: PeriodicTaskHost = {
      nextTaskId: () => ++this.#taskIds,
      startPeriodic: (task) => {
        if (store) this.#periodicTasks.add(task)
        this.startPeriodicInternal(task)
      },
      modifyPeriodic: (task) => this.modifyPeriodicInternal(task),
      stopPeriodic: (task) => this.stopPeriodicInternal(task),
    }
    const task = new PeriodicTask({
      host,
      channel,
      messages: list,
      periodMs,
      durationMs,
      onEnd: (ended) => this.#periodicTasks.delete(ended),
    })
    if (options.autostart ?? true) task.start()
    return task
  }

  /** The running periodic tasks kept by the bus. */
  get periodicTasks(): readonly PeriodicTask[] {
    return [...this.#periodicTasks]
  }

  /** Stops every periodic task kept by the bus. */
  stopAllPeriodicTasks(): void {
    for (const task of [...this.#periodicTasks]) task.stop()
    this.#periodicTasks.clear()
  }

  /**
   * Stops periodic tasks, ends pending `recv` calls (they resolve null) and iterations, and
   * releases the bus. Idempotent: every call returns the same promise.
   */
  shutdown(): Promise<void> {
    if (this.#shutdown === undefined) {
      this.stopAllPeriodicTasks()
      this.#closing = true
      this.#shutdown = this.shutdownInternal()
    }
    return this.#shutdown
  }

  /** `await using bus = await TCPBus.listen(...)` shuts the bus down at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown()
  }

  /** The bus state (python-can's `state`); for several channels, the worst of them. */
  abstract get state(): BusStateName

  /** Takes one message without waiting, or null. */
  protected abstract pollInternal(): CanMessage | null

  /** Resolves when messages may be available, the bus shut down, time ran out or on abort. */
  protected abstract waitInternal(
    timeoutMs: number | undefined,
    signal?: AbortSignal,
  ): Promise<void>

  /** Takes up to `max` messages without waiting; the default polls one at a time. */
  protected pollBatchInternal(out: CanMessage[], max: number): void {
    while (out.length < max) {
      const message = this.pollInternal()
      if (message === null) return
      out.push(message)
    }
  }

  /** Picks the channel of a send: the option, else the message's channel, else the only one. */
  protected abstract resolveChannel(requested: string | undefined, ofMessage: string | null): string

  protected abstract startPeriodicInternal(task: PeriodicTask): void
  protected abstract modifyPeriodicInternal(task: PeriodicTask): void
  protected abstract stopPeriodicInternal(task: PeriodicTask): void
  protected abstract shutdownInternal(): Promise<void>

  #takeBatch(out: CanMessage[], max: number): void {
    if (this.filteredInternally) {
      this.pollBatchInternal(out, max)
      return
    }
    const start = out.length
    this.pollBatchInternal(out, max)
    let kept = start
    for (let i = start; i < out.length; i++) {
      const message = out[i]!
      if (this.matchesFilters(message)) out[kept++] = message
    }
    out.length = kept
  }

  #next(signal: AbortSignal | undefined): Promise<IteratorResult<CanMessage>> {
    for (;;) {
      const message = this.pollInternal()
      if (message === null) return this.#nextSlow(signal)
      if (this.filteredInternally || this.matchesFilters(message)) {
        return Promise.resolve({ done: false, value: message })
      }
    }
  }

  async #nextSlow(signal: AbortSignal | undefined): Promise<IteratorResult<CanMessage>> {
    for (;;) {
      if (this.isShutdown || signal?.aborted) return DONE
      await this.waitInternal(undefined, signal)
      const message = this.pollInternal()
      if (message !== null && (this.filteredInternally || this.matchesFilters(message))) {
        return { done: false, value: message }
      }
    }
  }
}

function checkTimeout(timeoutMs: number | undefined, name: string): void {
  if (timeoutMs === undefined) return
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0) {
    throw new RangeError(`${name} must be a number >= 0 or undefined, got ${String(timeoutMs)}`)
  }
}
