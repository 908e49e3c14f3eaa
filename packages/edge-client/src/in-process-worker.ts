// --threads 1: the socket-write side run in the main thread, behind the part of the Worker
// interface the supervisor uses (messages over a MessageChannel, 'error', 'exit', terminate).
// A fault of that side (its end.fail, or an exception nobody caught while it runs: in one
// thread nothing tells whose it was) ends it like a worker's: disposed of, 'error', then
// 'exit' 1, and the supervisor starts a new one on the same rings.
import { EventEmitter } from 'node:events'
import { MessageChannel, type TransferListItem } from 'node:worker_threads'
import { handOver, type ThreadEnd } from './thread-end.ts'

/** What runs in process: it stops everything it started when disposed of. */
export interface InProcessSide {
  dispose(): Promise<void>
}

export interface InProcessOptions {
  /** how long a side may take to be disposed of (its spools closed) before `wedged` */
  disposeWaitMs?: number
  /**
   * A side that cannot be disposed of (a spool stuck in a dead disk): no successor may open
   * its spools while it might still write them, so the process must end (default: 'error')
   */
  wedged?: (reason: string) => void
}

export class InProcessWorker extends EventEmitter {
  readonly #port
  readonly #other
  readonly #side: Promise<InProcessSide | undefined>
  #ended: Promise<number> | undefined
  readonly #uncaught = (error: unknown): void => this.#fail(error)
  readonly #disposeWaitMs: number
  readonly #wedged: (reason: string) => void

  /**
   * @param start imports the side's module, by a literal path (a bundler then bundles it: the
   *   single executable's main script holds it), and starts the side on `end`
   */
  constructor(
    start: (end: ThreadEnd) => Promise<InProcessSide>,
    data: unknown,
    options: InProcessOptions = {},
  ) {
    super()
    this.#disposeWaitMs = options.disposeWaitMs ?? 10_000
    this.#wedged = options.wedged ?? ((reason) => this.emit('error', new Error(reason)))
    const { port1, port2 } = new MessageChannel()
    this.#port = port1
    this.#other = port2
    port1.on('message', (message: unknown) => this.emit('message', message))
    const end: ThreadEnd = { port: port2, data, inProcess: true, fail: (e) => this.#fail(e) }
    handOver(end)
    process.on('uncaughtException', this.#uncaught)
    this.#side = start(end).catch((error: unknown) => {
      this.#fail(error)
      return undefined
    })
  }

  postMessage(value: unknown, transferList?: readonly TransferListItem[]): void {
    this.#port.postMessage(value, transferList)
  }

  /** Disposes of the side, closes the channel, then 'exit' 1, as a terminated worker. */
  terminate(): Promise<number> {
    this.#ended ??= this.#end()
    return this.#ended
  }

  #fail(error: unknown): void {
    if (this.#ended) return
    this.emit('error', error)
    void this.terminate()
  }

  async #end(): Promise<number> {
    process.off('uncaughtException', this.#uncaught)
    let timer: NodeJS.Timeout | undefined
    const wedged = new Promise<'wedged'>((resolve) => {
      timer = setTimeout(() => resolve('wedged'), this.#disposeWaitMs)
    })
    try {
      const disposed = this.#side.then((side) => side?.dispose())
      if ((await Promise.race([disposed, wedged])) === 'wedged') {
        // no 'exit': a restart now would open the spools the stuck side may still write
        this.#wedged(
          `the sending side did not end within ${this.#disposeWaitMs} ms of its fault (a spool stuck in its disk?)`,
        )
        return 1
      }
    } catch (error) {
      this.emit('error', error)
    } finally {
      clearTimeout(timer)
    }
    this.#port.close()
    this.#other.close()
    this.emit('exit', 1)
    return 1
  }
}
