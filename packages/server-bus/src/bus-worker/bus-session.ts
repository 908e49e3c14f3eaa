// TCPBus's session in the worker host: an EdgeServer whose receive sink is the frame ring,
// driven by the messages of the application's thread, its events and logs posted back.
import { EdgeServer, type PeriodicSpec } from '../edge-server.ts'
import type { CanFilter } from '../filters.ts'
import type { Logger } from '../logger.ts'
import type { WorkerSession, WorkerSessionContext } from '../worker-host/session.ts'
import { transferError } from '../worker-host/transferred-error.ts'
import { FrameRingWriter } from './frame-ring-writer.ts'
import type {
  BusWorkerInit,
  BusWorkerReply,
  FromBusWorker,
  LinkView,
  PeriodicTaskData,
  ToBusWorker,
} from './messages.ts'

type Context = WorkerSessionContext<BusWorkerInit, FromBusWorker>

/** A periodic task kept in the worker, its remaining time counted on this thread's clock. */
class WorkerPeriodicTask implements PeriodicSpec {
  readonly taskId: number
  readonly channel: string
  frames: PeriodicTaskData['frames']
  readonly periodMs: number
  readonly #endsAt: number | undefined

  constructor(data: PeriodicTaskData) {
    this.taskId = data.taskId
    this.channel = data.channel
    this.frames = data.frames
    this.periodMs = data.periodMs
    this.#endsAt = data.remainingMs === undefined ? undefined : performance.now() + data.remainingMs
  }

  remainingMs(): number | undefined {
    return this.#endsAt === undefined ? undefined : this.#endsAt - performance.now()
  }
}

class BusSession implements WorkerSession<ToBusWorker, BusWorkerReply> {
  readonly #context: Context
  readonly #server: EdgeServer
  readonly #ring: FrameRingWriter
  readonly #tasks: Map<number, WorkerPeriodicTask>
  readonly #filters: { current: readonly CanFilter[] | null }
  #knownChannels = 0

  constructor(
    context: Context,
    server: EdgeServer,
    ring: FrameRingWriter,
    tasks: Map<number, WorkerPeriodicTask>,
    filters: { current: readonly CanFilter[] | null },
  ) {
    this.#context = context
    this.#server = server
    this.#ring = ring
    this.#tasks = tasks
    this.#filters = filters
    const post = (message: FromBusWorker) => context.post(message)
    server.on('edgeConnected', (edge) => post({ type: 'edgeConnected', edge, view: this.#view() }))
    server.on('edgeDisconnected', (edge, reason) =>
      post({ type: 'edgeDisconnected', edge, reason, view: this.#view() }),
    )
    server.on('edgeError', (error, peer) =>
      post({ type: 'edgeError', error: transferError(error), peer }),
    )
    server.on('gap', (gap) => post({ type: 'gap', gap }))
    server.on('drops', (drops) => post({ type: 'drops', drops }))
    server.on('stateChange', (change) => post({ type: 'stateChange', change, view: this.#view() }))
    post({ type: 'listening', address: server.address, view: this.#view() })
  }

  onMessage(message: ToBusWorker): void {
    switch (message.type) {
      case 'send':
        this.#server.send(message.channel, message.frame, message.timeoutMs, message.sentAt).then(
          () => this.#sendResult(message.id, undefined),
          (error: unknown) => this.#sendResult(message.id, error),
        )
        return
      case 'filters':
        this.#filters.current = message.filters
        this.#server.pushFilters()
        return
      case 'periodicStart': {
        const task = new WorkerPeriodicTask(message.task)
        this.#tasks.set(task.taskId, task)
        this.#server.startPeriodic(task)
        return
      }
      case 'periodicModify': {
        const task = this.#tasks.get(message.task.taskId)
        if (task === undefined) return
        task.frames = message.task.frames
        this.#server.modifyPeriodic(task)
        return
      }
      case 'periodicStop':
        this.#tasks.delete(message.taskId)
        this.#server.stopPeriodic(message)
        return
      case 'shutdown':
        this.#ring.close()
        void this.#server.shutdown().then(() => {
          this.#context.post({ type: 'closed' })
          this.#context.exit()
        })
        return
      default:
        throw new Error(`unknown message for the bus worker: ${JSON.stringify(message)}`)
    }
  }

  onCall(message: ToBusWorker): BusWorkerReply {
    if (message.type !== 'stats') {
      throw new Error(`unknown call to the bus worker: ${JSON.stringify(message)}`)
    }
    return this.#server.stats()
  }

  #sendResult(id: number, error: unknown): void {
    // a send may have named a channel not seen before (held while its edge is away)
    const channels = this.#server.channels.length
    const view = channels === this.#knownChannels ? undefined : this.#view()
    this.#context.post({
      type: 'sendResult',
      id,
      error: error === undefined ? undefined : transferError(error),
      view,
    })
  }

  #view(): LinkView {
    const channels = this.#server.channelStates()
    this.#knownChannels = channels.length
    return { edges: this.#server.edges, channels }
  }
}

/** The logger of the worker: every call is posted to the application's logger. */
function postingLogger(context: Context): Logger {
  const log =
    (level: 'error' | 'warn' | 'info' | 'debug') =>
    (fields: Record<string, unknown>, message: string): void => {
      try {
        context.post({ type: 'log', level, fields, message })
      } catch (error) {
        if (!(error instanceof DOMException && error.name === 'DataCloneError')) throw error
        // a field that cannot cross (a socket, a function): its text crosses instead
        const plain = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, String(v)]))
        context.post({ type: 'log', level, fields: plain, message })
      }
    }
  return { error: log('error'), warn: log('warn'), info: log('info'), debug: log('debug') }
}

export async function startSession(
  context: Context,
): Promise<WorkerSession<ToBusWorker, BusWorkerReply>> {
  const { options, ring: buffers, filters } = context.init
  const ring = new FrameRingWriter(buffers, options.receiveOwnMessages)
  const tasks = new Map<number, WorkerPeriodicTask>()
  const current = { current: filters }
  const server = await EdgeServer.listen({
    options,
    logger: postingLogger(context),
    sink: ring,
    periodicTasks: () => tasks.values(),
    filters: () => current.current,
  })
  ring.onDrain = () => server.resumeEdges()
  return new BusSession(context, server, ring, tasks, current)
}
