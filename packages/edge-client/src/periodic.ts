// Periodic transmit tasks (PERIODIC_START / MODIFY / STOP) on a drift-free schedule: the
// k-th send is due at start + k × period, whatever the timer's lateness; sends whose time
// has passed by a whole period are skipped (counted), never sent in a burst; a send the
// transmit rate limit refuses (the `admit` hook) is skipped too, counted apart.
import type { PeriodicModify, PeriodicStart, TxFrame } from '@canbridge/protocol'

export interface PeriodicHooks {
  /** sends one frame; false when it could not go out */
  send(channel: number, frame: TxFrame): boolean
  /** a problem worth telling the server about */
  problem(taskId: number, message: string): void
  /** whether this send may go out now (the transmit rate limit); false: the slot is skipped */
  admit?(channel: number): boolean
  /** clock in milliseconds (tests inject one) */
  now?: () => number
}

interface Task {
  taskId: number
  channel: number
  frames: TxFrame[]
  periodMs: number
  startedAt: number
  endsAt: number
  /** index of the next send: due at startedAt + k × periodMs */
  k: number
  /** which frame goes next (they are sent in turn) */
  index: number
  sent: number
  skipped: number
  failed: number
  /** sends skipped by the rate limit (admit said no) */
  rateLimited: number
  timer: NodeJS.Timeout | undefined
}

export class PeriodicScheduler {
  readonly #hooks: PeriodicHooks
  readonly #now: () => number
  readonly #tasks = new Map<number, Task>()

  constructor(hooks: PeriodicHooks) {
    this.#hooks = hooks
    this.#now = hooks.now ?? (() => performance.now())
  }

  get size(): number {
    return this.#tasks.size
  }

  stats(
    taskId: number,
  ): { sent: number; skipped: number; failed: number; rateLimited: number } | undefined {
    const task = this.#tasks.get(taskId)
    return (
      task && {
        sent: task.sent,
        skipped: task.skipped,
        failed: task.failed,
        rateLimited: task.rateLimited,
      }
    )
  }

  start(message: PeriodicStart): void {
    this.stop(message.taskId)
    const now = this.#now()
    const task: Task = {
      taskId: message.taskId,
      channel: message.channel,
      frames: message.frames,
      periodMs: message.periodMs,
      startedAt: now,
      endsAt:
        message.durationMs === undefined ? Number.POSITIVE_INFINITY : now + message.durationMs,
      k: 0,
      index: 0,
      sent: 0,
      skipped: 0,
      failed: 0,
      rateLimited: 0,
      timer: undefined,
    }
    this.#tasks.set(task.taskId, task)
    this.#fire(task)
  }

  modify(message: PeriodicModify): void {
    const task = this.#tasks.get(message.taskId)
    if (!task) {
      this.#hooks.problem(message.taskId, 'PERIODIC_MODIFY for a task that is not running')
      return
    }
    task.frames = message.frames
    task.index = 0
  }

  /** The channel of a running task. */
  channelOf(taskId: number): number | undefined {
    return this.#tasks.get(taskId)?.channel
  }

  stop(taskId: number): void {
    const task = this.#tasks.get(taskId)
    if (!task) return
    clearTimeout(task.timer)
    this.#tasks.delete(taskId)
  }

  stopAll(_reason: string): void {
    for (const taskId of [...this.#tasks.keys()]) this.stop(taskId)
  }

  #fire(task: Task): void {
    task.timer = undefined
    if (!this.#tasks.has(task.taskId)) return
    const frame = task.frames[task.index % task.frames.length]!
    task.index++
    if (this.#hooks.admit && !this.#hooks.admit(task.channel)) {
      task.rateLimited++
      if (task.rateLimited === 1 || task.rateLimited % 1000 === 0) {
        this.#hooks.problem(
          task.taskId,
          `${task.rateLimited} send(s) skipped by the edge's transmit rate limit (--tx-rate-limit)`,
        )
      }
    } else if (this.#hooks.send(task.channel, frame)) {
      task.sent++
    } else {
      task.failed++
      if (task.failed === 1 || task.failed % 1000 === 0) {
        this.#hooks.problem(task.taskId, `send failed (${task.failed} so far)`)
      }
    }
    const now = this.#now()
    task.k++
    const late = Math.floor((now - task.startedAt) / task.periodMs) + 1
    if (late > task.k) {
      task.skipped += late - task.k
      task.k = late
    }
    const due = task.startedAt + task.k * task.periodMs
    if (due > task.endsAt) {
      this.#tasks.delete(task.taskId)
      return
    }
    task.timer = setTimeout(() => this.#fire(task), Math.max(0, due - now))
  }
}
