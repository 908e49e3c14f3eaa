// A Bus whose received frames wait in one ReceiveQueue (TCPBus, SocketcandBus): recv, batches
// and the local filters all read that queue.
import { Bus } from './bus.ts'
import type { CanFilter } from './filters.ts'
import type { CanMessage } from './message.ts'
import type { ReceiveQueue } from './receive-queue.ts'

export abstract class QueueBackedBus<
  Events extends Record<keyof Events, unknown[]> = Record<never, never>,
> extends Bus<Events> {
  /** the queue the transport fills */
  protected abstract get receiveQueue(): ReceiveQueue

  protected override pollInternal(): CanMessage | null {
    return this.receiveQueue.shift()
  }

  protected override pollBatchInternal(out: CanMessage[], max: number): void {
    this.receiveQueue.shiftInto(out, max - out.length)
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
