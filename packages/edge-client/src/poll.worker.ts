// The poll worker: owns the CAN channels, writes received frames into the rings (one per
// channel), and runs the reverse path: transmit requests, periodic tasks, filters.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads'
import type { BusStateName, TransmitError, TxFrame } from '@canbridge/protocol'
// the frame helpers alone: this thread never encodes control messages (memory, see README)
import { FRAME_FLAG } from '@canbridge/protocol/frames'
import { busStateOfError } from './can/bus-state.ts'
import { CanOpenError, type CanSource, type LinkState } from './can/can-source.ts'
import type { FrameBatch } from './can/frame-batch.ts'
import { receiveBufferShortfall } from './can/receive-buffer.ts'
import { SocketCanSource } from './can/socketcan-source.ts'
import { VIRTUAL_PREFIX, VirtualSource } from './can/virtual-source.ts'
import { compactHeap } from './heap.ts'
import type {
  PollToSupervisor,
  PollToWrite,
  PollWorkerData,
  SupervisorToPoll,
  WriteToPoll,
} from './messages.ts'
import { PeriodicScheduler } from './periodic.ts'
import { RING_COUNTER, RingProducer } from './ring.ts'
import { RefusalLog } from './tx-policy/refusal-log.ts'
import { TxPolicy } from './tx-policy/tx-policy.ts'
import { workerLog } from './worker-log.ts'

const settings = workerData as PollWorkerData
const parent = parentPort!

function post(message: PollToSupervisor): void {
  parent.postMessage(message)
}

const producers = settings.rings.map((ring) => new RingProducer(ring, settings.doorbell))
const sources: CanSource[] = settings.channels.map((spec) =>
  spec.startsWith(VIRTUAL_PREFIX)
    ? new VirtualSource(spec)
    : new SocketCanSource(spec, {
        receiveBuffer: settings.receiveBuffer,
        kernelEcho: settings.kernelEcho,
        maxReadDelayUs: settings.maxReadDelayMs * 1000,
      }),
)
const policy = new TxPolicy(settings.txPolicy, sources.length, settings.txRefusals)
const refusalLog = new RefusalLog(({ channel, error, message, count }) =>
  workerLog('warn', 'transmit refused', { channel, error, message, count }),
)
const busStates: BusStateName[] = sources.map(() => 'active')
/** wall clock (ms) of each channel's last state change */
const busStateTimes: number[] = sources.map(() => Date.now())
let writePort: MessagePort | undefined
let ownMessages = false
let connected = false

function toWrite(message: PollToWrite): void {
  writePort?.postMessage(message)
}

function setBusState(
  channel: number,
  state: BusStateName,
  reason: string,
  timeMs = Date.now(),
): void {
  if (busStates[channel] === state) return
  busStates[channel] = state
  busStateTimes[channel] = timeMs
  workerLog(state === 'active' ? 'info' : 'warn', `bus state ${state}`, {
    channel: sources[channel]!.name,
    reason,
  })
  toWrite({ type: 'bus-state', channel, state, timeMs })
}

function onFrames(channel: number, batch: FrameBatch): void {
  const producer = producers[channel]!
  producer.counters[RING_COUNTER.READ_BATCHES]!++
  const { seconds, nanoseconds, ids, flags, lens, data, offsets, lostBefore } = batch
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
        setBusState(channel, state, `error frame class 0x${ids[i]!.toString(16)}`, timeMs)
      }
    }
  }
  producer.publish()
}

/** Drops after the last frame read: numbered now, before any later frame. */
function onKernelDrops(channel: number, count: number): void {
  const producer = producers[channel]!
  producer.dropKernel(count)
  producer.publish()
}

/** Frames the interface lost before any socket: counted, and reported without a range. */
function onInterfaceLoss(channel: number, count: number): void {
  producers[channel]!.counters[RING_COUNTER.DROPPED_INTERFACE]! += count
  workerLog('warn', 'the interface lost frames (controller or driver)', {
    channel: sources[channel]!.name,
    count,
  })
  toWrite({ type: 'interface-loss', channel, count })
}

function onLinkState(channel: number, state: LinkState, reason: string): void {
  const level = state === 'up' ? 'info' : 'warn'
  workerLog(level, `channel ${state}`, { channel: sources[channel]!.name, reason })
  setBusState(channel, state === 'up' ? 'active' : 'stopped', reason)
}

// --- transmit: non-blocking sends, retried with backoff while the TX queue is full ---

interface PendingTransmit {
  requestId: number
  channel: number
  frame: TxFrame
  /** Date.now() after which the frame must not go out */
  expiresAt: number
  /** the error to give when it expires */
  expiry: Extract<TransmitError, 'ttl-expired' | 'timeout'>
}

const queues: PendingTransmit[][] = sources.map(() => [])
let retryTimer: NodeJS.Timeout | undefined
let retryDelayMs = 1
const RETRY_MAX_MS = 50

function result(requestId: number, ok: boolean, error?: TransmitError, message?: string): void {
  toWrite({
    type: 'transmit-result',
    result: ok ? { requestId, ok } : { requestId, ok, error, message },
  })
}

/** Tries one send; true when the frame is done (sent or failed for good). */
function attempt(pending: PendingTransmit): boolean {
  if (Date.now() > pending.expiresAt) {
    result(
      pending.requestId,
      false,
      pending.expiry,
      `not on the bus within its ${pending.expiry === 'ttl-expired' ? 'ttl' : 'timeout'}`,
    )
    return true
  }
  const outcome = sources[pending.channel]!.send(pending.frame)
  if (outcome.ok) {
    echo(pending.channel, pending.frame)
    result(pending.requestId, true)
    return true
  }
  if (outcome.error === 'tx-queue-full') return false
  result(pending.requestId, false, outcome.error, outcome.message)
  return true
}

/**
 * With own-messages on, a frame this edge sent goes into the ring with the TX flag; made
 * here only where the kernel does not echo it (unpatched binding, virtual channels).
 */
function echo(channel: number, frame: TxFrame): void {
  if (!ownMessages || sources[channel]!.accounting.kernelEcho) return
  const nowMs = performance.timeOrigin + performance.now()
  const seconds = Math.floor(nowMs / 1000)
  const nanoseconds = Math.min(999_999_999, Math.round((nowMs - seconds * 1000) * 1e6))
  const producer = producers[channel]!
  if (
    producer.write(
      seconds,
      nanoseconds,
      frame.id,
      frame.flags | FRAME_FLAG.TX,
      frame.len,
      frame.data,
      0,
    )
  ) {
    producer.counters[RING_COUNTER.FRAMES_ECHOED]!++
  }
  producer.publish()
}

function transmit(message: Extract<WriteToPoll, { type: 'transmit' }>): void {
  const { requestId, channel, frame, ttlMs, receivedAt } = message
  const queue = queues[channel]
  // listen-only answers even for a channel that does not exist: nothing goes out here at all
  const refusal =
    queue !== undefined || settings.txPolicy.listenOnly
      ? policy.admitTransmit(channel, frame)
      : undefined
  if (refusal) {
    refusalLog.note(sources[channel]?.name ?? `#${channel}`, refusal.error, refusal.message)
    result(requestId, false, refusal.error, refusal.message)
  } else if (queue === undefined) {
    result(requestId, false, 'invalid-frame', `no channel ${channel}`)
  } else if (queue.length >= settings.txQueueLimit) {
    result(requestId, false, 'tx-queue-full', `${queue.length} frames already wait on this channel`)
  } else {
    enqueue(queue, { requestId, channel, frame, ttlMs, receivedAt })
  }
}

function enqueue(
  queue: PendingTransmit[],
  {
    requestId,
    channel,
    frame,
    ttlMs,
    receivedAt,
  }: Omit<Extract<WriteToPoll, { type: 'transmit' }>, 'type'>,
): void {
  const pending: PendingTransmit = {
    requestId,
    channel,
    frame,
    expiresAt: receivedAt + (ttlMs ?? settings.txTimeoutMs),
    expiry: ttlMs === undefined ? 'timeout' : 'ttl-expired',
  }
  // keep order: behind frames already waiting, never around them
  if (queue.length > 0 || !attempt(pending)) {
    queue.push(pending)
    scheduleRetry()
  }
}

function scheduleRetry(): void {
  if (retryTimer) return
  retryTimer = setTimeout(retry, retryDelayMs)
}

function retry(): void {
  retryTimer = undefined
  let waiting = false
  let progressed = false
  for (const queue of queues) {
    while (queue.length > 0) {
      if (!attempt(queue[0]!)) break
      queue.shift()
      progressed = true
    }
    if (queue.length > 0) waiting = true
  }
  retryDelayMs = progressed ? 1 : Math.min(RETRY_MAX_MS, retryDelayMs * 2)
  if (waiting) scheduleRetry()
}

function dropQueued(reason: string): void {
  let dropped = 0
  for (const queue of queues) {
    dropped += queue.length
    queue.length = 0
  }
  if (dropped > 0) workerLog('warn', 'transmit requests discarded', { count: dropped, reason })
}

// --- periodic tasks and filters ---

const periodic = new PeriodicScheduler({
  admit: (channel) => policy.admitPeriodic(channel),
  send: (channel, frame) => {
    if (settings.txPolicy.listenOnly) return false
    const source = sources[channel]
    if (!source) return false
    const outcome = source.send(frame)
    if (outcome.ok) echo(channel, frame)
    return outcome.ok
  },
  problem: (taskId, message) => {
    workerLog('warn', 'periodic task problem', { taskId, message })
    toWrite({ type: 'notice', code: 'periodic', message: `task ${taskId}: ${message}` })
  },
})

/** A periodic task the policy refuses: logged, and told to the server as a non-fatal ERROR. */
function refusePeriodic(taskId: number, channel: number, why: string, what: string): void {
  const code = settings.txPolicy.listenOnly ? 'listen-only' : 'not-allowed'
  workerLog('warn', 'periodic task refused', {
    taskId,
    channel: sources[channel]?.name ?? `#${channel}`,
    request: what,
    reason: why,
  })
  toWrite({ type: 'notice', code, message: `periodic task ${taskId} refused: ${why}` })
}

function onWriteMessage(message: WriteToPoll): void {
  switch (message.type) {
    case 'transmit':
      transmit(message)
      return
    case 'filters':
      for (let i = 0; i < sources.length; i++) {
        if (message.channel === null || message.channel === i)
          sources[i]!.setFilters(message.filters)
      }
      workerLog('info', 'filters set', { channel: message.channel, count: message.filters.length })
      return
    case 'periodic-start': {
      const { taskId, channel, frames } = message.task
      if (channel >= sources.length && !settings.txPolicy.listenOnly) {
        toWrite({
          type: 'notice',
          code: 'invalid-channel',
          message: `periodic task ${taskId}: no channel ${channel}`,
        })
        return
      }
      const refusal = policy.checkTask(channel, frames)
      if (refusal !== undefined) {
        // a task already running under this id stops: the server asked to replace it
        periodic.stop(taskId)
        refusePeriodic(taskId, channel, refusal, 'PERIODIC_START')
        return
      }
      periodic.start(message.task)
      return
    }
    case 'periodic-modify': {
      const channel = periodic.channelOf(message.task.taskId)
      const refusal =
        channel === undefined ? undefined : policy.checkTask(channel, message.task.frames)
      if (channel !== undefined && refusal !== undefined) {
        // stopped rather than left sending its old frames: the server believes they changed
        periodic.stop(message.task.taskId)
        refusePeriodic(
          message.task.taskId,
          channel,
          `${refusal}; the task is stopped`,
          'PERIODIC_MODIFY',
        )
        return
      }
      periodic.modify(message.task)
      return
    }
    case 'periodic-stop':
      periodic.stop(message.task.taskId)
      return
    case 'link':
      ownMessages = message.ownMessages
      if (connected && !message.connected) {
        // stale commands must not reach the bus after an outage
        periodic.stopAll('server link lost')
        dropQueued('server link lost')
      }
      connected = message.connected
      return
    default:
      fatal(`unknown message from the socket-write worker: ${JSON.stringify(message)}`)
  }
}

/** What the channels could not do as configured, said once at start. */
function warnAboutSetUp(): void {
  const socketcan = sources.filter((s) => s instanceof SocketCanSource)
  const unpatched = socketcan.find((s) => s.binding?.patched === false)
  if (unpatched) {
    workerLog(
      'warn',
      `${unpatched.binding!.description}; this edge does not claim drop accounting (HELLO without kernel-drops)`,
      {
        missing: unpatched.binding!.missing,
        fix: 'reinstall so that pnpm applies patches/socketcan@4.3.1.patch (pnpm install), or use the single executable, which embeds the patched addon',
      },
    )
  }
  for (const source of socketcan) {
    const buffer = source.receiveBuffer
    if (buffer !== undefined) {
      const shortfall = receiveBufferShortfall(source.name, buffer.plan, buffer.actual)
      if (shortfall !== undefined) workerLog('warn', shortfall, { channel: source.name })
      else
        workerLog('info', 'socket receive buffer set', {
          channel: source.name,
          bytes: buffer.actual,
          basis: buffer.plan.basis,
        })
    }
    for (const problem of source.problems) workerLog('warn', problem, { channel: source.name })
  }
}

function fatal(message: string): never {
  throw new Error(message)
}

parent.on('message', (message: SupervisorToPoll) => {
  switch (message.type) {
    case 'port':
      writePort?.close()
      writePort = message.port
      writePort.on('message', onWriteMessage)
      // the write worker is new (or restarted): it learns the bus states again
      for (let i = 0; i < busStates.length; i++) {
        if (busStates[i] !== 'active')
          toWrite({
            type: 'bus-state',
            channel: i,
            state: busStates[i]!,
            timeMs: busStateTimes[i]!,
          })
      }
      return
    case 'stop':
      refusalLog.close()
      periodic.stopAll('shutdown')
      dropQueued('shutdown')
      for (const source of sources) source.close()
      for (const producer of producers) producer.publish()
      writePort?.close()
      post({ type: 'stopped' })
      return
    default:
      fatal(`unknown message from the supervisor: ${JSON.stringify(message)}`)
  }
})

// startup garbage goes before the first frame arrives (README: memory)
compactHeap()
for (let i = 0; i < sources.length; i++) {
  const source = sources[i]!
  try {
    source.open({
      onFrames: (batch) => onFrames(i, batch),
      onLinkState: (state, reason) => onLinkState(i, state, reason),
      onKernelDrops: (count) => onKernelDrops(i, count),
      onInterfaceLoss: (count) => onInterfaceLoss(i, count),
    })
  } catch (error) {
    if (!(error instanceof CanOpenError)) throw error
    for (const opened of sources.slice(0, i)) opened.close()
    post({ type: 'open-failed', channel: error.channel, code: error.code, message: error.message })
    parent.close()
    process.exit(0)
  }
}
warnAboutSetUp()
post({
  type: 'ready',
  channels: sources.map((s) => ({ name: s.name, fd: s.fd, ...s.accounting })),
})
