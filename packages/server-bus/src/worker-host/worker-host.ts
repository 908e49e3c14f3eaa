// The application's side of a worker host: spawns the worker shell with a session module,
// passes typed messages both ways, answers synchronous calls, and turns every way a worker
// can fail into one CanError for its owner: an uncaught error, an exit it did not ask for,
// a message it cannot read, a heartbeat that stops (a worker stuck in a loop), a start
// that fails. Generic over the session: TCPBus's edge server runs in it, and so can others.
import {
  MessageChannel,
  type MessagePort,
  receiveMessageOnPort,
  type TransferListItem,
  Worker,
} from 'node:worker_threads'
import { CanError, CanInitializationError } from '../errors.ts'
import { HOST_SLOT, HOST_SLOTS } from './host-slots.ts'
import type { FromWorkerShell, ShellReply, ToWorkerShell, WorkerShellData } from './messages.ts'
import { type ErrorClasses, reviveError } from './transferred-error.ts'

const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
const SHELL_URL = new URL(`./host.worker${EXT}`, import.meta.url)
const DEFAULT_HEARTBEAT_MS = 250
const DEFAULT_STALL_MS = 5000

export interface WorkerHostOptions<Init, Out> {
  /** the session module (exports `startSession`) */
  moduleUrl: URL
  init: Init
  /** shared buffers and ports inside `init` travel as they are; ports must be listed here */
  transferList?: readonly TransferListItem[] | undefined
  /** the thread's name, in errors and the inspector */
  name: string
  /** how often the worker beats (default 250 ms) */
  heartbeatMs?: number | undefined
  /** a worker that has not beaten for this long is taken for stuck (default 5000 ms) */
  stallMs?: number | undefined
  /** classes to make the worker's errors again with (start failures, by name) */
  errorClasses?: ErrorClasses | undefined
  onMessage: (message: Out) => void
  /** the worker failed for good; called once, not after `stop()` */
  onFailure: (error: CanError) => void
}

export class WorkerHost<In, Out, Reply> {
  readonly #worker: Worker
  readonly #control: Int32Array
  readonly #replies: MessagePort
  readonly #events: MessagePort
  readonly #options: WorkerHostOptions<unknown, Out>
  readonly #stallMs: number
  #watch: NodeJS.Timeout | undefined
  readonly #exited: Promise<void>
  #lastBeat = -1
  #lastBeatAt = performance.now()
  #calls = 0
  #stopping = false
  #dispatching = false
  #failed: CanError | undefined
  #started: { resolve: () => void; reject: (error: Error) => void } | undefined

  /** Spawns the worker; resolves once its session started, rejects with why it did not. */
  static async start<Init, In, Out, Reply>(
    options: WorkerHostOptions<Init, Out>,
  ): Promise<WorkerHost<In, Out, Reply>> {
    const host = new WorkerHost<In, Out, Reply>(options as WorkerHostOptions<unknown, Out>)
    await new Promise<void>((resolve, reject) => {
      host.#started = { resolve, reject }
    })
    return host
  }

  private constructor(options: WorkerHostOptions<unknown, Out>) {
    this.#options = options
    const control = new SharedArrayBuffer(HOST_SLOTS * 4)
    this.#control = new Int32Array(control)
    const { port1, port2 } = new MessageChannel()
    this.#replies = port1
    const events = new MessageChannel()
    this.#events = events.port1
    const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS
    const data: WorkerShellData<unknown> = {
      moduleUrl: options.moduleUrl.href,
      init: options.init,
      control,
      replyPort: port2,
      eventPort: events.port2,
      heartbeatMs,
    }
    this.#worker = new Worker(SHELL_URL, {
      name: options.name,
      workerData: data,
      transferList: [port2, events.port2, ...(options.transferList ?? [])],
    })
    this.#events.on('message', (message: FromWorkerShell<Out>) => this.#onMessage(message))
    this.#events.unref()
    // the worker's own channel carries nothing: anything on it is a fault
    this.#worker.on('message', (message: unknown) => this.#onMessage(message as never))
    this.#events.on('messageerror', (error) =>
      this.#fail(new CanError(`${options.name}: a message could not be read`, { cause: error })),
    )
    this.#worker.on('messageerror', (error) =>
      this.#fail(new CanError(`${options.name}: a message could not be read`, { cause: error })),
    )
    this.#worker.on('error', (error) =>
      this.#fail(new CanError(`${options.name} failed: ${error.message}`, { cause: error })),
    )
    this.#exited = new Promise((resolve) => {
      this.#worker.once('exit', (code) => {
        clearInterval(this.#watch)
        // what it posted before it ended (a start failure, its last events) comes first
        this.drain()
        if (!this.#stopping) {
          this.#fail(new CanError(`${options.name} exited unexpectedly (exit code ${code})`))
        }
        resolve()
      })
    })
    this.#stallMs = options.stallMs ?? DEFAULT_STALL_MS
  }

  /** The worker failed (and is gone, or going). */
  get failure(): CanError | undefined {
    return this.#failed
  }

  /**
   * Handles now the messages the worker has posted so far (they would otherwise wait for this
   * thread's next turn): whoever reads shared memory the worker wrote after an event sees the
   * event first.
   */
  drain(): void {
    // not from inside a handler: a listener would see later events before its own ends
    if (this.#dispatching) return
    for (
      let received = receiveMessageOnPort(this.#events);
      received !== undefined;
      received = receiveMessageOnPort(this.#events)
    ) {
      this.#onMessage(received.message as FromWorkerShell<Out>)
    }
  }

  post(message: In): void {
    if (this.#failed !== undefined || this.#stopping) return
    const envelope: ToWorkerShell<In> = { kind: 'message', body: message }
    this.#worker.postMessage(envelope)
  }

  /**
   * A synchronous call: blocks this thread until the worker answers (it runs on its own),
   * at most `timeoutMs`; a worker that does not answer by then is taken for stuck.
   */
  call(message: In, timeoutMs: number): Reply {
    if (this.#failed !== undefined) throw this.#failed
    const id = ++this.#calls
    Atomics.store(this.#control, HOST_SLOT.REPLY_READY, 0)
    const envelope: ToWorkerShell<In> = { kind: 'call', id, body: message }
    this.#worker.postMessage(envelope)
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const left = deadline - performance.now()
      if (left <= 0) break
      Atomics.wait(this.#control, HOST_SLOT.REPLY_READY, 0, left)
      Atomics.store(this.#control, HOST_SLOT.REPLY_READY, 0)
      // answers to calls that timed out before are skipped
      for (let received = receiveMessageOnPort(this.#replies); received !== undefined; ) {
        const reply = received.message as ShellReply<Reply>
        if (reply.id === id) return reply.body
        received = receiveMessageOnPort(this.#replies)
      }
    }
    const error = new CanError(`${this.#options.name} did not answer within ${timeoutMs} ms`)
    this.#fail(error)
    throw error
  }

  /**
   * Waits for the worker to end after its session was told to stop (by a message); after
   * `graceMs` it is terminated.
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true
    clearInterval(this.#watch)
    const grace = setTimeout(() => void this.#worker.terminate(), graceMs)
    await this.#exited
    clearTimeout(grace)
    this.drain()
    this.#replies.close()
    this.#events.close()
  }

  #onMessage(message: FromWorkerShell<Out>): void {
    switch (message.kind) {
      case 'message':
        if (this.#failed !== undefined) return
        this.#dispatching = true
        try {
          this.#options.onMessage(message.body)
        } finally {
          this.#dispatching = false
        }
        return
      case 'started': {
        // watched from here: starting (loading modules, certificates) may take longer
        this.#lastBeatAt = performance.now()
        const heartbeatMs = this.#options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS
        this.#watch = setInterval(() => this.#checkHeartbeat(this.#stallMs), heartbeatMs)
        this.#watch.unref()
        this.#started?.resolve()
        this.#started = undefined
        return
      }
      case 'startFailed': {
        this.#stopping = true
        const error = reviveError(message.error, this.#options.errorClasses ?? {})
        this.#started?.reject(
          error instanceof CanError || error instanceof TypeError || error instanceof RangeError
            ? error
            : new CanInitializationError(error.message, { cause: error }),
        )
        this.#started = undefined
        return
      }
      default:
        this.#fail(
          new CanError(`${this.#options.name} sent an unknown message: ${JSON.stringify(message)}`),
        )
    }
  }

  #checkHeartbeat(stallMs: number): void {
    const beat = Atomics.load(this.#control, HOST_SLOT.HEARTBEAT)
    const now = performance.now()
    if (beat !== this.#lastBeat) {
      this.#lastBeat = beat
      this.#lastBeatAt = now
    } else if (now - this.#lastBeatAt >= stallMs) {
      this.#fail(
        new CanError(
          `${this.#options.name} stopped answering: no heartbeat for ${Math.round(now - this.#lastBeatAt)} ms`,
        ),
      )
    }
  }

  #fail(error: CanError): void {
    if (this.#failed !== undefined || this.#stopping) return
    this.#failed = error
    clearInterval(this.#watch)
    void this.#worker.terminate()
    if (this.#started !== undefined) {
      this.#started.reject(new CanInitializationError(error.message, { cause: error }))
      this.#started = undefined
      return
    }
    this.#options.onFailure(error)
  }
}
