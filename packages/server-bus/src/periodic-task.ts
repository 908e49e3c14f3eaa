// A periodic send (python-can's send_periodic task): the schedule runs on the edge, next to
// the bus; this object only tells the edge to start, modify and stop it.
import type { TxFrame } from '@canbridge/protocol'
import type { CanMessage } from './message.ts'

/** What a bus does for its periodic tasks: the wire side of start / modify / stop. */
export interface PeriodicTaskHost {
  nextTaskId(): number
  startPeriodic(task: PeriodicTask): void
  modifyPeriodic(task: PeriodicTask): void
  stopPeriodic(task: PeriodicTask): void
}

export interface PeriodicTaskInit {
  host: PeriodicTaskHost
  channel: string
  messages: readonly CanMessage[]
  periodMs: number
  durationMs?: number | undefined
  /** called when the task stops, by `stop()` or at the end of its duration */
  onEnd?: ((task: PeriodicTask) => void) | undefined
}

/** Most frames one periodic task may cycle through (PROTOCOL.md §5.8). */
export const MAX_PERIODIC_FRAMES = 256

export class PeriodicTask {
  readonly channel: string
  readonly periodMs: number
  readonly durationMs: number | undefined
  #host: PeriodicTaskHost
  #onEnd: (task: PeriodicTask) => void
  #messages: readonly CanMessage[]
  #frames: TxFrame[]
  #taskId = -1
  #startedAt = 0
  #running = false
  #expiry: NodeJS.Timeout | undefined

  constructor(init: PeriodicTaskInit) {
    this.#host = init.host
    this.channel = init.channel
    this.periodMs = init.periodMs
    this.durationMs = init.durationMs
    this.#onEnd = init.onEnd ?? (() => {})
    this.#messages = Object.freeze([...init.messages])
    this.#frames = init.messages.map((m) => m.toTxFrame())
  }

  /** Id of the current run on the edge (a new one at each `start()`); -1 before the first. */
  get taskId(): number {
    return this.#taskId
  }

  get running(): boolean {
    return this.#running
  }

  /** The messages sent in turn, one per period. */
  get messages(): readonly CanMessage[] {
    return this.#messages
  }

  /** The frames as PERIODIC_START / PERIODIC_MODIFY carry them. */
  get frames(): TxFrame[] {
    return this.#frames
  }

  /** Duration left of a running task with a duration, for re-sending it to a reconnected edge. */
  remainingMs(now = performance.now()): number | undefined {
    if (this.durationMs === undefined) return undefined
    return this.durationMs - (now - this.#startedAt)
  }

  /** Starts (or restarts after `stop()`) the task, under a new task id. */
  start(): void {
    if (this.#running) return
    this.#taskId = this.#host.nextTaskId()
    this.#startedAt = performance.now()
    this.#running = true
    if (this.durationMs !== undefined) {
      this.#expiry = setTimeout(() => this.#end(), this.durationMs)
      this.#expiry.unref()
    }
    this.#host.startPeriodic(this)
  }

  /** Stops the task on the edge. Idempotent. */
  stop(): void {
    if (!this.#running) return
    this.#host.stopPeriodic(this)
    this.#end()
  }

  /**
   * Replaces the data sent. As in python-can, the new messages must be as many as before and
   * keep their arbitration ids (and id kinds).
   */
  modifyData(messages: CanMessage | readonly CanMessage[]): void {
    const list = Array.isArray(messages) ? messages : [messages as CanMessage]
    if (list.length !== this.#messages.length) {
      throw new RangeError(
        `modifyData needs ${this.#messages.length} messages (as many as the task has), got ${list.length}`,
      )
    }
    list.forEach((message, i) => {
      const before = this.#messages[i]!
      if (
        message.arbitrationId !== before.arbitrationId ||
        message.isExtendedId !== before.isExtendedId
      ) {
        throw new RangeError(
          `messages[${i}].arbitrationId 0x${message.arbitrationId.toString(16)} differs from the task's 0x${before.arbitrationId.toString(16)}`,
        )
      }
    })
    this.#messages = Object.freeze([...list])
    this.#frames = list.map((m) => m.toTxFrame())
    if (this.#running) this.#host.modifyPeriodic(this)
  }

  #end(): void {
    if (this.#expiry !== undefined) clearTimeout(this.#expiry)
    this.#expiry = undefined
    if (!this.#running) return
    this.#running = false
    this.#onEnd(this)
  }
}
