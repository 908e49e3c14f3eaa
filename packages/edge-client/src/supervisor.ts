// The supervisor (main thread): one ring per channel, the poll worker and the socket-write
// worker, a MessageChannel between them; restarts a crashed worker (logged, counted, and
// bounded), logs statistics, and shuts down by flushing to the server within a deadline.
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { MessageChannel, Worker } from 'node:worker_threads'
import type { EdgeConfig } from './config.ts'
import type { Logger } from './logger.ts'
import type {
  ChannelInfo,
  LogMessage,
  PollToSupervisor,
  PollWorkerData,
  WriteStats,
  WriteToSupervisor,
  WriteWorkerData,
} from './messages.ts'
import { createDoorbell, createRing, RING_COUNTER, RingMonitor } from './ring.ts'

/** Run from source (.ts, Node strips the types) or from dist (.js): workers follow suit. */
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
const POLL_WORKER_URL = new URL(`./poll.worker${EXT}`, import.meta.url)
const WRITE_WORKER_URL = new URL(`./socket-write.worker${EXT}`, import.meta.url)

/**
 * A small young generation per worker: the hot paths allocate little, and each isolate's
 * default semi-spaces would otherwise cost tens of MB of RSS on a Pi.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 4 }

/** More restarts than this within RESTART_WINDOW_MS: give up (systemd restarts the process). */
const MAX_RESTARTS = 5
const RESTART_WINDOW_MS = 60_000

export function packageVersion(): string {
  const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8')
  return (JSON.parse(text) as { version: string }).version
}

export class StartupError extends Error {
  override readonly name = 'StartupError'
  readonly code: string

  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}

export interface ChannelSnapshot {
  name: string
  framesRead: number
  framesSent: number
  framesAcked: number
  framesEchoed: number
  dropsRingFull: number
  dropsSpoolFull: number
  dropsRingOldest: number
  ringBytes: number
  ringCapacity: number
  spoolBytes: number
  spoolFrames: number
}

export interface Snapshot {
  uptimeMs: number
  /** CPU time of the whole process (all threads) since start, and resident memory */
  cpuUserMs: number
  cpuSystemMs: number
  rssBytes: number
  connected: boolean
  reconnects: number
  workerRestarts: number
  channels: ChannelSnapshot[]
}

export type WorkerKind = 'poll' | 'write'

export class Supervisor {
  readonly config: EdgeConfig
  readonly log: Logger
  readonly instanceId = randomUUID()
  readonly software = `canbridge-edge/${packageVersion()}`
  readonly #rings: SharedArrayBuffer[]
  readonly #monitors: RingMonitor[]
  readonly #doorbell = createDoorbell()
  #channels: ChannelInfo[] = []
  #poll: Worker | undefined
  #write: Worker | undefined
  #writeStats: WriteStats | undefined
  #restarts: number[] = []
  #workerRestarts = 0
  #stopping = false
  #started = false
  #statsTimer: NodeJS.Timeout | undefined
  #startedAt = performance.now()
  readonly #exited = new WeakSet<Worker>()
  #waiters = new Map<string, (value: unknown) => void>()
  /** called once when the supervisor gives up (fatal) */
  onFatal: (error: Error) => void = () => {}

  constructor(config: EdgeConfig, log: Logger) {
    this.config = config
    this.log = log
    this.#rings = config.channels.map(() => createRing(config.ringBytes))
    this.#monitors = this.#rings.map((ring) => new RingMonitor(ring))
  }

  get channels(): readonly ChannelInfo[] {
    return this.#channels
  }

  /** Opens the channels and starts both workers; throws StartupError with what to fix. */
  async start(): Promise<void> {
    this.log.info(
      {
        version: this.software,
        instanceId: this.instanceId,
        edgeId: this.config.edgeId,
        channels: this.config.channels,
        node: process.version,
      },
      'starting',
    )
    const ready = this.#expect('poll-ready')
    this.#poll = this.#startPoll()
    const result = (await ready) as PollToSupervisor
    if (result.type === 'open-failed') {
      throw new StartupError(result.code, result.message)
    }
    if (result.type !== 'ready')
      throw new StartupError('internal', `poll worker said ${result.type}`)
    this.#channels = result.channels
    const writeReady = this.#expect('write-ready')
    this.#write = this.#startWrite()
    const written = (await writeReady) as WriteToSupervisor | Error
    if (written instanceof Error) throw new StartupError('spool', written.message)
    this.#connectWorkers()
    this.#started = true
    this.#statsTimer = setInterval(() => this.#logStats(), this.config.statsIntervalMs)
    this.#statsTimer.unref()
  }

  /** Statistics for logs and metrics: ring counters read directly, the rest as last reported. */
  snapshot(): Snapshot {
    const write = this.#writeStats
    const cpu = process.cpuUsage()
    return {
      uptimeMs: Math.round(performance.now() - this.#startedAt),
      cpuUserMs: Math.round(cpu.user / 1000),
      cpuSystemMs: Math.round(cpu.system / 1000),
      rssBytes: process.memoryUsage.rss(),
      connected: write?.connected ?? false,
      reconnects: write?.reconnects ?? 0,
      workerRestarts: this.#workerRestarts,
      channels: this.#monitors.map((m, i) => {
        const w = write?.channels[i]
        return {
          name: this.#channels[i]?.name ?? this.config.channels[i]!,
          framesRead: m.counter(RING_COUNTER.FRAMES_READ),
          framesSent: m.counter(RING_COUNTER.FRAMES_SENT),
          framesAcked: m.counter(RING_COUNTER.FRAMES_ACKED),
          framesEchoed: m.counter(RING_COUNTER.FRAMES_ECHOED),
          dropsRingFull: m.counter(RING_COUNTER.DROPPED_RING_FULL),
          dropsSpoolFull: w?.dropsSpoolFull ?? 0,
          dropsRingOldest: w?.dropsRingOldest ?? 0,
          ringBytes: m.usedBytes(),
          ringCapacity: m.capacity,
          spoolBytes: w?.spoolBytes ?? 0,
          spoolFrames: w?.spoolFrames ?? 0,
        }
      }),
    }
  }

  /** Ends a worker the way a crash would (diagnostics, tests): it is restarted and counted. */
  terminateWorker(kind: WorkerKind): Promise<number> {
    const worker = kind === 'poll' ? this.#poll : this.#write
    if (!worker) return Promise.reject(new Error(`no ${kind} worker`))
    return worker.terminate()
  }

  /**
   * Stops reading, flushes to the server within the shutdown timeout (what is left goes
   * to the spool), then ends both workers. Idempotent.
   */
  async stop(reason: string): Promise<void> {
    if (this.#stopping) return
    this.#stopping = true
    clearInterval(this.#statsTimer)
    this.log.info({ reason, deadlineMs: this.config.shutdownTimeoutMs }, 'stopping')
    if (this.#poll && !this.#exited.has(this.#poll)) {
      const stopped = this.#expect('poll-stopped', 2000)
      this.#poll.postMessage({ type: 'stop' })
      await stopped
    }
    if (this.#write && !this.#exited.has(this.#write)) {
      const flushed = this.#expect('write-flushed', this.config.shutdownTimeoutMs + 10_000)
      this.#write.postMessage({ type: 'flush', deadlineMs: this.config.shutdownTimeoutMs })
      await flushed
    }
    this.#logStats()
    await Promise.all([this.#poll?.terminate(), this.#write?.terminate()])
  }

  #expect(key: string, timeoutMs?: number): Promise<unknown> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.#waiters.delete(key)
          this.log.warn({ waitingFor: key, timeoutMs }, 'worker did not answer in time')
          resolve(undefined)
        }, timeoutMs)
      }
      this.#waiters.set(key, (value) => {
        clearTimeout(timer)
        this.#waiters.delete(key)
        resolve(value)
      })
    })
  }

  #settle(key: string, value: unknown): void {
    this.#waiters.get(key)?.(value)
  }

  #startPoll(): Worker {
    const data: PollWorkerData = {
      channels: this.config.channels,
      rings: this.#rings,
      doorbell: this.#doorbell,
      listenOnly: this.config.listenOnly,
      txQueueLimit: this.config.txQueue,
      txTimeoutMs: this.config.txTimeoutMs,
    }
    const worker = new Worker(POLL_WORKER_URL, {
      workerData: data,
      name: 'canbridge-poll',
      resourceLimits: WORKER_LIMITS,
    })
    worker.on('message', (message: PollToSupervisor) => {
      switch (message.type) {
        case 'log':
          return this.#workerLog('poll', message)
        case 'ready':
        case 'open-failed':
          return this.#settle('poll-ready', message)
        case 'stopped':
          return this.#settle('poll-stopped', message)
        default:
          return this.#unknown('poll', worker, message)
      }
    })
    this.#watch('poll', worker)
    return worker
  }

  #startWrite(): Worker {
    const c = this.config
    const data: WriteWorkerData = {
      server: c.server,
      edgeId: c.edgeId,
      instanceId: this.instanceId,
      software: this.software,
      channels: this.#channels,
      rings: this.#rings,
      doorbell: this.#doorbell,
      spool: c.spoolDir === null ? null : { dir: c.spoolDir, maxBytes: c.spoolBytes },
      dropPolicy: c.dropPolicy,
      listenOnly: c.listenOnly,
      statsIntervalMs: c.statsIntervalMs,
      highWater: c.highWater,
      reconnectMinMs: 100,
      reconnectMaxMs: 10_000,
      handshakeTimeoutMs: 10_000,
      heartbeatMs: 5000,
    }
    const worker = new Worker(WRITE_WORKER_URL, {
      workerData: data,
      name: 'canbridge-socket-write',
      resourceLimits: WORKER_LIMITS,
    })
    worker.on('message', (message: WriteToSupervisor) => {
      switch (message.type) {
        case 'log':
          return this.#workerLog('write', message)
        case 'ready':
          return this.#settle('write-ready', message)
        case 'stats':
          this.#writeStats = message.stats
          return
        case 'flushed':
          return this.#settle('write-flushed', message)
        default:
          return this.#unknown('write', worker, message)
      }
    })
    this.#watch('write', worker)
    return worker
  }

  /** A fresh MessageChannel between the workers (again after either restarts). */
  #connectWorkers(): void {
    if (!this.#poll || !this.#write) return
    const { port1, port2 } = new MessageChannel()
    this.#poll.postMessage({ type: 'port', port: port1 }, [port1])
    this.#write.postMessage({ type: 'port', port: port2 }, [port2])
  }

  #workerLog(kind: WorkerKind, message: LogMessage): void {
    const level = message.level
    this.log[level]({ worker: kind, ...message.fields }, message.msg)
  }

  #unknown(kind: WorkerKind, worker: Worker, message: unknown): void {
    this.log.fatal({ worker: kind, message }, 'unknown message from a worker: restarting it')
    void worker.terminate()
  }

  #watch(kind: WorkerKind, worker: Worker): void {
    let failure: Error | undefined
    worker.on('error', (error) => {
      failure = error
      this.log.error({ worker: kind, err: error }, 'worker crashed')
    })
    worker.on('exit', (code) => {
      this.#exited.add(worker)
      if (this.#stopping) return
      if ((kind === 'poll' ? this.#poll : this.#write) !== worker) return
      const reason = failure ? `${failure.name}: ${failure.message}` : `exit code ${code}`
      // A worker that fails before it is ready fails the start, not a restart loop.
      if (this.#waiters.has(kind === 'poll' ? 'poll-ready' : 'write-ready')) {
        // a spool that cannot be opened is the usual cause: say which setting to fix
        const spool = failure?.name === 'SpoolIoError' || failure?.name === 'SpoolCorruptError'
        this.#settle(
          kind === 'poll' ? 'poll-ready' : 'write-ready',
          new Error(
            spool
              ? `cannot use the spool (--spool-dir ${this.config.spoolDir}): ${failure!.message}`
              : `${kind} worker failed while starting: ${reason}`,
          ),
        )
        return
      }
      if (!this.#started) return
      this.#restart(kind, reason)
    })
  }

  #restart(kind: WorkerKind, reason: string): void {
    const now = performance.now()
    this.#restarts = this.#restarts.filter((t) => now - t < RESTART_WINDOW_MS)
    this.#restarts.push(now)
    this.#workerRestarts++
    if (this.#restarts.length > MAX_RESTARTS) {
      const error = new Error(
        `${kind} worker failed ${this.#restarts.length} times within ${RESTART_WINDOW_MS / 1000} s; last: ${reason}`,
      )
      this.log.fatal({ worker: kind, reason, restarts: this.#workerRestarts }, 'giving up')
      this.onFatal(error)
      return
    }
    this.log.error({ worker: kind, reason, restarts: this.#workerRestarts }, 'restarting worker')
    if (kind === 'poll') {
      this.#poll = this.#startPoll()
      // its 'ready' arrives like at startup; an open failure now is fatal
      const ready = this.#expect('poll-ready')
      void ready.then((message) => {
        const m = message as PollToSupervisor | Error
        if (m instanceof Error || m.type !== 'ready') {
          this.onFatal(
            new Error(
              m instanceof Error ? m.message : `poll worker restart failed: ${JSON.stringify(m)}`,
            ),
          )
          return
        }
        this.#connectWorkers()
      })
    } else {
      this.#write = this.#startWrite()
      const ready = this.#expect('write-ready')
      void ready.then((message) => {
        if (message instanceof Error) {
          this.onFatal(message)
          return
        }
        this.#connectWorkers()
      })
    }
  }

  #logStats(): void {
    const s = this.snapshot()
    this.log.info(
      {
        uptimeMs: s.uptimeMs,
        cpuUserMs: s.cpuUserMs,
        cpuSystemMs: s.cpuSystemMs,
        rssBytes: s.rssBytes,
        connected: s.connected,
        reconnects: s.reconnects,
        workerRestarts: s.workerRestarts,
        channels: s.channels,
      },
      'stats',
    )
  }
}
