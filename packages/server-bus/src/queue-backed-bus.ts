// A Bus whose received frames wait in one queue (TCPBus, SocketcandBus): recv, batches and
// the local filters all read that queue.
import { Bus } from './bus.ts'
import type { CanFilter } from './filters.ts'
import type { CanMessage } from './message.ts'

/**
 * Where received frames wait: a ReceiveQueue, or the ring from TCPBus's worker. Messages are
 * made as they are taken, with the filters applied then.
 */
export interface FrameSource {
  /** python-can filters applied as frames are taken; null passes everything */
  filters: readonly CanFilter[] | null
  /** the next frame that passes the filters, or null when none is waiting */
  shift(): CanMessage | null
  /** moves up to `max` passing frames into `out`; returns how many it added */
  shiftInto(out: CanMessage[], max: number): number
  /** resolves when frames may be available, the source closed, on timeout or abort */
  wait(timeoutMs?: number, signal?: AbortSignal): Promise<void>
}

export abstract class QueueBackedBus<
  Events extends Record<keyof Events, unknown[]> = Record<never, never>,
> extends Bus<Events> {
  /** why the transport failed for good: what was received is delivered, then this is thrown */
  protected failure: Error | undefined

  /** the queue the transport fills */
  protected abstract get receiveQueue(): FrameSource

  protected override pollInternal(): CanMessage | null {
    const message = this.receiveQueue.shift()
    if (message === null && this.failure !== undefined) throw this.failure
    return message
  }

  protected override pollBatchInternal(out: CanMessage[], max: number): void {
    this.receiveQueue.shiftInto(out, max - out.length)
    if (out.length === 0 && this.failure !== undefined) throw this.failure
  }

  protected override waitInternal(
    timeoutMs: number | undefined,
    signal?: AbortSignal,
  ): Promise<void> {
    return this.receiveQueue.wait(timeoutMs, signal)
  }

  protected override applyFilters(filters: readonly CanFilter[] | null): void {
    this.receiveQueue.filters = filters
  }
}
