// How long the binding's reader thread waits after each batch before it polls again
// (setBatchWait): long enough that a steady bus is read many frames per wake-up (one wake-up
// per frame costs a thread hand-off and a JavaScript call, several times candump's CPU per
// frame at 1,000-5,000 frames/s), short enough that the kernel's queue never fills meanwhile.
import { QUEUED_FRAME_BYTES } from './receive-buffer.ts'

/** the wait leaves at least this share of the kernel's queue free at the current rate */
const QUEUE_SHARE = 0.25
/** waits are set in steps of this many µs, so that a steady rate does not call the addon each batch */
const STEP_US = 250
/** the kernel's default SO_RCVBUF, taken when the edge did not set one */
export const DEFAULT_RECEIVE_BUFFER = 212_992

export class ReadPacer {
  readonly #maxWaitUs: number
  readonly #recordCapacity: number
  readonly #queueFrames: number
  #waitUs = 0

  /**
   * @param maxWaitUs the longest a frame may wait in the kernel's queue (0: never wait)
   * @param recordCapacity records one wake-up can read (a full batch means more are queued)
   * @param receiveBufferBytes the socket's SO_RCVBUF as the kernel reports it
   */
  constructor(maxWaitUs: number, recordCapacity: number, receiveBufferBytes: number) {
    this.#maxWaitUs = maxWaitUs
    this.#recordCapacity = recordCapacity
    this.#queueFrames = Math.max(1, Math.floor(receiveBufferBytes / QUEUED_FRAME_BYTES))
  }

  /** The wait currently asked of the reader thread, in µs. */
  get waitUs(): number {
    return this.#waitUs
  }

  /**
   * After a batch of `count` frames: the wait before the next poll, or undefined when it is
   * the one already set. The rate is judged from the frames that queued during the last wait
   * (no clock read: a system call per batch where the kernel has no vDSO clock); time spent
   * reading makes it look higher, so the wait errs short.
   */
  afterBatch(count: number): number | undefined {
    let wait = 0
    if (this.#maxWaitUs > 0 && count < this.#recordCapacity) {
      const perUs = count / Math.max(this.#waitUs, STEP_US)
      const roomUs = (this.#queueFrames * QUEUE_SHARE) / perUs
      wait = Math.floor(Math.min(this.#maxWaitUs, roomUs) / STEP_US) * STEP_US
    }
    if (wait === this.#waitUs) return undefined
    this.#waitUs = wait
    return wait
  }
}
