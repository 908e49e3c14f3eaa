// The periodic tasks consumers asked a gateway to run on its edges, each held by a lease the
// consumer renews: a renewal (re)starts the task where the edge now is (after a failover it
// reaches the new gateway), and a consumer that dies stops renewing, so its task ends.
import type { TxFrame } from '@canbridge/protocol'
import type { EdgeServer, PeriodicSpec } from '@canbridge/server-bus/edge-server'
import { frameOfJson, type TxPeriodicRequest } from './tx-requests.ts'

class LeasedTask implements PeriodicSpec {
  readonly taskId: number
  readonly channel: string
  readonly periodMs: number
  frames: readonly TxFrame[]
  readonly #endsAt: number | undefined
  lease: NodeJS.Timeout | undefined

  constructor(taskId: number, channel: string, request: TxPeriodicRequest) {
    this.taskId = taskId
    this.channel = channel
    this.periodMs = request.periodMs
    this.frames = request.frames.map(frameOfJson)
    this.#endsAt =
      request.durationMs === undefined ? undefined : performance.now() + request.durationMs
  }

  remainingMs(): number | undefined {
    return this.#endsAt === undefined ? undefined : this.#endsAt - performance.now()
  }
}

export class PeriodicLeases {
  readonly #server: () => EdgeServer
  readonly #tasks = new Map<string, LeasedTask>()
  #taskIds = 0

  /** `server`: the gateway's EdgeServer (made after this object, hence a function) */
  constructor(server: () => EdgeServer) {
    this.#server = server
  }

  /** The running tasks, started again on each edge that connects (EdgeServer's periodicTasks). */
  all(): Iterable<PeriodicSpec> {
    return this.#tasks.values()
  }

  /** Starts the task (if new), changes its frames (if they differ), and renews its lease. */
  renew(edgeId: string, request: TxPeriodicRequest): void {
    if (!(request.periodMs > 0) || !(request.leaseMs > 0) || request.frames.length === 0) {
      throw new RangeError('periodic needs periodMs > 0, leaseMs > 0 and at least one frame')
    }
    const key = `${edgeId}\u0000${request.task}`
    let task = this.#tasks.get(key)
    if (task === undefined) {
      task = new LeasedTask(++this.#taskIds, `${edgeId}/${request.channel}`, request)
      this.#tasks.set(key, task)
      this.#server().startPeriodic(task)
    } else {
      const frames = request.frames.map(frameOfJson)
      if (!sameFrames(frames, task.frames)) {
        task.frames = frames
        this.#server().modifyPeriodic(task)
      }
    }
    clearTimeout(task.lease)
    task.lease = setTimeout(() => this.stop(edgeId, request.task), request.leaseMs)
    task.lease.unref()
  }

  stop(edgeId: string, taskName: string): void {
    const key = `${edgeId}\u0000${taskName}`
    const task = this.#tasks.get(key)
    if (task === undefined) return
    clearTimeout(task.lease)
    this.#tasks.delete(key)
    this.#server().stopPeriodic(task)
  }

  close(): void {
    for (const task of this.#tasks.values()) clearTimeout(task.lease)
    this.#tasks.clear()
  }
}

function sameFrames(a: readonly TxFrame[], b: readonly TxFrame[]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (frame, i) =>
        frame.id === b[i]!.id &&
        frame.flags === b[i]!.flags &&
        frame.len === b[i]!.len &&
        frame.data.length === b[i]!.data.length &&
        frame.data.every((byte, j) => byte === b[i]!.data[j]),
    )
  )
}
