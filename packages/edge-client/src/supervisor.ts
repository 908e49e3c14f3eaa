// The supervisor (main thread): one ring per channel, the socket-write side (which hosts
// the CAN channels) in the main thread, or with --threads 2 in a worker, or with --threads 3
// a poll worker for the channels as well and a MessageChannel between the two, and with
// --socketcand the socketcand worker; restarts a crashed worker or side (logged, counted,
// and bounded), logs statistics, and shuts down by flushing to the server within a deadline.

import { randomUUID } from 'node:crypto'
import { MessageChannel, Worker } from 'node:worker_threads'
import { CanOpenError, type CanOpenErrorCode } from './can/can-source.ts'
import type { EdgeConfig } from './config.ts'
import { EdgeError } from './errors.ts'
import { compactHeap, enableHeapCompaction } from './heap.ts'
import { InProcessWorker } from './in-process-worker.ts'
import { type LinkSecurity, PLAIN_LINK } from './link/security/link-security.ts'
import { describeAddress } from './link/server-address.ts'
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
import type { SocketcandToSupervisor, SocketcandWorkerData } from './socketcand/worker-messages.ts'
import { SpoolIoError } from './spool/errors.ts'
import { probeSpoolDirectory, spoolDirectoryUnwritable } from './spool/probe.ts'
import {
  createRefusalCounters,
  RefusalCounters,
  type TxRefusalCounts,
} from './tx-policy/refusal-counters.ts'
import { txPolicySettings } from './tx-policy/tx-settings.ts'
import { packageVersion } from './version.ts'

/** Run from source (.ts, Node strips the types) or from dist (.js): workers follow suit. */
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
const POLL_WORKER_URL = new URL(`./poll.worker${EXT}`, import.meta.url)
const WRITE_WORKER_URL = new URL(`./socket-write.worker${EXT}`, import.meta.url)
const SOCKETCAND_WORKER_URL = new URL(`./socketcand/socketcand.worker${EXT}`, import.meta.url)

/**
 * Heap limits per worker, for memory on a Pi (README: memory):
 * - young generation 2 MB, V8's smallest (1 MB semi-spaces): the hot paths allocate next to
 *   nothing, so scavenges stay rare; 4 MB cost 2 MB more resident per worker for no gain
 *   in throughput;
 * - old generation 256 MB: far above what a worker holds (under 10 MB), so a leak ends in a
 *   worker restart rather than the Pi's OOM killer; and below 2 GB, V8 does not remap its
 *   2 MB of embedded builtins next to each isolate's code ("short builtin calls"), which
 *   are otherwise resident once more per worker.
 */
export const WORKER_LIMITS = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 256 }

/** More restarts than this within RESTART_WINDOW_MS: give up (systemd restarts the process). */
const MAX_RESTARTS = 5
/** how long stop() waits past --shutdown-timeout for the worker's flush, then for terminate() */
const SHUTDOWN_MARGIN_MS = 2000
const TERMINATE_WAIT_MS = 1000
const RESTART_WINDOW_MS = 60_000

/** What failed the start: a worker, the spool, socketcand, or a CAN interface (CanOpenError's codes). */
export const STARTUP_ERROR_CODE = {
  WORKER: 'worker',
  INTERNAL: 'internal',
  SPOOL: 'spool',
  SOCKETCAND: 'socketcand',
} as const
export type StartupErrorCode =
  | (typeof STARTUP_ERROR_CODE)[keyof typeof STARTUP_ERROR_CODE]
  | CanOpenErrorCode

export class StartupError extends EdgeError {
  override readonly name = 'StartupError'
  readonly code: StartupErrorCode

  constructor(code: StartupErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/** Per channel; the transmits the policy refused too (tx-policy/refusal-counters.ts). */
export interface ChannelSnapshot extends TxRefusalCounts {
  name: string
  framesRead: number
  /** wake-ups that read frames: framesRead / readBatches is the frames per read */
  readBatches: number
  framesSent: number
  framesAcked: number
  framesEchoed: number
  dropsRingFull: number
  dropsSpoolFull: number
  dropsRingOldest: number
  /** frames the kernel dropped from the socket queue (numbered, reported as kernel-overflow) */
  dropsKernel: number
  /** frames the interface's controller or driver lost (reported as interface-loss) */
  dropsInterface: number
  ringBytes: number
  ringCapacity: number
  spoolBytes: number
  spoolFrames: number
  /** spool operations that failed (the channel then holds frames in the ring, and retries) */
  spoolErrors: number
}

export interface Snapshot {
  uptimeMs: number
  /** CPU time of the whole process (all threads) since start, and resident memory */
  cpuUserMs: number
  cpuSystemMs: number
  rssBytes: number
  connected: boolean
  /** the server connected to, or being tried when not connected */
  server: string
  reconnects: number
  /** connections that moved on to another server of --server's list */
  failovers: number
  workerRestarts: number
  channels: ChannelSnapshot[]
}

export type WorkerKind = 'poll' | 'write' | 'socketcand'
/** a worker thread, or with --threads 1 the socket-write side in the main thread */
type Supervised = Worker | InProcessWorker

/** What each worker answers once it has started, and once it has stopped (or flushed). */
const READY: Record<WorkerKind, string> = {
  poll: 'poll-ready',
  write: 'write-ready',
  socketcand: 'socketcand-ready',
}
const DONE: Record<WorkerKind, string> = {
  poll: 'poll-stopped',
  write: 'write-flushed',
  socketcand: 'socketcand-stopped',
}

export class Supervisor {
  readonly config: EdgeConfig
  readonly log: Logger
  readonly instanceId = randomUUID()
  readonly software = `canbridge-edge/${packageVersion()}`
  readonly #rings: SharedArrayBuffer[]
  readonly #monitors: RingMonitor[]
  readonly #doorbell = createDoorbell()
  /** TLS and token of the server link (link/security/link-security.ts), checked by main */
  readonly #security: LinkSecurity
  readonly #txRefusals: RefusalCounters
  #channels: ChannelInfo[] = []
  #poll: Worker | undefined
  #write: Supervised | undefined
  #socketcand: Worker | undefined
  #writeStats: WriteStats | undefined
  #restarts: number[] = []
  #workerRestarts = 0
  #stopping = false
  #started = false
  #statsTimer: NodeJS.Timeout | undefined
  #startedAt = performance.now()
  readonly #exited = new WeakSet<Supervised>()
  /** why a worker was ended on purpose (an unknown message): its restart gives this reason */
  readonly #endedFor = new WeakMap<Supervised, string>()
  #waiters = new Map<string, (value: unknown) => void>()
  /** called once when the supervisor gives up (fatal) */
  onFatal: (error: Error) => void = () => {}
  /** a worker cannot be terminated at shutdown: end the process (tests replace it) */
  forceExit: (reason: string) => void = () => process.kill(process.pid, 'SIGKILL')

  constructor(config: EdgeConfig, log: Logger, security: LinkSecurity = PLAIN_LINK) {
    this.config = config
    this.log = log
    this.#rings = config.channels.map(() => createRing(config.ringBytes))
    this.#security = security
    this.#txRefusals = new RefusalCounters(createRefusalCounters(config.channels.length))
    this.#monitors = this.#rings.map((ring) => new RingMonitor(ring))
  }

  get channels(): readonly ChannelInfo[] {
    return this.#channels
  }

  /**
   * Opens the channels and starts both workers; throws StartupError with what to fix.
   * When stop() is called meanwhile (a signal during startup), it resolves as soon as it
   * notices, without starting anything more; stop() ends what was started.
   */
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
    enableHeapCompaction()
    if (this.config.spoolDir !== null) await this.#checkSpool(this.config.spoolDir)
    if (this.#stopping) return
    if (this.config.threads === 3) {
      const ready = this.#expect('poll-ready')
      this.#poll = this.#startPoll()
      const result = (await ready) as PollToSupervisor | Error | undefined
      // a signal while starting: stop() ends what has started; start nothing more
      if (this.#stopping) return
      if (result instanceof Error || result === undefined)
        throw new StartupError('worker', result?.message ?? 'the poll worker ended while starting')
      if (result.type === 'open-failed') throw new StartupError(result.code, result.message)
      if (result.type !== 'ready')
        throw new StartupError('internal', `poll worker said ${result.type}`)
      this.#channels = result.channels
    }
    const writeReady = this.#expect('write-ready')
    this.#write = this.#startWrite()
    const written = (await writeReady) as WriteToSupervisor | Error | undefined
    if (this.#stopping) return
    if (written instanceof StartupError) throw written
    if (written instanceof Error) throw new StartupError('worker', written.message)
    if (written === undefined)
      throw new StartupError('worker', 'the socket-write worker ended while starting')
    if (written.type === 'open-failed') throw new StartupError(written.code, written.message)
    if (written.type === 'ready' && written.channels) this.#channels = written.channels
    this.#connectWorkers()
    if (this.config.socketcand !== null) {
      const socketcandReady = this.#expect(READY.socketcand)
      this.#socketcand = this.#startSocketcand()
      const served = (await socketcandReady) as SocketcandToSupervisor | Error | undefined
      if (this.#stopping) return
      if (served instanceof Error || served === undefined)
        throw new StartupError('socketcand', served?.message ?? 'the socketcand worker ended')
      if (served.type === 'listen-failed') throw this.#socketcandListenError(served)
    }
    this.#started = true
    this.#statsTimer = setInterval(() => this.#logStats(), this.config.statsIntervalMs)
    this.#statsTimer.unref()
    // the workers compact theirs as they start (README: memory)
    compactHeap()
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
      server: write?.server ?? describeAddress(this.config.server[0]!),
      reconnects: write?.reconnects ?? 0,
      failovers: write?.failovers ?? 0,
      workerRestarts: this.#workerRestarts,
      channels: this.#monitors.map((m, i) => {
        const w = write?.channels[i]
        return {
          name: this.#channels[i]?.name ?? this.config.channels[i]!,
          framesRead: m.counter(RING_COUNTER.FRAMES_READ),
          readBatches: m.counter(RING_COUNTER.READ_BATCHES),
          framesSent: m.counter(RING_COUNTER.FRAMES_SENT),
          framesAcked: m.counter(RING_COUNTER.FRAMES_ACKED),
          framesEchoed: m.counter(RING_COUNTER.FRAMES_ECHOED),
          dropsRingFull: m.counter(RING_COUNTER.DROPPED_RING_FULL),
          dropsSpoolFull: w?.dropsSpoolFull ?? 0,
          dropsRingOldest: w?.dropsRingOldest ?? 0,
          dropsKernel: m.counter(RING_COUNTER.DROPPED_KERNEL),
          dropsInterface: m.counter(RING_COUNTER.DROPPED_INTERFACE),
          ringBytes: m.usedBytes(),
          ringCapacity: m.capacity,
          spoolBytes: w?.spoolBytes ?? 0,
          spoolFrames: w?.spoolFrames ?? 0,
          spoolErrors: w?.spoolErrors ?? 0,
          ...this.#txRefusals.read(i),
        }
      }),
    }
  }

  /** Ends a worker the way a crash would (diagnostics, tests): it is restarted and counted. */
  terminateWorker(kind: WorkerKind): Promise<number> {
    const worker = this.#worker(kind)
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
      // a poll worker still starting (a signal during startup) answers once it has started
      const starting = this.#waiters.has('poll-ready')
      const stopped = this.#expect('poll-stopped', starting ? 15_000 : 2000)
      this.#poll.postMessage({ type: 'stop' })
      await stopped
    }
    let failure: string | undefined
    if (this.#write && !this.#exited.has(this.#write)) {
      // the worker's own deadline, then a margin: a spool that hangs (a dead disk, a stuck
      // file system) must not hold the shutdown
      const waitMs = this.config.shutdownTimeoutMs + SHUTDOWN_MARGIN_MS
      const flushed = this.#expect('write-flushed', waitMs)
      this.#write.postMessage({ type: 'flush', deadlineMs: this.config.shutdownTimeoutMs })
      if ((await flushed) === undefined)
        failure = `the socket-write worker did not finish flushing within ${waitMs} ms (is the spool stuck?)`
    }
    if (this.#socketcand && !this.#exited.has(this.#socketcand)) {
      const stopped = this.#expect(DONE.socketcand, 2000)
      this.#socketcand.postMessage({ type: 'stop' })
      await stopped
    }
    this.#logStats()
    await this.#endWorkers()
    if (failure !== undefined) throw new Error(failure)
  }

  /** Terminates both workers; one stuck in a file system call ends the process instead. */
  async #endWorkers(): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const wedged = new Promise<'wedged'>((resolve) => {
      timer = setTimeout(() => resolve('wedged'), TERMINATE_WAIT_MS)
    })
    const ended = Promise.all([
      this.#poll?.terminate(),
      this.#write?.terminate(),
      this.#socketcand?.terminate(),
    ])
    const result = await Promise.race([ended, wedged])
    clearTimeout(timer)
    if (result !== 'wedged') return
    // Node cannot end a worker blocked in native code, and process.exit() then waits for
    // it forever: only a signal ends the process
    this.#wedged(`a worker did not end within ${TERMINATE_WAIT_MS} ms of terminate()`)
  }

  /** A worker or side that cannot be ended: the process ends instead. */
  #wedged(reason: string): void {
    this.log.fatal({ reason }, 'killing the process')
    this.forceExit(reason)
  }

  /**
   * The --spool-dir check before any worker starts: created if missing, and writable. A
   * wrong path stops the edge; a full or read-only disk does not (the bus must still be
   * read): the edge starts with its memory rings, says so loudly, and uses the spool once
   * it takes writes again.
   */
  async #checkSpool(dir: string): Promise<void> {
    try {
      await probeSpoolDirectory(dir)
    } catch (error) {
      if (error instanceof SpoolIoError && (await spoolDirectoryUnwritable(dir, error))) {
        this.log.error(
          { spoolDir: dir, code: error.code, error: error.message },
          'SPOOL UNUSABLE: the spool directory takes no writes (full or read-only disk); streaming with the memory ring only, frames beyond it are dropped by the drop policy and reported; the spool is used again once it takes writes (canbridge-edge doctor says why)',
        )
        return
      }
      const why = error instanceof Error ? error.message : String(error)
      throw new StartupError(
        'spool',
        `cannot use the spool (--spool-dir ${dir}): ${why}; give a directory this user can create and write, or leave out --spool-dir to run without a disk spool`,
        { cause: error },
      )
    }
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

  /** What the CAN side needs, in a poll worker or hosted by the socket-write worker. */
  #channelHostData(): PollWorkerData {
    return {
      channels: this.config.channels,
      rings: this.#rings,
      doorbell: this.#doorbell,
      txPolicy: txPolicySettings(this.config),
      txRefusals: this.#txRefusals.buffer,
      txQueueLimit: this.config.txQueue,
      txTimeoutMs: this.config.txTimeoutMs,
      receiveBuffer: this.config.receiveBuffer,
      kernelEcho: this.config.kernelEcho,
      maxReadDelayMs: this.config.maxReadDelayMs,
    }
  }

  #startPoll(): Worker {
    const worker = new Worker(POLL_WORKER_URL, {
      workerData: this.#channelHostData(),
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

  #startWrite(): Supervised {
    const c = this.config
    const data: WriteWorkerData = {
      servers: c.server,
      edgeId: c.edgeId,
      instanceId: this.instanceId,
      software: this.software,
      channels: this.#channels,
      rings: this.#rings,
      doorbell: this.#doorbell,
      spool: c.spoolDir === null ? null : { dir: c.spoolDir, maxBytes: c.spoolBytes },
      dropPolicy: c.dropPolicy,
      listenOnly: c.listenOnly,
      security: this.#security,
      txRefusals: this.#txRefusals.buffer,
      statsIntervalMs: c.statsIntervalMs,
      highWater: c.highWater,
      reconnectMinMs: 100,
      reconnectMaxMs: 10_000,
      handshakeTimeoutMs: 10_000,
      heartbeatMs: 5000,
      channelHost: c.threads === 3 ? null : this.#channelHostData(),
    }
    const worker =
      c.threads === 1
        ? new InProcessWorker(
            async (end) => new (await import('./socket-write-side.ts')).SocketWriteSide(end),
            data,
            { wedged: (reason) => this.#wedged(reason) },
          )
        : new Worker(WRITE_WORKER_URL, {
            workerData: data,
            name: 'canbridge-socket-write',
            resourceLimits: WORKER_LIMITS,
          })
    worker.on('message', (message: WriteToSupervisor) => {
      switch (message.type) {
        case 'log':
          return this.#workerLog('write', message)
        case 'ready':
        case 'open-failed':
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

  #worker(kind: WorkerKind): Supervised | undefined {
    return kind === 'poll' ? this.#poll : kind === 'write' ? this.#write : this.#socketcand
  }

  #startSocketcand(): Worker {
    const c = this.config
    const data: SocketcandWorkerData = {
      host: c.socketcand!.host,
      port: c.socketcand!.port,
      beacon: c.socketcandBeacon,
      channels: c.channels,
      txPolicy: txPolicySettings(c),
      txRefusals: this.#txRefusals.buffer,
      txQueueLimit: c.txQueue,
      txTimeoutMs: c.txTimeoutMs,
      errorMask: c.socketcandErrorMask,
      lineFeeds: c.socketcandLineFeeds,
    }
    const worker = new Worker(SOCKETCAND_WORKER_URL, {
      workerData: data,
      name: 'canbridge-socketcand',
      resourceLimits: WORKER_LIMITS,
    })
    worker.on('message', (message: SocketcandToSupervisor) => this.#fromSocketcand(worker, message))
    this.#watch('socketcand', worker)
    return worker
  }

  #fromSocketcand(worker: Worker, message: SocketcandToSupervisor): void {
    const type = message.type
    if (type === 'log') this.#workerLog('socketcand', message)
    else if (type === 'listening' || type === 'listen-failed')
      this.#settle(READY.socketcand, message)
    else if (type === 'stopped') this.#settle(DONE.socketcand, message)
    else this.#unknown('socketcand', worker, message)
  }

  /** The socketcand port cannot be had: what to change. */
  #socketcandListenError(failure: { code: string; message: string }): StartupError {
    const { host, port } = this.config.socketcand!
    const where = `${host ?? 'every address'} port ${port}`
    const fix =
      failure.code === 'EADDRINUSE'
        ? `another program (a socketcand?) listens there; choose another port with --socketcand HOST:PORT`
        : failure.code === 'EACCES'
          ? 'ports below 1024 need privileges; choose a port from 1024 up'
          : failure.code === 'EADDRNOTAVAIL' || failure.code === 'ENOTFOUND'
            ? 'that address is not one of this host; give one of its addresses, or * for every address'
            : 'check the --socketcand address'
    return new StartupError(
      'socketcand',
      `cannot serve socketcand on ${where}: ${failure.message}; ${fix}`,
    )
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

  /**
   * A message the supervisor does not know is a bug on one side or the other: never
   * ignored. Logged as fatal with the message, and the worker is ended; it is restarted
   * (counted, bounded) with this as the reason, or fails the start if it was starting.
   */
  #unknown(kind: WorkerKind, worker: Supervised, message: unknown): void {
    let text: string
    try {
      text = JSON.stringify(message) ?? String(message)
    } catch {
      text = String(message)
    }
    if (text.length > 200) text = `${text.slice(0, 200)}…`
    this.log.fatal({ worker: kind, message }, 'unknown message from a worker: restarting it')
    if (!this.#endedFor.has(worker))
      this.#endedFor.set(worker, `unknown message from the ${kind} worker: ${text}`)
    void worker.terminate()
  }

  #watch(kind: WorkerKind, worker: Supervised): void {
    let failure: Error | undefined
    worker.on('error', (error: Error) => {
      failure = error
      // an open error is said once, by the start that fails with it
      if (!(error instanceof CanOpenError))
        this.log.error({ worker: kind, err: error }, 'worker crashed')
    })
    worker.on('exit', (code) => {
      this.#exited.add(worker)
      if (this.#stopping) {
        // stop() waits for no answer from a worker that is gone (e.g. one still starting)
        if (this.#worker(kind) === worker) {
          this.#settle(DONE[kind], undefined)
          this.#settle(READY[kind], undefined)
        }
        return
      }
      if (this.#worker(kind) !== worker) return
      const reason =
        this.#endedFor.get(worker) ??
        (failure ? `${failure.name}: ${failure.message}` : `exit code ${code}`)
      // A worker that fails before it is ready fails the start, not a restart loop.
      if (this.#waiters.has(READY[kind])) {
        // --threads 1: the channels' open error itself, not a worker's copy of it
        if (failure instanceof CanOpenError) {
          const { channel, code, message } = failure
          this.#settle(READY[kind], { type: 'open-failed', channel, code, message })
          return
        }
        // a spool that cannot be opened is the usual cause: say which setting to fix
        const spool = failure?.name === 'SpoolIoError' || failure?.name === 'SpoolCorruptError'
        this.#settle(
          READY[kind],
          spool
            ? new StartupError(
                'spool',
                `cannot use the spool (--spool-dir ${this.config.spoolDir}): ${failure!.message}`,
                { cause: failure },
              )
            : new Error(`${kind} worker failed while starting: ${reason}`),
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
    } else if (kind === 'socketcand') {
      // clients reconnect to the new one; a port taken meanwhile is fatal, as at startup
      this.#socketcand = this.#startSocketcand()
      const ready = this.#expect(READY.socketcand)
      void ready.then((message) => {
        const m = message as SocketcandToSupervisor | Error
        if (m instanceof Error) this.onFatal(m)
        else if (m.type === 'listen-failed') this.onFatal(this.#socketcandListenError(m))
      })
    } else {
      this.#write = this.#startWrite()
      const ready = this.#expect('write-ready')
      void ready.then((message) => {
        const m = message as WriteToSupervisor | Error
        // hosting the channels, it reopens them: an open failure now is fatal
        if (m instanceof Error || m.type !== 'ready') {
          this.onFatal(
            m instanceof Error
              ? m
              : new Error(`socket-write worker restart failed: ${JSON.stringify(m)}`),
          )
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
        server: s.server,
        reconnects: s.reconnects,
        failovers: s.failovers,
        workerRestarts: s.workerRestarts,
        channels: s.channels,
      },
      'stats',
    )
  }
}
