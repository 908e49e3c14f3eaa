// The worker shell (after thread-stream's lib/worker.js): loads the session module named in
// workerData, beats a heartbeat the application's thread watches, routes messages and
// synchronous calls to the session, and refuses an unknown message loudly (an uncaught error
// ends the worker: the host reports it).
import { parentPort, workerData } from 'node:worker_threads'
import { HOST_SLOT } from './host-slots.ts'
import type { FromWorkerShell, ShellReply, ToWorkerShell, WorkerShellData } from './messages.ts'
import type { StartSession, WorkerSession } from './session.ts'
import { transferError } from './transferred-error.ts'

class WorkerShell {
  readonly #data: WorkerShellData<unknown>
  readonly #control: Int32Array
  readonly #port: NonNullable<typeof parentPort>
  readonly #heartbeat: NodeJS.Timeout
  #session: WorkerSession<unknown, unknown> | undefined

  constructor(data: WorkerShellData<unknown>, port: NonNullable<typeof parentPort>) {
    this.#data = data
    this.#port = port
    this.#control = new Int32Array(data.control)
    Atomics.add(this.#control, HOST_SLOT.HEARTBEAT, 1)
    this.#heartbeat = setInterval(
      () => Atomics.add(this.#control, HOST_SLOT.HEARTBEAT, 1),
      data.heartbeatMs,
    )
    this.#heartbeat.unref()
    port.on('message', (message: ToWorkerShell<unknown>) => this.#onMessage(message))
  }

  async start(): Promise<void> {
    try {
      const module = (await import(this.#data.moduleUrl)) as { startSession?: unknown }
      if (typeof module.startSession !== 'function') {
        throw new TypeError(`${this.#data.moduleUrl} does not export startSession`)
      }
      const start = module.startSession as StartSession<unknown, unknown, unknown, unknown>
      this.#session = await start({
        init: this.#data.init,
        post: (body) => this.#post({ kind: 'message', body }),
        exit: () => this.#exit(),
      })
    } catch (error) {
      this.#post({ kind: 'startFailed', error: transferError(error) })
      this.#exit()
      return
    }
    this.#post({ kind: 'started' })
  }

  #onMessage(message: ToWorkerShell<unknown>): void {
    const session = this.#session
    if (session === undefined) throw new Error(`message ${message.kind} before the session started`)
    switch (message.kind) {
      case 'message':
        session.onMessage(message.body)
        return
      case 'call': {
        const reply: ShellReply<unknown> = { id: message.id, body: session.onCall(message.body) }
        this.#data.replyPort.postMessage(reply)
        Atomics.store(this.#control, HOST_SLOT.REPLY_READY, 1)
        Atomics.notify(this.#control, HOST_SLOT.REPLY_READY)
        return
      }
      default:
        throw new Error(`unknown message from the application's thread: ${JSON.stringify(message)}`)
    }
  }

  #post(message: FromWorkerShell<unknown>): void {
    this.#data.eventPort.postMessage(message)
  }

  /** Lets the thread end once its session has nothing left to do (posted messages still go). */
  #exit(): void {
    clearInterval(this.#heartbeat)
    this.#data.replyPort.unref()
    this.#data.eventPort.unref()
    this.#port.unref()
  }
}

if (parentPort === null) throw new Error('host.worker.ts runs as a worker thread only')
await new WorkerShell(workerData as WorkerShellData<unknown>, parentPort).start()
