// BCM mode's cyclic transmission (`add` / `update` / `delete`), as the kernel's broadcast
// manager does it for socketcand: one job per CAN id (an `add` for an id replaces its job),
// the first frame at once, then one every interval on the edge's drift-free schedule
// (src/periodic.ts). An interval of 0 sends once and keeps the job for `update`/`delete`.
import type { TxFrame } from '@canbridge/protocol'
import { FRAME_FLAG } from '@canbridge/protocol/frames'
import { PeriodicScheduler } from '../periodic.ts'

/** Timers do not go below a millisecond: shorter BCM intervals run at 1 ms. */
export const MIN_INTERVAL_MS = 1

export interface BcmJobHooks {
  /** puts one frame on the bus; false when it did not go out */
  send(frame: TxFrame): boolean
  /** a job's sends fail (the first time, then every 1000th) */
  problem(id: number, extended: boolean, message: string): void
}

interface Job {
  taskId: number
  frame: TxFrame
  periodMs: number
}

/** The job key: the id with SocketCAN's EFF bit, as the kernel's BCM tells jobs apart. */
function keyOf(id: number, extended: boolean): number {
  return extended ? (id | 0x80000000) >>> 0 : id
}

export class BcmJobs {
  readonly #hooks: BcmJobHooks
  readonly #jobs = new Map<number, Job>()
  readonly #scheduler: PeriodicScheduler
  #nextTaskId = 1

  constructor(hooks: BcmJobHooks) {
    this.#hooks = hooks
    this.#scheduler = new PeriodicScheduler({
      send: (_channel, frame) => hooks.send(frame),
      problem: (taskId, message) => {
        for (const job of this.#jobs.values()) {
          if (job.taskId !== taskId) continue
          hooks.problem(job.frame.id, (job.frame.flags & FRAME_FLAG.EXT) !== 0, message)
        }
      },
    })
  }

  get size(): number {
    return this.#jobs.size
  }

  /** `< add >`: starts (or replaces) the job for the frame's id. */
  add(frame: TxFrame, intervalMs: number): void {
    const key = keyOf(frame.id, (frame.flags & FRAME_FLAG.EXT) !== 0)
    const previous = this.#jobs.get(key)
    if (previous) this.#scheduler.stop(previous.taskId)
    const job: Job = {
      taskId: previous?.taskId ?? this.#nextTaskId++,
      frame,
      periodMs: intervalMs === 0 ? 0 : Math.max(MIN_INTERVAL_MS, intervalMs),
    }
    this.#jobs.set(key, job)
    if (job.periodMs === 0) {
      if (!this.#hooks.send(frame)) this.#hooks.problem(frame.id, key !== frame.id, 'send failed')
      return
    }
    this.#scheduler.start({
      taskId: job.taskId,
      channel: 0,
      frames: [frame],
      periodMs: job.periodMs,
    })
  }

  /** `< update >`: new content for a running job, same timer; false when there is no job. */
  update(frame: TxFrame): boolean {
    const job = this.#jobs.get(keyOf(frame.id, (frame.flags & FRAME_FLAG.EXT) !== 0))
    if (!job) return false
    job.frame = frame
    if (job.periodMs > 0) this.#scheduler.modify({ taskId: job.taskId, frames: [frame] })
    return true
  }

  /** `< delete >`: false when there is no job for the id. */
  delete(id: number, extended: boolean): boolean {
    const key = keyOf(id, extended)
    const job = this.#jobs.get(key)
    if (!job) return false
    this.#scheduler.stop(job.taskId)
    this.#jobs.delete(key)
    return true
  }

  /** Every job ends (a mode switch closes socketcand's BCM socket, and with it its jobs). */
  clear(): void {
    this.#scheduler.stopAll('cleared')
    this.#jobs.clear()
  }
}
