// The socket-write worker: wiring. It owns the server connection and opens the spools; each
// channel's sending (batches, resume, ACKs, spool moves, drops) is a ChannelSender
// (write/channel-sender.ts), DROPS reports a DropReporter, the server list and backoff a
// Reconnector, the shutdown a ShutdownFlush. Here: settings, ports, message dispatch, the
// pump over the channels, statistics.
import { join } from 'node:path'
import { type MessagePort, parentPort, workerData } from 'node:worker_threads'
import {
  type BusStateName,
  type ControlMessage,
  DROP_REASON,
  EDGE_CAPABILITY,
  PROTOCOL_VERSION,
  type Welcome,
} from '@canbridge/protocol'
import { compactHeap } from './heap.ts'
import {
  describeAddress,
  type Link,
  type LinkProblemKind,
  type OpenLink,
  openServerLink,
} from './link/connection.ts'
import { Reconnector } from './link/reconnector.ts'
import type {
  PollToWrite,
  SupervisorToWrite,
  WriteToPoll,
  WriteToSupervisor,
  WriteWorkerData,
} from './messages.ts'
import { DOORBELL, RING_COUNTER, RingConsumer } from './ring.ts'
import { Spool, SpoolIoError } from './spool/index.ts'
import { RefusalCounters } from './tx-policy/refusal-counters.ts'
import { workerLog } from './worker-log.ts'
import { ChannelSender, logSpoolOpened, type SpoolToOpen } from './write/channel-sender.ts'
import { DropReporter } from './write/drop-reporter.ts'
import { EncoderPool } from './write/encoder-pool.ts'
import { ShutdownFlush } from './write/shutdown-flush.ts'

const settings = workerData as WriteWorkerData
const parent = parentPort!
function post(message: WriteToSupervisor): void {
  parent.postMessage(message)
}

const doorbell = new Int32Array(settings.doorbell)
const txRefusals = new RefusalCounters(settings.txRefusals)
/** DATA batch encoders, shared by the channels: handed to the link without a copy */
const encoders = new EncoderPool(() => schedulePump())
const channels: ChannelSender[] = []
/** each channel's last bus state, sent again after a reconnect */
const busStates: { state: BusStateName; timeMs: number }[] = settings.channels.map(() => ({
  state: 'active',
  timeMs: 0,
}))
/** DROPS reports: once per range, queued while disconnected, resent until confirmed */
const drops = new DropReporter({
  channels: settings.channels,
  log: (fields) => workerLog('warn', 'frames dropped', fields),
})
/** how connections are opened: the real ServerLink here (the seam tests replace) */
const openLink: OpenLink = openServerLink
let link: Link | null = null
/** increases with every connection, so that late async results of an old one are ignored */
let generation = 0
/** which server next, and when: the list, the current one, the backoff */
const reconnector = new Reconnector({
  servers: settings.servers,
  minMs: settings.reconnectMinMs,
  maxMs: settings.reconnectMaxMs,
})
let ownMessages = false
let pollPort: MessagePort | undefined
let stopping = false
let pumpScheduled = false
/** settles once every channel and its spool is open */
let channelsOpen: Promise<void> = Promise.resolve()

function toPoll(message: WriteToPoll): void {
  pollPort?.postMessage(message)
}

// --- startup ---

async function openChannels(): Promise<void> {
  for (let i = 0; i < settings.channels.length; i++) {
    const info = settings.channels[i]!
    let spool: Spool | null = null
    let spoolToOpen: SpoolToOpen | null = null
    if (settings.spool) {
      const dir = join(settings.spool.dir, encodeURIComponent(info.name))
      // segments small enough that drop-oldest frees a fraction, not the whole spool
      const segmentBytes = Math.max(
        64 * 1024,
        Math.min(4 * 1024 * 1024, Math.floor(settings.spool.maxBytes / 8)),
      )
      const opened = await tryOpenSpool(dir, segmentBytes)
      if (opened instanceof Spool) {
        spool = opened
        logSpoolOpened(spool, info.name)
      } else {
        spoolToOpen = { dir, open: () => tryOpenSpool(dir, segmentBytes) }
        workerLog(
          'error',
          'SPOOL UNUSABLE: this channel runs with its memory ring only and tries the spool again with backoff',
          { channel: info.name, dir, error: opened.message },
        )
      }
    }
    const consumer = new RingConsumer(settings.rings[i]!, spool?.nextSeq ?? 0)
    channels.push(
      new ChannelSender({
        index: i,
        name: info.name,
        fd: info.fd,
        consumer,
        spool,
        spoolToOpen,
        highWater: settings.highWater,
        dropPolicy: settings.dropPolicy,
        drops,
        encoders,
        wake: schedulePump,
      }),
    )
  }
}

/**
 * Opens a channel's spool, or returns why not when the disk takes no writes and its
 * directory is still to be made. A full or read-only disk with the directory there opens:
 * the spool replays what it holds.
 */
async function tryOpenSpool(dir: string, segmentBytes: number): Promise<Spool | SpoolIoError> {
  try {
    return await Spool.open(dir, { maxBytes: settings.spool!.maxBytes, segmentBytes })
  } catch (error) {
    if (error instanceof SpoolIoError && error.unwritable) return error
    throw error
  }
}

// --- connection ---

function connect(): void {
  if (stopping && !flush) return
  generation++
  const capabilities: string[] = ['transmit', 'periodic', 'filters', 'own-messages']
  if (channels.some((c) => c.fd)) capabilities.unshift('fd')
  if (settings.listenOnly) capabilities.push('listen-only')
  capabilities.push(...accountingCapabilities())
  const hello = {
    edgeId: settings.edgeId,
    instanceId: settings.instanceId,
    software: settings.software,
    channels: channels.map((c) => ({ name: c.name, fd: c.fd, nextSeq: c.oldestHeld() })),
    capabilities,
  }
  const mine = generation
  // with one server the failure line already named it
  if (settings.servers.length > 1) {
    workerLog(reconnector.failures <= 3 ? 'info' : 'debug', 'connecting to the server', {
      server: reconnector.describe(),
      of: `${reconnector.index + 1}/${settings.servers.length}`,
      attempt: reconnector.failures + 1,
    })
  }
  link = openLink(
    reconnector.current,
    hello,
    {
      onWelcome: (welcome) => onWelcome(welcome),
      onMessage: (message) => onServerMessage(message),
      onDrain: () => schedulePump(),
      onClose: (reason, welcomed, kind) => onClose(mine, reason, welcomed, kind),
    },
    {
      handshakeTimeoutMs: settings.handshakeTimeoutMs,
      keepAliveMs: 10_000,
      security: settings.security,
    },
  )
}

/** What every channel can account for (an unpatched binding claims none of it). */
function accountingCapabilities(): string[] {
  const all = (key: 'kernelDrops' | 'interfaceDrops' | 'fdFlags' | 'kernelEcho') =>
    settings.channels.every((c) => c[key])
  const claimed: string[] = []
  if (all('kernelDrops')) claimed.push(EDGE_CAPABILITY.KERNEL_DROPS)
  if (all('interfaceDrops')) claimed.push(EDGE_CAPABILITY.INTERFACE_DROPS)
  if (all('fdFlags')) claimed.push(EDGE_CAPABILITY.FD_FLAGS)
  if (all('kernelEcho')) claimed.push(EDGE_CAPABILITY.KERNEL_ECHO)
  return claimed
}

/** Log lines for a connection that failed before WELCOME, by what failed. */
const FAILED_BEFORE_WELCOME: Partial<Record<LinkProblemKind, string>> = {
  tls: 'TLS with the server failed',
  auth: 'authentication with the server failed',
  refused: 'the server refused the connection',
  silent: 'the server did not answer',
  foreign: 'not a canbridge server',
  protocol: 'the server broke the protocol',
  closed: 'the server closed the connection before WELCOME',
  timeout: 'the server did not complete the handshake',
}

function onClose(which: number, reason: string, welcomed: boolean, kind: LinkProblemKind): void {
  if (which !== generation) return
  link = null
  drops.disconnected()
  for (const c of channels) c.disconnected()
  encoders.reclaimAll()
  generation++
  toPoll({ type: 'link', connected: false, ownMessages: false })
  if (flush) {
    void flush.finish(`connection lost: ${reason}`)
    return
  }
  if (stopping) return
  const next = reconnector.failed()
  const moving = next.to !== next.from
  const fields = {
    server: describeAddress(next.from),
    reason,
    ...(moving ? { next: describeAddress(next.to) } : {}),
    retryInMs: next.delayMs,
    attempt: next.failures,
    ...(moving ? { roundsFailed: next.rounds } : {}),
  }
  const then = moving
    ? next.roundFailed
      ? '; every server failed: backing off, then the next server'
      : '; moving to the next server'
    : '; retrying with backoff'
  const failed = FAILED_BEFORE_WELCOME[kind]
  const loud = next.failures <= 3 || next.failures % 20 === 0
  if (welcomed)
    workerLog(
      'warn',
      `server connection lost${moving ? '; moving to the next server' : '; reconnecting'}`,
      fields,
    )
  else if (failed !== undefined) workerLog(loud ? 'error' : 'debug', `${failed}${then}`, fields)
  else workerLog(loud ? 'warn' : 'debug', `server unreachable${then}`, fields)
  reconnector.schedule(connect, next.delayMs)
}

function onWelcome(welcome: Welcome): void {
  if (welcome.channels.length !== channels.length) {
    workerLog('warn', 'WELCOME lists a different number of channels than HELLO', {
      offered: channels.length,
      welcomed: welcome.channels.length,
    })
  }
  reconnector.connected()
  ownMessages = welcome.capabilities.includes('own-messages')
  workerLog('info', 'connected to the server', {
    server: reconnector.describe(),
    ...(settings.servers.length > 1
      ? { of: `${reconnector.index + 1}/${settings.servers.length}` }
      : {}),
    serverId: welcome.serverId,
    heartbeatMs: welcome.heartbeatMs,
    capabilities: welcome.capabilities,
    resume: welcome.channels.map((c) => c.nextSeq),
  })
  const welcomed = link
  // a report handed to a link that closes meanwhile stays unconfirmed: sent again next time
  if (welcomed) drops.connected({ send: (report) => welcomed.send('DROPS', report) })
  if (welcomed)
    for (const c of channels) c.resume(welcomed, welcome.channels[c.index]?.nextSeq ?? null)
  toPoll({ type: 'link', connected: true, ownMessages })
  for (const [channel, { state, timeMs }] of busStates.entries()) {
    if (state !== 'active') link?.send('BUS_STATE', { channel, state, timeMs })
  }
  schedulePump()
}

function onServerMessage(message: Exclude<ControlMessage, { type: 'WELCOME' }>): void {
  switch (message.type) {
    case 'ACK': {
      const c = channels[message.body.channel]
      if (!c) {
        protocolProblem(`ACK for unknown channel ${message.body.channel}`)
        return
      }
      c.release(message.body.nextSeq)
      drops.acknowledged(c.index, message.body.nextSeq)
      if (stopping) flush?.check()
      schedulePump()
      return
    }
    case 'TRANSMIT': {
      const { requestId, channel, frame, ttlMs } = message.body
      toPoll({ type: 'transmit', requestId, channel, frame, ttlMs, receivedAt: Date.now() })
      return
    }
    case 'SET_FILTERS':
      toPoll({ type: 'filters', channel: message.body.channel, filters: message.body.filters })
      return
    case 'PERIODIC_START':
      toPoll({ type: 'periodic-start', task: message.body })
      return
    case 'PERIODIC_MODIFY':
      toPoll({ type: 'periodic-modify', task: message.body })
      return
    case 'PERIODIC_STOP':
      toPoll({ type: 'periodic-stop', task: message.body })
      return
    case 'HEARTBEAT':
      return // its arrival already counts as a sign of life
    case 'ERROR':
      workerLog(message.body.fatal ? 'error' : 'warn', 'ERROR from the server', { ...message.body })
      if (message.body.fatal)
        link?.destroy(`server error ${message.body.code}: ${message.body.message}`)
      return
    default:
      protocolProblem(`unexpected ${message.type} from the server`)
  }
}

function protocolProblem(reason: string): void {
  link?.send('ERROR', { code: 'protocol', message: reason, fatal: true })
  link?.destroy(reason)
}

// --- sending ---

function schedulePump(): void {
  if (pumpScheduled) return
  pumpScheduled = true
  setImmediate(pump)
}

function pump(): void {
  pumpScheduled = false
  const l = link
  if (l?.welcomed && !l.closed && !l.needDrain) {
    l.cork()
    try {
      let progress = true
      while (progress && !l.needDrain && !l.closed) {
        progress = false
        for (const c of channels) {
          if (l.needDrain) break
          if (c.sendOne()) progress = true
        }
      }
    } finally {
      l.uncork()
    }
  }
  for (const c of channels) c.maintain()
}

// --- doorbell: wake when the poll worker publishes ---

async function watchDoorbell(): Promise<void> {
  while (!stopped) {
    const seen = Atomics.load(doorbell, DOORBELL.COUNT)
    pump()
    Atomics.store(doorbell, DOORBELL.WAITING, 1)
    const wait = Atomics.waitAsync(doorbell, DOORBELL.COUNT, seen, 500)
    if (wait.async) await wait.value
    Atomics.store(doorbell, DOORBELL.WAITING, 0)
    // while the socket is backed up, let frames gather into bigger batches
    if (link?.needDrain) await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

const startedAt = performance.now()

function reportStats(): void {
  const stats = {
    connected: link?.welcomed === true,
    server: reconnector.describe(),
    reconnects: reconnector.reconnects,
    failovers: reconnector.failovers,
    channels: channels.map((c) => c.counters()),
  }
  post({ type: 'stats', stats })
  const l = link
  if (l?.welcomed && !l.closed) {
    l.send('STATS', {
      uptimeMs: Math.round(performance.now() - startedAt),
      reconnects: reconnector.reconnects,
      channels: channels.map((c, i) => {
        const r = c.consumer.counters
        const own = stats.channels[i]!
        return {
          channel: c.index,
          counters: {
            framesRead: r[RING_COUNTER.FRAMES_READ]!,
            framesSent: own.framesSent,
            framesAcked: own.framesAcked,
            framesEchoed: r[RING_COUNTER.FRAMES_ECHOED]!,
            ringBytes: own.ringBytes,
            spoolBytes: own.spoolBytes,
            spoolFrames: own.spoolFrames,
            'drops.ring-full': r[RING_COUNTER.DROPPED_RING_FULL]!,
            'drops.spool-full': own.dropsSpoolFull,
            'drops.ring-oldest': own.dropsRingOldest,
            'drops.kernel-overflow': r[RING_COUNTER.DROPPED_KERNEL]!,
            'drops.interface-loss': r[RING_COUNTER.DROPPED_INTERFACE]!,
            ...txRefusals.statsCounters(c.index),
          },
        }
      }),
    })
  }
}

// --- shutdown: flush to the server within a deadline, else to the spool ---

let flush: ShutdownFlush | null = null
let stopped = false

function startFlush(deadlineMs: number): void {
  stopping = true
  reconnector.cancel()
  flush = new ShutdownFlush({
    senders: channels,
    stop: () => {
      stopped = true
    },
    finished: ({ unacked, spooled, lost }) => {
      link?.destroy('shutdown')
      post({ type: 'flushed', unacked, spooled, lost })
    },
    log: workerLog,
  })
  const connected = link?.welcomed === true
  flush.start(deadlineMs, connected)
  if (connected) schedulePump()
}

// --- wiring ---

function onPollMessage(message: PollToWrite): void {
  switch (message.type) {
    case 'transmit-result':
      if (link?.welcomed) link.send('TRANSMIT_RESULT', message.result)
      return
    case 'bus-state': {
      const state = busStates[message.channel]
      if (!state) return
      state.state = message.state
      state.timeMs = message.timeMs
      if (link?.welcomed) {
        link.send('BUS_STATE', {
          channel: message.channel,
          state: message.state,
          timeMs: message.timeMs,
        })
      }
      return
    }
    case 'interface-loss': {
      const c = channels[message.channel]
      if (c) drops.reportUnranged(c.index, message.count, DROP_REASON.INTERFACE_LOSS)
      return
    }
    case 'notice':
      if (link?.welcomed)
        link.send('ERROR', { code: message.code, message: message.message, fatal: false })
      return
    default:
      throw new Error(`unknown message from the poll worker: ${JSON.stringify(message)}`)
  }
}

parent.on('message', (message: SupervisorToWrite) => {
  switch (message.type) {
    case 'port':
      pollPort?.close()
      pollPort = message.port
      pollPort.on('message', onPollMessage)
      toPoll({ type: 'link', connected: link?.welcomed === true, ownMessages })
      return
    case 'flush':
      // a stop while the spools are still opening (a signal during startup) flushes once
      // they are open: the ring's frames go to the spool, or are counted as lost
      void channelsOpen.then(
        () => startFlush(message.deadlineMs),
        () => {}, // the failure ends this worker (below)
      )
      return
    default:
      throw new Error(`unknown message from the supervisor: ${JSON.stringify(message)}`)
  }
})

channelsOpen = openChannels()
await channelsOpen
// startup garbage goes before the first connection (README: memory)
compactHeap()
post({ type: 'ready' })
workerLog('info', 'connecting', {
  server: reconnector.describe(),
  ...(settings.servers.length > 1
    ? { servers: settings.servers.map(describeAddress), failover: 'in this order' }
    : {}),
  protocol: PROTOCOL_VERSION,
})
setInterval(reportStats, settings.statsIntervalMs).unref()
connect()
void watchDoorbell()
