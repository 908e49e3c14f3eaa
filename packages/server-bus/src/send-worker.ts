// The send path of one channel: a p-queue (concurrency 1) keeps the TRANSMIT writes in order
// and waits for socket drain, results are matched by requestId without blocking the next
// write, and an optional hold queue keeps frames through an outage for at most a TTL.
import type { TransmitResult, TxFrame } from '@canbridge/protocol'
import PQueue from 'p-queue'
import type { ChannelTracker } from './channel-tracker.ts'
import type { EdgeSession } from './edge-session.ts'
import { CanOperationError, type SendFailureReason } from './errors.ts'

export interface HoldOptions {
  /** a frame older than this when its edge comes back is rejected (`ttl-expired`) */
  ttlMs: number
  /** most frames held for one channel; more are rejected (`queue-full`) */
  maxFrames: number
}

interface Job {
  frame: TxFrame
  timeoutMs: number
  /** performance.now() at the caller's send(): the age that the hold TTL measures */
  createdAt: number
  /** when the current wait for a result ends */
  deadline: number
  resolve: () => void
  reject: (error: CanOperationError) => void
  timer: NodeJS.Timeout | undefined
  session: EdgeSession | undefined
  requestId: number
  written: boolean
}

interface Link {
  session: EdgeSession
  index: number
}

export class SendWorker {
  readonly channel: ChannelTracker
  #queue = new PQueue({ concurrency: 1 })
  #link: Link | undefined
  #hold: HoldOptions | undefined
  #held: Job[] = []
  #open = new Set<Job>()
  #nextRequestId: () => number
  readonly #resultGraceMs: number
  #closed = false

  constructor(
    channel: ChannelTracker,
    nextRequestId: () => number,
    hold: HoldOptions | undefined,
    resultGraceMs: number,
  ) {
    this.channel = channel
    this.#nextRequestId = nextRequestId
    this.#hold = hold
    this.#resultGraceMs = resultGraceMs
  }

  /** Sends not yet settled: held, waiting for the socket, or awaiting their result. */
  get outstanding(): number {
    return this.#open.size
  }

  get connected(): boolean {
    return this.#link !== undefined
  }

  /**
   * Resolves when the edge reports the frame accepted; rejects with a CanOperationError.
   * `sentAt`: the wall clock (ms) of send() in another thread; its age counts from there.
   */
  send(frame: TxFrame, timeoutMs: number, sentAt?: number): Promise<void> {
    if (this.#closed) return Promise.reject(this.#error('shutdown', 'the bus is shut down'))
    if (this.#link === undefined) {
      if (this.#hold === undefined) {
        this.channel.sendFailures++
        return Promise.reject(this.#error('not-connected', 'no edge connected for this channel'))
      }
      if (this.#held.length >= this.#hold.maxFrames) {
        this.channel.sendFailures++
        return Promise.reject(
          this.#error('queue-full', `${this.#hold.maxFrames} frames already wait for the edge`),
        )
      }
    }
    return new Promise<void>((resolve, reject) => {
      const now = performance.now()
      // another thread's wall clock on this one's timeline (never in this one's future)
      const createdAt = sentAt === undefined ? now : Math.min(now, sentAt - performance.timeOrigin)
      const job: Job = {
        frame,
        timeoutMs,
        createdAt,
        deadline: now + timeoutMs,
        resolve,
        reject,
        timer: undefined,
        session: undefined,
        requestId: -1,
        written: false,
      }
      this.#open.add(job)
      if (this.#link === undefined) this.#holdJob(job)
      else this.#dispatch(job, undefined)
    })
  }

  /** The edge of this channel completed its handshake: send what was held, oldest first. */
  attach(session: EdgeSession, index: number): void {
    this.#link = { session, index }
    const held = this.#held
    this.#held = []
    const now = performance.now()
    for (const job of held) {
      clearTimeout(job.timer)
      const age = now - job.createdAt
      const ttlMs = this.#hold?.ttlMs ?? Number.POSITIVE_INFINITY
      if (age > ttlMs) {
        this.#fail(job, 'ttl-expired', `held ${Math.round(age)} ms, longer than ${ttlMs} ms`)
      } else {
        this.#dispatch(job, ttlMs - age)
      }
    }
  }

  /** The edge's connection closed (results in flight fail through the session). */
  detach(session: EdgeSession): void {
    if (this.#link?.session === session) this.#link = undefined
  }

  /** Rejects everything not settled with `shutdown`. */
  close(): void {
    this.#closed = true
    this.#link = undefined
    this.#queue.clear()
    for (const job of [...this.#open]) this.#fail(job, 'shutdown', 'the bus is shut down')
    this.#held = []
  }

  #dispatch(job: Job, ttlLeftMs: number | undefined): void {
    job.deadline = performance.now() + job.timeoutMs
    job.timer = setTimeout(() => this.#deadlinePassed(job), job.timeoutMs)
    this.#queue
      .add(() => this.#write(job, ttlLeftMs))
      .catch((error: unknown) => {
        // Only clear() rejects queued tasks (AbortError); close() has failed their jobs already.
        if (!(error instanceof Error && error.name === 'AbortError')) {
          this.#fail(job, 'internal', String(error))
        }
      })
  }

  async #write(job: Job, ttlLeftMs: number | undefined): Promise<void> {
    if (!this.#open.has(job)) return
    let link = this.#link
    if (link?.session.socket.writableNeedDrain) {
      await link.session.whenWritable()
      if (!this.#open.has(job)) return
      link = this.#link
    }
    if (link === undefined || link.session.closed) {
      this.#linkLost(job)
      return
    }
    // The edge discards the frame unsent once we would have reported a timeout (or it aged out).
    const ttlMs = Math.max(
      1,
      Math.ceil(Math.min(job.deadline - performance.now(), ttlLeftMs ?? Number.POSITIVE_INFINITY)),
    )
    job.requestId = this.#nextRequestId()
    job.session = link.session
    job.written = true
    try {
      link.session.transmit(job.requestId, link.index, job.frame, ttlMs, (result) =>
        this.#onResult(job, result),
      )
    } catch (error) {
      if (!(error instanceof RangeError)) throw error
      this.#fail(job, 'invalid-frame', error.message)
    }
  }

  /**
   * The send's timeout passed. Not written yet: it never will be, a timeout. Written: the edge
   * counts the ttl from when it read the TRANSMIT, later than our clock started, so on a slow
   * link or a busy edge the frame may go out after our deadline; the edge always answers
   * (sent, or ttl-expired), so its verdict is awaited, for `resultGraceMs` more at most.
   */
  #deadlinePassed(job: Job): void {
    if (
      !job.written ||
      job.session === undefined ||
      job.session.closed ||
      this.#resultGraceMs === 0
    ) {
      this.#fail(job, 'timeout', `no result from the edge within ${job.timeoutMs} ms`)
      return
    }
    job.timer = setTimeout(
      () =>
        this.#fail(
          job,
          'timeout',
          `no result from the edge within ${job.timeoutMs + this.#resultGraceMs} ms (the frame may have reached the bus)`,
        ),
      this.#resultGraceMs,
    )
  }

  /** Keeps a frame until its edge is back; it fails as soon as it is older than the TTL. */
  #holdJob(job: Job): void {
    clearTimeout(job.timer)
    const ttlMs = this.#hold!.ttlMs
    const left = ttlMs - (performance.now() - job.createdAt)
    job.timer = setTimeout(
      () => this.#fail(job, 'ttl-expired', `the edge did not come back within ${ttlMs} ms`),
      Math.max(0, left),
    )
    this.#held.push(job)
  }

  #linkLost(job: Job): void {
    if (this.#hold !== undefined && !this.#closed) {
      this.#holdJob(job)
      return
    }
    this.#fail(job, 'not-connected', 'the edge disconnected before the frame was written')
  }

  #onResult(job: Job, result: TransmitResult | null): void {
    if (!this.#open.has(job)) return
    if (result === null) {
      this.#fail(job, 'not-connected', 'the connection closed before the edge confirmed the frame')
    } else if (result.ok) {
      this.#settle(job)
      this.channel.framesOut++
      job.resolve()
    } else {
      this.#fail(job, result.error ?? 'internal', result.message)
    }
  }

  #settle(job: Job): void {
    this.#open.delete(job)
    clearTimeout(job.timer)
    if (job.session !== undefined) job.session.forgetTransmit(job.requestId)
  }

  #fail(job: Job, reason: SendFailureReason, detail: string | undefined): void {
    if (!this.#open.has(job)) return
    this.#settle(job)
    const index = this.#held.indexOf(job)
    if (index !== -1) this.#held.splice(index, 1)
    this.channel.sendFailures++
    job.reject(this.#error(reason, detail))
  }

  #error(reason: SendFailureReason, detail: string | undefined): CanOperationError {
    const text = detail ? `${reason} (${detail})` : reason
    return new CanOperationError(`send on ${this.channel.name} failed: ${text}`, {
      reason,
      channel: this.channel.name,
    })
  }
}
