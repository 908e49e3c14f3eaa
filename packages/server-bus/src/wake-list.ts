// Callers waiting for frames to arrive, each with an optional timeout and abort signal: all
// are woken at once (they look again), or one alone when its time runs out or it is aborted.

interface Waiter {
  resolve: () => void
  timer: NodeJS.Timeout | undefined
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

export class WakeList {
  #waiters = new Set<Waiter>()

  get size(): number {
    return this.#waiters.size
  }

  /** Resolves at the next `wakeAll()`, after `timeoutMs`, or when `signal` aborts. */
  wait(timeoutMs?: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const waiter: Waiter = { resolve, timer: undefined, signal, onAbort: undefined }
      if (timeoutMs !== undefined) {
        waiter.timer = setTimeout(() => this.#release(waiter), timeoutMs)
      }
      if (signal !== undefined) {
        waiter.onAbort = () => this.#release(waiter)
        signal.addEventListener('abort', waiter.onAbort, { once: true })
      }
      this.#waiters.add(waiter)
    })
  }

  wakeAll(): void {
    const waiters = [...this.#waiters]
    this.#waiters.clear()
    for (const waiter of waiters) this.#settle(waiter)
  }

  #release(waiter: Waiter): void {
    if (this.#waiters.delete(waiter)) this.#settle(waiter)
  }

  #settle(waiter: Waiter): void {
    if (waiter.timer !== undefined) clearTimeout(waiter.timer)
    if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort)
    waiter.resolve()
  }
}
