// The socket-write side: wiring. It opens the spools and makes the objects that do the
// work (src/write/): a ChannelSender per channel (batches, resume, ACKs, spool moves, drops),
// the Uplink (connections through openServerLink, reconnects, server messages, the pump,
// the shutdown flush), the DropReporter (DROPS). Here: settings, ports, message dispatch,
// the doorbell, statistics. By default it also hosts the CAN side (can/channel-host.ts):
// frames read here are sent from here, with no thread hand-off per read.
// It runs in the socket-write worker (socket-write.worker.ts), or with --threads 1 in the main
// thread (in-process-worker.ts), where a failed one is disposed of and a new one takes over the
// same rings.
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
import type { ThreadEnd } from './thread-end.ts'
import { RefusalCounters } from './tx-policy/refusal-counters.ts'
import { workerLog } from './worker-log.ts'
import { ChannelSender, logSpoolOpened, type SpoolToOpen } from './write/channel-sender.ts'
import { DropReporter } from './write/drop-reporter.ts'
import { EncoderPool } from './write/encoder-pool.ts'
import { Uplink } from './write/uplink.ts'

/** how often the link is pumped while the doorbell stays quiet (spool retries, drop-oldest, resends) */
const IDLE_PUMP_MS = 500

export class SocketWriteSide {
  readonly #end: ThreadEnd
  readonly #settings: WriteWorkerData
  /** the CAN side, when this side hosts it: its messages arrive as deferred calls */
  readonly #host: ChannelHost | undefined
  #hostStopped = false
  readonly #doorbell: Int32Array
  readonly #txRefusals: RefusalCounters
  /** DATA batch encoders, shared by the channels: handed to the link without a copy */
  readonly #encoders: EncoderPool
  /** one per channel, filled once the spools are open */
  readonly #channels: ChannelSender[] = []
  /** DROPS reports: once per range, queued while disconnected, resent until confirmed */
  readonly #drops: DropReporter
  /** the server connection: links opened by openServerLink, reconnects, the pump, the flush */
  readonly #uplink: Uplink
  #pollPort: MessagePort | undefined
  /** settles once every channel and its spool is open */
  readonly #channelsOpen: Promise<void>
  readonly #timers: NodeJS.Timeout[] = []
  /** disposed of: a start still under way (spools opening) connects nothing */
  #disposed = false
  readonly #startedAt = performance.now()
  /** runs a pump now: set once the uplink exists (a hosted channel publishes before that) */
  #pumpNow = (): void => {}
  readonly #onSupervisor = (message: SupervisorToWrite): void => this.#fromSupervisor(message)
  readonly #onPoll = (message: PollToWrite): void => this.#fromPoll(message)

  /** Opens the hosted channels (throws CanOpenError in the main thread), then the spools. */
  constructor(end: ThreadEnd) {
    this.#end = end
    const data = end.data as WriteWorkerData
    this.#host =
      data.channelHost === null
        ? undefined
        : new ChannelHost({
            settings: data.channelHost!,
            toWrite: (message) => queueMicrotask(() => this.#fromPoll(message)),
            log: workerLog,
            // no doorbell between two ends in one thread: what was read is sent at once
            published: () => this.#pumpNow(),
          })
    const settings = this.#hostChannels(data)
    this.#settings = settings
    this.#doorbell = new Int32Array(settings.doorbell)
    this.#txRefusals = new RefusalCounters(settings.txRefusals)
    this.#encoders = new EncoderPool(() => this.#uplink.schedulePump())
    this.#drops = new DropReporter({
      channels: settings.channels,
      log: (fields) => workerLog('warn', 'frames dropped', fields),
    })
    this.#uplink = new Uplink({
      settings,
      senders: this.#channels,
      drops: this.#drops,
      encoders: this.#encoders,
      toPoll: (message) => this.#toPoll(message),
      flushed: ({ unacked, spooled, lost }) =>
        this.#post({ type: 'flushed', unacked, spooled, lost }),
      openLink: openServerLink,
    })
    end.port.on('message', this.#onSupervisor)
    // what the doorbell's 500 ms timeout did: pump now and then while nothing is published
    this.#every(IDLE_PUMP_MS, () => this.#uplink.pump())
    this.#channelsOpen = this.#openChannels()
    this.#channelsOpen.then(() => this.#connect()).catch(end.fail)
  }

  /**
   * The end of a failed side whose successor takes over its rings (--threads 1): reading,
   * timers and the link stop, the spools close once their work in flight is done. Nothing
   * is flushed: what the server has not acknowledged stays in the rings.
   */
  async dispose(): Promise<void> {
    this.#disposed = true
    for (const timer of this.#timers) clearInterval(timer)
    this.#end.port.off('message', this.#onSupervisor)
    this.#pollPort?.close()
    this.#stopHost()
    this.#uplink.abandon('the sending side is restarting')
    await this.#channelsOpen.catch(() => {})
    for (const channel of this.#channels) {
      channel.stop()
      await channel.idle()
      await channel.spool?.close().catch((error: unknown) =>
        workerLog('warn', 'spool close failed while restarting the sending side', {
          channel: channel.name,
          error: error instanceof Error ? error.message : String(error),
        }),
      )
    }
  }

  #post(message: WriteToSupervisor): void {
    this.#end.port.postMessage(message)
  }

  #every(ms: number, run: () => void): void {
    const timer = setInterval(run, ms)
    timer.unref()
    this.#timers.push(timer)
  }

  /** The settings with the channels this side opened, when it hosts them. */
  #hostChannels(data: WriteWorkerData): WriteWorkerData {
    if (!this.#host) return data
    try {
      return { ...data, channels: this.#host.open() }
    } catch (error) {
      // in the main thread the supervisor gets the error itself: the process must not end here
      if (!(error instanceof CanOpenError) || this.#end.inProcess) throw error
      this.#post({
        type: 'open-failed',
        channel: error.channel,
        code: error.code,
        message: error.message,
      })
      this.#end.port.close()
      process.exit(0)
    }
  }

  #stopHost(): void {
    if (this.#hostStopped) return
    this.#hostStopped = true
    this.#host?.stop()
  }

  #toPoll(message: WriteToPoll): void {
    const host = this.#host
    if (host) queueMicrotask(() => host.onWriteMessage(message))
    else this.#pollPort?.postMessage(message)
  }

  // --- startup ---

  async #openChannels(): Promise<void> {
    const settings = this.#settings
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
        const opened = await this.#tryOpenSpool(dir, segmentBytes)
        if (opened instanceof Spool) {
          spool = opened
          logSpoolOpened(spool, info.name)
        } else {
          spoolToOpen = { dir, open: () => this.#tryOpenSpool(dir, segmentBytes) }
          workerLog(
            'error',
            'SPOOL UNUSABLE: this channel runs with its memory ring only and tries the spool again with backoff',
            { channel: info.name, dir, error: opened.message },
          )
        }
      }
      const consumer = new RingConsumer(settings.rings[i]!, spool?.nextSeq ?? 0)
      this.#channels.push(
        new ChannelSender({
          index: i,
          name: info.name,
          fd: info.fd,
          consumer,
          spool,
          spoolToOpen,
          highWater: settings.highWater,
          dropPolicy: settings.dropPolicy,
          drops: this.#drops,
          encoders: this.#encoders,
          wake: () => this.#uplink.schedulePump(),
        }),
      )
    }
  }

  /**
   * Opens a channel's spool, or returns why not when the disk takes no writes and its
   * directory is still to be made. A full or read-only disk with the directory there opens:
   * the spool replays what it holds.
   */
  async #tryOpenSpool(dir: string, segmentBytes: number): Promise<Spool | SpoolIoError> {
    try {
      return await Spool.open(dir, { maxBytes: this.#settings.spool!.maxBytes, segmentBytes })
    } catch (error) {
      if (error instanceof SpoolIoError && error.unwritable) return error
      throw error
    }
  }

  #connect(): void {
    if (this.#disposed) return
    const settings = this.#settings
    const uplink = this.#uplink
    // startup garbage goes before the first connection (README: memory)
    compactHeap()
    this.#post(this.#host ? { type: 'ready', channels: settings.channels } : { type: 'ready' })
    workerLog('info', 'connecting', {
      server: uplink.reconnector.describe(),
      ...(settings.servers.length > 1
        ? { servers: settings.servers.map(describeAddress), failover: 'in this order' }
        : {}),
      protocol: PROTOCOL_VERSION,
    })
    this.#every(settings.statsIntervalMs, () => this.#reportStats())
    uplink.connect()
    if (this.#host) {
      this.#pumpNow = () => uplink.pump()
      this.#toPoll({ type: 'link', connected: uplink.connected, ownMessages: uplink.ownMessages })
    } else {
      void this.#watchDoorbell()
    }
  }

  // --- doorbell: wake when the poll worker publishes ---

  async #watchDoorbell(): Promise<void> {
    const doorbell = this.#doorbell
    const uplink = this.#uplink
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

  #reportStats(): void {
    const uplink = this.#uplink
    const channels = this.#channels
    const reconnector = uplink.reconnector
    const stats = {
      connected: uplink.connected,
      server: reconnector.describe(),
      reconnects: reconnector.reconnects,
      failovers: reconnector.failovers,
      channels: channels.map((c) => c.counters()),
    }
    this.#post({ type: 'stats', stats })
    const l = uplink.link
    if (l?.welcomed && !l.closed) {
      l.send('STATS', {
        uptimeMs: Math.round(performance.now() - this.#startedAt),
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
              ...this.#txRefusals.statsCounters(c.index),
            },
          }
        }),
      })
    }
  }

  // --- wiring ---

  #fromPoll(message: PollToWrite): void {
    const uplink = this.#uplink
    switch (message.type) {
      case 'transmit-result':
        uplink.sendWelcomed('TRANSMIT_RESULT', message.result)
        return
      case 'bus-state':
        uplink.busState(message.channel, message.state, message.timeMs)
        return
      case 'interface-loss': {
        const c = this.#channels[message.channel]
        if (c) this.#drops.reportUnranged(c.index, message.count, DROP_REASON.INTERFACE_LOSS)
        return
      }
      case 'notice':
        uplink.sendWelcomed('ERROR', { code: message.code, message: message.message, fatal: false })
        return
      default:
        throw new Error(`unknown message from the poll worker: ${JSON.stringify(message)}`)
    }
  }

  #fromSupervisor(message: SupervisorToWrite): void {
    switch (message.type) {
      case 'port':
        this.#pollPort?.close()
        this.#pollPort = message.port
        this.#pollPort.on('message', this.#onPoll)
        this.#toPoll({
          type: 'link',
          connected: this.#uplink.connected,
          ownMessages: this.#uplink.ownMessages,
        })
        return
      case 'flush':
        // reading stops first: the numbering ends with the last frame in the ring
        this.#stopHost()
        // a stop while the spools are still opening (a signal during startup) flushes once
        // they are open: the ring's frames go to the spool, or are counted as lost
        void this.#channelsOpen.then(
          () => this.#uplink.startFlush(message.deadlineMs),
          () => {}, // the failure ends this side (the constructor's catch)
        )
        return
      default:
        throw new Error(`unknown message from the supervisor: ${JSON.stringify(message)}`)
    }
  }
}
