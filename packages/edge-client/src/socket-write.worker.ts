// The socket-write worker: wiring. It opens the spools and makes the objects that do the
// work (src/write/): a ChannelSender per channel (batches, resume, ACKs, spool moves, drops),
// the Uplink (connections through openServerLink, reconnects, server messages, the pump,
// the shutdown flush), the DropReporter (DROPS). Here: settings, ports, message dispatch,
// the doorbell, statistics. By default it also hosts the CAN side (can/channel-host.ts):
// frames read here are sent from here, with no thread hand-off per read.
import { join } from 'node:path'
import type { MessagePort } from 'node:worker_threads'
import { DROP_REASON, PROTOCOL_VERSION } from '@canbridge/protocol'
import { CanOpenError } from './can/can-source.ts'
import { ChannelHost } from './can/channel-host.ts'
import { compactHeap } from './heap.ts'
import { openServerLink } from './link/connection.ts'
import { describeAddress } from './link/server-address.ts'
import type {
  PollToWrite,
  SupervisorToWrite,
  WriteToPoll,
  WriteToSupervisor,
  WriteWorkerData,
} from './messages.ts'
import { DOORBELL, RING_COUNTER, RingConsumer } from './ring.ts'
import { Spool, SpoolIoError } from './spool/index.ts'
import { threadEnd } from './thread-end.ts'
import { RefusalCounters } from './tx-policy/refusal-counters.ts'
import { workerLog } from './worker-log.ts'
import { ChannelSender, logSpoolOpened, type SpoolToOpen } from './write/channel-sender.ts'
import { DropReporter } from './write/drop-reporter.ts'
import { EncoderPool } from './write/encoder-pool.ts'
import { Uplink } from './write/uplink.ts'

// a worker's parentPort, or with --threads 1 the supervisor's channel in the main thread
const end = threadEnd()!
const parent = end.port
const workerData = end.data as WriteWorkerData
function post(message: WriteToSupervisor): void {
  parent.postMessage(message)
}

/** runs a pump now: set once the uplink exists (a hosted channel publishes before that) */
let pumpNow = (): void => {}
/** the CAN side, when this worker hosts it: its messages arrive as deferred calls */
const host =
  workerData.channelHost === null
    ? undefined
    : new ChannelHost({
        settings: workerData.channelHost!,
        toWrite: (message) => queueMicrotask(() => onPollMessage(message)),
        log: workerLog,
        // no doorbell between two ends in one thread: what was read is sent at once
        published: () => pumpNow(),
      })
const settings = hostChannels(workerData)

/** The settings with the channels this worker opened, when it hosts them. */
function hostChannels(data: WriteWorkerData): WriteWorkerData {
  if (!host) return data
  try {
    return { ...data, channels: host.open() }
  } catch (error) {
    // in the main thread the supervisor gets the error itself: the process must not end here
    if (!(error instanceof CanOpenError) || end.inProcess) throw error
    post({ type: 'open-failed', channel: error.channel, code: error.code, message: error.message })
    parent.close()
    process.exit(0)
  }
}

/** how often the link is pumped while the doorbell stays quiet (spool retries, drop-oldest, resends) */
const IDLE_PUMP_MS = 500
const doorbell = new Int32Array(settings.doorbell)
const txRefusals = new RefusalCounters(settings.txRefusals)
/** DATA batch encoders, shared by the channels: handed to the link without a copy */
const encoders = new EncoderPool(() => uplink.schedulePump())
/** one per channel, filled once the spools are open */
const channels: ChannelSender[] = []
/** DROPS reports: once per range, queued while disconnected, resent until confirmed */
const drops = new DropReporter({
  channels: settings.channels,
  log: (fields) => workerLog('warn', 'frames dropped', fields),
})
/** the server connection: links opened by openServerLink, reconnects, the pump, the flush */
const uplink = new Uplink({
  settings,
  senders: channels,
  drops,
  encoders,
  toPoll,
  flushed: ({ unacked, spooled, lost }) => post({ type: 'flushed', unacked, spooled, lost }),
  openLink: openServerLink,
})
let pollPort: MessagePort | undefined
/** settles once every channel and its spool is open */
let channelsOpen: Promise<void> = Promise.resolve()

function toPoll(message: WriteToPoll): void {
  if (host) queueMicrotask(() => host.onWriteMessage(message))
  else pollPort?.postMessage(message)
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
        wake: () => uplink.schedulePump(),
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

// --- doorbell: wake when the poll worker publishes ---

async function watchDoorbell(): Promise<void> {
  while (!uplink.stopped) {
    const seen = Atomics.load(doorbell, DOORBELL.COUNT)
    uplink.pump()
    Atomics.store(doorbell, DOORBELL.WAITING, 1)
    // no timeout: a timed wait costs V8 a delayed task and a clock read each time (the
    // producer bumps COUNT before it looks at WAITING, so no wake-up is lost without one)
    const wait = Atomics.waitAsync(doorbell, DOORBELL.COUNT, seen)
    if (wait.async) await wait.value
    Atomics.store(doorbell, DOORBELL.WAITING, 0)
    // while the socket is backed up, let frames gather into bigger batches
    if (uplink.link?.needDrain) await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

// what the doorbell's 500 ms timeout did: pump now and then while nothing is published
setInterval(() => uplink.pump(), IDLE_PUMP_MS).unref()

const startedAt = performance.now()

function reportStats(): void {
  const reconnector = uplink.reconnector
  const stats = {
    connected: uplink.connected,
    server: reconnector.describe(),
    reconnects: reconnector.reconnects,
    failovers: reconnector.failovers,
    channels: channels.map((c) => c.counters()),
  }
  post({ type: 'stats', stats })
  const l = uplink.link
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
            readBatches: r[RING_COUNTER.READ_BATCHES]!,
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

// --- wiring ---

function onPollMessage(message: PollToWrite): void {
  switch (message.type) {
    case 'transmit-result':
      uplink.sendWelcomed('TRANSMIT_RESULT', message.result)
      return
    case 'bus-state':
      uplink.busState(message.channel, message.state, message.timeMs)
      return
    case 'interface-loss': {
      const c = channels[message.channel]
      if (c) drops.reportUnranged(c.index, message.count, DROP_REASON.INTERFACE_LOSS)
      return
    }
    case 'notice':
      uplink.sendWelcomed('ERROR', { code: message.code, message: message.message, fatal: false })
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
      toPoll({ type: 'link', connected: uplink.connected, ownMessages: uplink.ownMessages })
      return
    case 'flush':
      // reading stops first: the numbering ends with the last frame in the ring
      host?.stop()
      // a stop while the spools are still opening (a signal during startup) flushes once
      // they are open: the ring's frames go to the spool, or are counted as lost
      void channelsOpen.then(
        () => uplink.startFlush(message.deadlineMs),
        () => {}, // the failure ends this worker (below)
      )
      return
    default:
      throw new Error(`unknown message from the supervisor: ${JSON.stringify(message)}`)
  }
})

channelsOpen = openChannels()
// not a top-level await: with --threads 1 the single executable's CommonJS main script holds
// this module, and CommonJS has none
channelsOpen.then(connect).catch(end.fail)

function connect(): void {
  // startup garbage goes before the first connection (README: memory)
  compactHeap()
  post(host ? { type: 'ready', channels: settings.channels } : { type: 'ready' })
  workerLog('info', 'connecting', {
    server: uplink.reconnector.describe(),
    ...(settings.servers.length > 1
      ? { servers: settings.servers.map(describeAddress), failover: 'in this order' }
      : {}),
    protocol: PROTOCOL_VERSION,
  })
  setInterval(reportStats, settings.statsIntervalMs).unref()
  uplink.connect()
  if (host) {
    pumpNow = () => uplink.pump()
    toPoll({ type: 'link', connected: uplink.connected, ownMessages: uplink.ownMessages })
  } else {
    void watchDoorbell()
  }
}
