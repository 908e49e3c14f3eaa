// --threads 1: the socket-write worker's module run in the main thread, behind the part of the
// Worker interface the supervisor uses (messages over a MessageChannel, 'error' and 'exit').
// It cannot be restarted: a module is evaluated once per process.
import { EventEmitter } from 'node:events'
import { MessageChannel, type TransferListItem } from 'node:worker_threads'
import { handOver } from './thread-end.ts'

export class InProcessWorker extends EventEmitter {
  readonly #port
  readonly #other

  /**
   * @param load imports the module, by a literal path: a bundler then bundles it (the single
   *   executable's main script holds it; its workers are separate bundles)
   */
  constructor(load: () => Promise<unknown>, data: unknown) {
    super()
    const { port1, port2 } = new MessageChannel()
    this.#port = port1
    this.#other = port2
    port1.on('message', (message: unknown) => this.emit('message', message))
    const fail = (error: unknown): void => {
      this.emit('error', error)
      this.emit('exit', 1)
    }
    handOver(port2, data, fail)
    load().catch(fail)
  }

  postMessage(value: unknown, transferList?: readonly TransferListItem[]): void {
    this.#port.postMessage(value, transferList)
  }

  /** Closes the channel only: what the module opened ends with the process. */
  terminate(): Promise<number> {
    this.#port.close()
    this.#other.close()
    return Promise.resolve(0)
  }
}
