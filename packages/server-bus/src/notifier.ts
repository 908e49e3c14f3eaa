// The Notifier (python-can's can/notifier.py): reads one or more buses in the background and
// hands each message to every listener in turn, awaiting listeners that return a promise.
import type { Bus } from './bus.ts'
import type { Listener } from './listeners.ts'
import { type Logger, stderrLogger } from './logger.ts'

// biome-ignore lint/suspicious/noExplicitAny: any bus, whatever its event map
type AnyBus = Bus<any>

export interface NotifierOptions {
  /** where an error no listener handled is reported; default: stderr */
  logger?: Logger | undefined
}

export class Notifier {
  #listeners: Listener[]
  #loops = new Map<AnyBus, Promise<void>>()
  #controller = new AbortController()
  #logger: Logger
  #stopping: Promise<void> | undefined
  /** the last error no listener handled (it ended that bus's loop), as python-can keeps it */
  exception: unknown = undefined

  constructor(
    buses: AnyBus | readonly AnyBus[],
    listeners: readonly Listener[],
    options: NotifierOptions = {},
  ) {
    this.#listeners = [...listeners]
    this.#logger = options.logger ?? stderrLogger
    for (const bus of Array.isArray(buses) ? buses : [buses as AnyBus]) this.addBus(bus)
  }

  get listeners(): readonly Listener[] {
    return this.#listeners
  }

  get buses(): readonly AnyBus[] {
    return [...this.#loops.keys()]
  }

  /** Starts reading another bus. */
  addBus(bus: AnyBus): void {
    if (this.#stopping !== undefined) throw new Error('Notifier: stopped')
    if (this.#loops.has(bus)) return
    this.#loops.set(bus, this.#run(bus))
  }

  addListener(listener: Listener): void {
    this.#listeners.push(listener)
  }

  removeListener(listener: Listener): void {
    const index = this.#listeners.indexOf(listener)
    if (index === -1) throw new RangeError('Notifier: no such listener')
    this.#listeners.splice(index, 1)
  }

  /**
   * Stops reading (the message being delivered finishes), waits up to `timeoutMs` for the
   * loops, then stops every listener. Idempotent.
   */
  stop(timeoutMs = 5000): Promise<void> {
    this.#stopping ??= this.#stop(timeoutMs)
    return this.#stopping
  }

  async #stop(timeoutMs: number): Promise<void> {
    this.#controller.abort()
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs)
    })
    await Promise.race([Promise.all(this.#loops.values()), timeout])
    clearTimeout(timer)
    for (const listener of this.#listeners) await listener.stop?.()
  }

  async #run(bus: AnyBus): Promise<void> {
    const signal = this.#controller.signal
    // One message at a time, as python-can's notifier does: a listener error that stops the
    // loop leaves every later message on the bus, none taken and dropped.
    try {
      for await (const message of bus.messages({ signal })) {
        for (const listener of this.#listeners) {
          try {
            const pending = listener.onMessage(message)
            if (pending !== undefined) await pending
          } catch (error) {
            if (!this.#onError(error)) throw error
          }
        }
      }
    } catch (error) {
      this.exception = error
      this.#logger.error(
        { bus: bus.channelInfo, error: String(error) },
        'Notifier: an error no listener handled stopped reading this bus',
      )
    }
  }

  /** python-can's `_on_error`: true when at least one listener has an onError. */
  #onError(error: unknown): boolean {
    let handled = false
    for (const listener of this.#listeners) {
      if (listener.onError === undefined) continue
      listener.onError(error)
      handled = true
    }
    return handled
  }
}
