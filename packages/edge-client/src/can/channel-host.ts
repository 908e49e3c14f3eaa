// The CAN side of the edge: owns the channels, writes received frames into the rings (one per
// channel), and runs the reverse path: transmit requests, periodic tasks, filters, bus state.
// It runs in the socket-write worker (the default: one thread fewer, no hand-off per read) or
// in a poll worker of its own (--threads 3); it talks to the sending side only through
// toWrite() and onWriteMessage(), so the two shapes run the same code.
import type { BusStateName, TransmitError, TxFrame } from '@canbridge/protocol'
// the frame helpers alone: a poll worker never encodes control messages (memory, see README)
import { FRAME_FLAG } from '@canbridge/protocol/frames'
import type {
  ChannelInfo,
  LogLevel,
  PollToWrite,
  PollWorkerData,
  WriteToPoll,
} from '../messages.ts'
import { PeriodicScheduler } from '../periodic.ts'
import { RING_COUNTER, RingProducer } from '../ring.ts'
import { RefusalLog } from '../tx-policy/refusal-log.ts'
import { TxPolicy } from '../tx-policy/tx-policy.ts'
import { busStateOfError } from './bus-state.ts'
import type { CanSource, LinkState } from './can-source.ts'
import type { FrameBatch } from './frame-batch.ts'
import { receiveBufferShortfall } from './receive-buffer.ts'
import { PATCH_FIX, pacingShortfall } from './socketcan-binding.ts'
import { SocketCanSource } from './socketcan-source.ts'
import { VIRTUAL_PREFIX, VirtualSource } from './virtual-source.ts'

export interface ChannelHostOptions {
  settings: PollWorkerData
  /** messages for the sending side (transmit results, bus states, interface loss, notices) */
  toWrite(message: PollToWrite): void
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void
  /** frames were published into a ring (the hosting socket-write worker pumps at once) */
  published?: () => void
}

interface PendingTransmit {
  requestId: number
  channel: number
  frame: TxFrame
  /** Date.now() after which the frame must not go out */
  expiresAt: number
  /** the error to give when it expires */
  expiry: Extract<TransmitError, 'ttl-expired' | 'timeout'>
}

const RETRY_MAX_MS = 50

export class ChannelHost {
  readonly #settings: PollWorkerData
  readonly #toWrite: (message: PollToWrite) => void
  readonly #log: ChannelHostOptions['log']
  readonly #published: () => void
  readonly #producers: RingProducer[]
  readonly #sources: CanSource[]
  readonly #policy: TxPolicy
  readonly #refusalLog: RefusalLog
  readonly #busStates: BusStateName[]
  /** wall clock (ms) of each channel's last state change */
  readonly #busStateTimes: number[]
  /** transmit requests waiting for room in each channel's TX queue, in order */
  readonly #queues: PendingTransmit[][]
  readonly #periodic: PeriodicScheduler
  #retryTimer: NodeJS.Timeout | undefined
  #retryDelayMs = 1
  #ownMessages = false
  #connected = false

  constructor({ settings, toWrite, log, published }: ChannelHostOptions) {
    this.#settings = settings
    this.#toWrite = toWrite
    this.#log = log
    this.#published = published ?? (() => {})
    this.#producers = settings.rings.map((ring) => new RingProducer(ring, settings.doorbell))
    this.#sources = settings.channels.map((spec) =>
      spec.startsWith(VIRTUAL_PREFIX)
        ? new VirtualSource(spec)
        : new SocketCanSource(spec, {
            receiveBuffer: settings.receiveBuffer,
            kernelEcho: settings.kernelEcho,
            maxReadDelayUs: settings.maxReadDelayMs * 1000,
          }),
    )
    this.#policy = new TxPolicy(settings.txPolicy, this.#sources.length, settings.txRefusals)
    this.#refusalLog = new RefusalLog(({ channel, error, message, count }) =>
      log('warn', 'transmit refused', { channel, error, message, count }),
    )
    this.#busStates = this.#sources.map(() => 'active')
    this.#busStateTimes = this.#sources.map(() => Date.now())
    this.#queues = this.#sources.map(() => [])
    this.#periodic = new PeriodicScheduler({
      admit: (channel) => this.#policy.admitPeriodic(channel),
      send: (channel, frame) => {
        if (this.#settings.txPolicy.listenOnly) return false
        const source = this.#sources[channel]
        if (!source) return false
        const outcome = source.send(frame)
        if (outcome.ok) this.#echo(channel, frame)
        return outcome.ok
      },
      problem: (taskId, message) => {
        this.#log('warn', 'periodic task problem', { taskId, message })
        this.#toWrite({ type: 'notice', code: 'periodic', message: `task ${taskId}: ${message}` })
      },
    })
  }

  /**
   * Opens every channel and says once what it could not do as configured; throws the
   * CanOpenError of the first channel that fails, with those before it closed again.
   */
  open(): ChannelInfo[] {
    for (let i = 0; i < this.#sources.length; i++) {
      try {
        this.#sources[i]!.open({
          onFrames: (batch) => this.#onFrames(i, batch),
          onLinkState: (state, reason) => this.#onLinkState(i, state, reason),
          onKernelDrops: (count) => this.#onKernelDrops(i, count),
          onInterfaceLoss: (count) => this.#onInterfaceLoss(i, count),
        })
      } catch (error) {
        for (const opened of this.#sources.slice(0, i)) opened.close()
        throw error
      }
    }
    this.#warnAboutSetUp()
    return this.#sources.map((s) => ({ name: s.name, fd: s.fd, ...s.accounting }))
  }

  /** A new (or restarted) sending side learns the bus states that are not 'active'. */
  replayBusStates(): void {
    for (let i = 0; i < this.#busStates.length; i++) {
      if (this.#busStates[i] !== 'active')
        this.#toWrite({
          type: 'bus-state',
          channel: i,
          state: this.#busStates[i]!,
          timeMs: this.#busStateTimes[i]!,
        })
    }
  }

  /** Stops periodic tasks and queued transmits, closes the channels; numbering ends here. */
  stop(): void {
    this.#refusalLog.close()
    this.#periodic.stopAll('shutdown')
    this.#dropQueued('shutdown')
    for (const source of this.#sources) source.close()
    for (const producer of this.#producers) producer.publish()
  }

  onWriteMessage(message: WriteToPoll): void {
    switch (message.type) {
      case 'transmit':
        this.#transmit(message)
        return
      case 'filters':
        for (let i = 0; i < this.#sources.length; i++) {
          if (message.channel === null || message.channel === i)
            this.#sources[i]!.setFilters(message.filters)
        }
        this.#log('info', 'filters set', {
          channel: message.channel,
          count: message.filters.length,
        })
        return
      case 'periodic-start':
        this.#periodicStart(message.task)
        return
      case 'periodic-modify':
        this.#periodicModify(message.task)
        return
      case 'periodic-stop':
        this.#periodic.stop(message.task.taskId)
        return
      case 'link':
        this.#ownMessages = message.ownMessages
        if (this.#connected && !message.connected) {
          // stale commands must not reach the bus after an outage
          this.#periodic.stopAll('server link lost')
          this.#dropQueued('server link lost')
        }
        this.#connected = message.connected
        return
      default:
        throw new Error(`unknown message from the socket-write side: ${JSON.stringify(message)}`)
    }
  }

  // --- receive ---

  #onFrames(channel: number, batch: FrameBatch): void {
    const producer = this.#producers[channel]!
    producer.counters[RING_COUNTER.READ_BATCHES]!++
    const { seconds, nanoseconds, ids, flags, lens, data, offsets, lostBefore } = batch
    const ownMessages = this.#ownMessages
    for (let i = 0; i < batch.count; i++) {
      const f = flags[i]!
      // the kernel's drops take their numbers where they happened: just before this frame
      if (lostBefore[i]! > 0) producer.dropKernel(lostBefore[i]!)
      if (f & FRAME_FLAG.TX) {
        // the kernel's echo of a frame this edge sent: kept only when the server asked
        if (
          ownMessages &&
          producer.write(seconds[i]!, nanoseconds[i]!, ids[i]!, f, lens[i]!, data, offsets[i]!)
        )
          producer.counters[RING_COUNTER.FRAMES_ECHOED]!++
        continue
      }
      producer.write(seconds[i]!, nanoseconds[i]!, ids[i]!, f, lens[i]!, data, offsets[i]!)
      if (f & FRAME_FLAG.ERR) {
        const state = busStateOfError(ids[i]!, lens[i]! > 1 ? data[offsets[i]! + 1]! : 0)
        if (state !== undefined) {
          // the error frame's own receive time
          const timeMs = seconds[i]! * 1000 + Math.floor(nanoseconds[i]! / 1e6)
          this.#setBusState(channel, state, `error frame class 0x${ids[i]!.toString(16)}`, timeMs)
        }
      }
    }
    producer.publish()
    this.#published()
  }

  /** Drops after the last frame read: numbered now, before any later frame. */
  #onKernelDrops(channel: number, count: number): void {
    const producer = this.#producers[channel]!
    producer.dropKernel(count)
    producer.publish()
    this.#published()
  }

  /** Frames the interface lost before any socket: counted, and reported without a range. */
  #onInterfaceLoss(channel: number, count: number): void {
    this.#producers[channel]!.counters[RING_COUNTER.DROPPED_INTERFACE]! += count
    this.#log('warn', 'the interface lost frames (controller or driver)', {
      channel: this.#sources[channel]!.name,
      count,
    })
    this.#toWrite({ type: 'interface-loss', channel, count })
  }

  #onLinkState(channel: number, state: LinkState, reason: string): void {
    const level = state === 'up' ? 'info' : 'warn'
    this.#log(level, `channel ${state}`, { channel: this.#sources[channel]!.name, reason })
    this.#setBusState(channel, state === 'up' ? 'active' : 'stopped', reason)
  }

  #setBusState(channel: number, state: BusStateName, reason: string, timeMs = Date.now()): void {
    if (this.#busStates[channel] === state) return
    this.#busStates[channel] = state
    this.#busStateTimes[channel] = timeMs
    this.#log(state === 'active' ? 'info' : 'warn', `bus state ${state}`, {
      channel: this.#sources[channel]!.name,
      reason,
    })
    this.#toWrite({ type: 'bus-state', channel, state, timeMs })
  }

  // --- transmit: non-blocking sends, retried with backoff while the TX queue is full ---

  #result(requestId: number, ok: boolean, error?: TransmitError, message?: string): void {
    this.#toWrite({
      type: 'transmit-result',
      result: ok ? { requestId, ok } : { requestId, ok, error, message },
    })
  }

  /** Tries one send; true when the frame is done (sent or failed for good). */
  #attempt(pending: PendingTransmit): boolean {
    if (Date.now() > pending.expiresAt) {
      this.#result(
        pending.requestId,
        false,
        pending.expiry,
        `not on the bus within its ${pending.expiry === 'ttl-expired' ? 'ttl' : 'timeout'}`,
      )
      return true
    }
    const outcome = this.#sources[pending.channel]!.send(pending.frame)
    if (outcome.ok) {
      this.#echo(pending.channel, pending.frame)
      this.#result(pending.requestId, true)
      return true
    }
    if (outcome.error === 'tx-queue-full') return false
    this.#result(pending.requestId, false, outcome.error, outcome.message)
    return true
  }

  /**
   * With own-messages on, a frame this edge sent goes into the ring with the TX flag; made
   * here only where the kernel does not echo it (unpatched binding, virtual channels).
   */
  #echo(channel: number, frame: TxFrame): void {
    if (!this.#ownMessages || this.#sources[channel]!.accounting.kernelEcho) return
    const nowMs = performance.timeOrigin + performance.now()
    const seconds = Math.floor(nowMs / 1000)
    const nanoseconds = Math.min(999_999_999, Math.round((nowMs - seconds * 1000) * 1e6))
    const producer = this.#producers[channel]!
    const flags = frame.flags | FRAME_FLAG.TX
    if (producer.write(seconds, nanoseconds, frame.id, flags, frame.len, frame.data, 0)) {
      producer.counters[RING_COUNTER.FRAMES_ECHOED]!++
    }
    producer.publish()
    this.#published()
  }

  #transmit(message: Extract<WriteToPoll, { type: 'transmit' }>): void {
    const { requestId, channel, frame, ttlMs, receivedAt } = message
    const queue = this.#queues[channel]
    const listenOnly = this.#settings.txPolicy.listenOnly
    // listen-only answers even for a channel that does not exist: nothing goes out here at all
    const refusal =
      queue !== undefined || listenOnly ? this.#policy.admitTransmit(channel, frame) : undefined
    if (refusal) {
      const name = this.#sources[channel]?.name ?? `#${channel}`
      this.#refusalLog.note(name, refusal.error, refusal.message)
      this.#result(requestId, false, refusal.error, refusal.message)
    } else if (queue === undefined) {
      this.#result(requestId, false, 'invalid-frame', `no channel ${channel}`)
    } else if (queue.length >= this.#settings.txQueueLimit) {
      const waiting = `${queue.length} frames already wait on this channel`
      this.#result(requestId, false, 'tx-queue-full', waiting)
    } else {
      const pending: PendingTransmit = {
        requestId,
        channel,
        frame,
        expiresAt: receivedAt + (ttlMs ?? this.#settings.txTimeoutMs),
        expiry: ttlMs === undefined ? 'timeout' : 'ttl-expired',
      }
      // keep order: behind frames already waiting, never around them
      if (queue.length > 0 || !this.#attempt(pending)) {
        queue.push(pending)
        this.#scheduleRetry()
      }
    }
  }

  #scheduleRetry(): void {
    if (this.#retryTimer) return
    this.#retryTimer = setTimeout(() => this.#retry(), this.#retryDelayMs)
  }

  #retry(): void {
    this.#retryTimer = undefined
    let waiting = false
    let progressed = false
    for (const queue of this.#queues) {
      while (queue.length > 0) {
        if (!this.#attempt(queue[0]!)) break
        queue.shift()
        progressed = true
      }
      if (queue.length > 0) waiting = true
    }
    this.#retryDelayMs = progressed ? 1 : Math.min(RETRY_MAX_MS, this.#retryDelayMs * 2)
    if (waiting) this.#scheduleRetry()
  }

  #dropQueued(reason: string): void {
    let dropped = 0
    for (const queue of this.#queues) {
      dropped += queue.length
      queue.length = 0
    }
    if (dropped > 0) this.#log('warn', 'transmit requests discarded', { count: dropped, reason })
  }

  // --- periodic tasks ---

  #periodicStart(task: Extract<WriteToPoll, { type: 'periodic-start' }>['task']): void {
    const { taskId, channel, frames } = task
    if (channel >= this.#sources.length && !this.#settings.txPolicy.listenOnly) {
      this.#toWrite({
        type: 'notice',
        code: 'invalid-channel',
        message: `periodic task ${taskId}: no channel ${channel}`,
      })
      return
    }
    const refusal = this.#policy.checkTask(channel, frames)
    if (refusal !== undefined) {
      // a task already running under this id stops: the server asked to replace it
      this.#periodic.stop(taskId)
      this.#refusePeriodic(taskId, channel, refusal, 'PERIODIC_START')
      return
    }
    this.#periodic.start(task)
  }

  #periodicModify(task: Extract<WriteToPoll, { type: 'periodic-modify' }>['task']): void {
    const channel = this.#periodic.channelOf(task.taskId)
    const refusal = channel === undefined ? undefined : this.#policy.checkTask(channel, task.frames)
    if (channel !== undefined && refusal !== undefined) {
      // stopped rather than left sending its old frames: the server believes they changed
      this.#periodic.stop(task.taskId)
      const why = `${refusal}; the task is stopped`
      this.#refusePeriodic(task.taskId, channel, why, 'PERIODIC_MODIFY')
      return
    }
    this.#periodic.modify(task)
  }

  /** A periodic task the policy refuses: logged, and told to the server as a non-fatal ERROR. */
  #refusePeriodic(taskId: number, channel: number, why: string, what: string): void {
    const code = this.#settings.txPolicy.listenOnly ? 'listen-only' : 'not-allowed'
    this.#log('warn', 'periodic task refused', {
      taskId,
      channel: this.#sources[channel]?.name ?? `#${channel}`,
      request: what,
      reason: why,
    })
    this.#toWrite({ type: 'notice', code, message: `periodic task ${taskId} refused: ${why}` })
  }

  /** What the channels could not do as configured, said once at start. */
  #warnAboutSetUp(): void {
    const socketcan = this.#sources.filter((s) => s instanceof SocketCanSource)
    const unpatched = socketcan.find((s) => s.binding?.patched === false)
    if (unpatched) {
      this.#log(
        'warn',
        `${unpatched.binding!.description}; this edge does not claim drop accounting (HELLO without kernel-drops)`,
        { missing: unpatched.binding!.missing, fix: PATCH_FIX },
      )
    }
    const shortfall = socketcan
      .map((s) => s.binding && pacingShortfall(s.binding))
      .find((line) => line !== undefined)
    if (shortfall) this.#log('warn', shortfall, { fix: PATCH_FIX })
    for (const source of socketcan) {
      const buffer = source.receiveBuffer
      if (buffer !== undefined) {
        const shortfall = receiveBufferShortfall(source.name, buffer.plan, buffer.actual)
        if (shortfall !== undefined) this.#log('warn', shortfall, { channel: source.name })
        else
          this.#log('info', 'socket receive buffer set', {
            channel: source.name,
            bytes: buffer.actual,
            basis: buffer.plan.basis,
          })
      }
      for (const problem of source.problems) this.#log('warn', problem, { channel: source.name })
    }
  }
}
