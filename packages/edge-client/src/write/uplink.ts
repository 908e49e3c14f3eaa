// The connection side of the socket-write worker: opens links through an injected factory
// (openServerLink in the daemon, a scripted link in tests), says HELLO with each channel's
// oldest frame, resumes every channel where the WELCOME says, dispatches server messages,
// reconnects through the Reconnector when a link ends, pumps the channels into the
// welcomed link, and runs the shutdown flush. Owns the current link and its generation.
import {
  type BusStateName,
  type ControlBodies,
  type ControlMessage,
  type ControlTypeName,
  EDGE_CAPABILITY,
  type Welcome,
} from '@canbridge/protocol'
import {
  type Link,
  type LinkProblemKind,
  type OpenLink,
  openServerLink,
} from '../link/connection.ts'
import { Reconnector } from '../link/reconnector.ts'
import { describeAddress } from '../link/server-address.ts'
import type { WriteToPoll, WriteWorkerData } from '../messages.ts'
import type { Timers } from '../timers.ts'
import { workerLog } from '../worker-log.ts'
import type { ChannelSender, FlushResult, SenderLog } from './channel-sender.ts'
import type { DropReporter } from './drop-reporter.ts'
import type { EncoderPool } from './encoder-pool.ts'
import { ShutdownFlush } from './shutdown-flush.ts'

export type UplinkSettings = Pick<
  WriteWorkerData,
  | 'servers'
  | 'edgeId'
  | 'instanceId'
  | 'software'
  | 'channels'
  | 'listenOnly'
  | 'security'
  | 'handshakeTimeoutMs'
  | 'reconnectMinMs'
  | 'reconnectMaxMs'
>

export interface UplinkOptions {
  settings: UplinkSettings
  /** one per channel, by index; the worker fills it once the spools are open, before start() */
  senders: readonly ChannelSender[]
  drops: DropReporter
  encoders: EncoderPool
  /** messages for the poll worker (link state, transmit requests, filters, periodic tasks) */
  toPoll(message: WriteToPoll): void
  /** the shutdown flush is over (the link is already closed) */
  flushed(result: FlushResult): void
  /** how links are opened (default openServerLink: TCP, TLS or a Unix socket) */
  openLink?: OpenLink
  log?: SenderLog
  /** the reconnect backoff's and the flush deadline's timers, and the jitter (tests inject them) */
  timers?: Timers
  random?: () => number
  /** runs a pump soon (default setImmediate) */
  defer?: (run: () => void) => void
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

export class Uplink {
  /** which server next, and when: the list, the current one, the backoff */
  readonly reconnector: Reconnector
  readonly #settings: UplinkSettings
  readonly #senders: readonly ChannelSender[]
  readonly #drops: DropReporter
  readonly #encoders: EncoderPool
  readonly #toPoll: (message: WriteToPoll) => void
  readonly #flushed: (result: FlushResult) => void
  readonly #openLink: OpenLink
  readonly #log: SenderLog
  readonly #defer: (run: () => void) => void
  readonly #timers: Timers | undefined
  /** each channel's last bus state, sent again after a reconnect */
  readonly #busStates: { state: BusStateName; timeMs: number }[]
  #link: Link | null = null
  /** increases with every connection, so that late events of an old one are ignored */
  #generation = 0
  #ownMessages = false
  #stopping = false
  /** sending has ended for good (the flush began moving frames to the spool) */
  #stopped = false
  #pumpScheduled = false
  #flush: ShutdownFlush | null = null
  /** a sending side that failed: nothing of this uplink runs again (abandon) */
  #abandoned = false

  constructor(options: UplinkOptions) {
    this.#settings = options.settings
    this.#senders = options.senders
    this.#drops = options.drops
    this.#encoders = options.encoders
    this.#toPoll = options.toPoll
    this.#flushed = options.flushed
    this.#openLink = options.openLink ?? openServerLink
    this.#log = options.log ?? workerLog
    this.#defer = options.defer ?? ((run) => setImmediate(run))
    this.#timers = options.timers
    this.#busStates = options.settings.channels.map(() => ({ state: 'active', timeMs: 0 }))
    this.reconnector = new Reconnector({
      servers: options.settings.servers,
      minMs: options.settings.reconnectMinMs,
      maxMs: options.settings.reconnectMaxMs,
      ...(options.timers ? { timers: options.timers } : {}),
      ...(options.random ? { random: options.random } : {}),
    })
  }

  /** The current link, welcomed or not; null between connections. */
  get link(): Link | null {
    return this.#link
  }

  get connected(): boolean {
    return this.#link?.welcomed === true
  }

  /** The server takes its own frames back as echoes (WELCOME capability own-messages). */
  get ownMessages(): boolean {
    return this.#ownMessages
  }

  get stopped(): boolean {
    return this.#stopped
  }

  /** Sends a control message if a welcomed link is up; dropped otherwise (as before WELCOME). */
  sendWelcomed<K extends ControlTypeName>(type: K, body: ControlBodies[K]): void {
    if (this.#link?.welcomed) this.#link.send(type, body)
  }

  /** A channel's bus state changed: sent now if connected, and again after each reconnect. */
  busState(channel: number, state: BusStateName, timeMs: number): void {
    const known = this.#busStates[channel]
    if (!known) return
    known.state = state
    known.timeMs = timeMs
    this.sendWelcomed('BUS_STATE', { channel, state, timeMs })
  }

  /** Opens a link to the current server (the first, or the next after a failure). */
  connect(): void {
    if (this.#stopping && !this.#flush) return
    this.#generation++
    const settings = this.#settings
    const reconnector = this.reconnector
    const capabilities: string[] = ['transmit', 'periodic', 'filters', 'own-messages']
    if (this.#senders.some((c) => c.fd)) capabilities.unshift('fd')
    if (settings.listenOnly) capabilities.push('listen-only')
    capabilities.push(...this.#accountingCapabilities())
    const hello = {
      edgeId: settings.edgeId,
      instanceId: settings.instanceId,
      software: settings.software,
      channels: this.#senders.map((c) => ({ name: c.name, fd: c.fd, nextSeq: c.oldestHeld() })),
      capabilities,
    }
    const mine = this.#generation
    // with one server the failure line already named it
    if (settings.servers.length > 1) {
      this.#log(reconnector.failures <= 3 ? 'info' : 'debug', 'connecting to the server', {
        server: reconnector.describe(),
        of: `${reconnector.index + 1}/${settings.servers.length}`,
        attempt: reconnector.failures + 1,
      })
    }
    this.#link = this.#openLink(
      reconnector.current,
      hello,
      {
        onWelcome: (welcome) => this.#onWelcome(welcome),
        onMessage: (message) => this.#onServerMessage(message),
        onDrain: () => this.schedulePump(),
        onClose: (reason, welcomed, kind) => this.#onClose(mine, reason, welcomed, kind),
      },
      {
        handshakeTimeoutMs: settings.handshakeTimeoutMs,
        keepAliveMs: 10_000,
        security: settings.security,
      },
    )
  }

  schedulePump(): void {
    if (this.#pumpScheduled) return
    this.#pumpScheduled = true
    this.#defer(() => this.pump())
  }

  /** Sends what every channel has, round robin, until the link needs a drain; then upkeep. */
  pump(): void {
    this.#pumpScheduled = false
    // a pump queued before abandon() must not touch the rings its successor now owns
    if (this.#abandoned) return
    const l = this.#link
    if (l?.welcomed && !l.closed && !l.needDrain) {
      l.cork()
      try {
        let progress = true
        while (progress && !l.needDrain && !l.closed) {
          progress = false
          for (const c of this.#senders) {
            if (l.needDrain) break
            if (c.sendOne()) progress = true
          }
        }
      } finally {
        l.uncork()
      }
    }
    for (const c of this.#senders) c.maintain()
  }

  /** Shutdown: no reconnects; flush to the server within the deadline, else to the spool. */
  startFlush(deadlineMs: number): void {
    this.#stopping = true
    this.reconnector.cancel()
    this.#flush = new ShutdownFlush({
      senders: this.#senders,
      stop: () => {
        this.#stopped = true
      },
      finished: ({ unacked, spooled, lost }) => {
        this.#link?.destroy('shutdown')
        this.#flushed({ unacked, spooled, lost })
      },
      log: this.#log,
      ...(this.#timers ? { timers: this.#timers } : {}),
    })
    const connected = this.connected
    this.#flush.start(deadlineMs, connected)
    if (connected) this.schedulePump()
  }

  /**
   * The sending side failed and a new one takes over the same rings (--threads 1): no
   * reconnect, no flush, no pump from here on; the link is cut. What the server has not
   * acknowledged stays in the rings for the successor.
   */
  abandon(reason: string): void {
    this.#abandoned = true
    this.#stopping = true
    this.#stopped = true
    this.reconnector.cancel()
    // its close is not this uplink's business any more (#onClose ignores old generations)
    this.#generation++
    this.#link?.destroy(reason)
    this.#link = null
  }

  /** What every channel can account for (an unpatched binding claims none of it). */
  #accountingCapabilities(): string[] {
    const all = (key: 'kernelDrops' | 'interfaceDrops' | 'fdFlags' | 'kernelEcho') =>
      this.#settings.channels.every((c) => c[key])
    const claimed: string[] = []
    if (all('kernelDrops')) claimed.push(EDGE_CAPABILITY.KERNEL_DROPS)
    if (all('interfaceDrops')) claimed.push(EDGE_CAPABILITY.INTERFACE_DROPS)
    if (all('fdFlags')) claimed.push(EDGE_CAPABILITY.FD_FLAGS)
    if (all('kernelEcho')) claimed.push(EDGE_CAPABILITY.KERNEL_ECHO)
    return claimed
  }

  #onClose(which: number, reason: string, welcomed: boolean, kind: LinkProblemKind): void {
    if (which !== this.#generation) return
    this.#link = null
    this.#drops.disconnected()
    for (const c of this.#senders) c.disconnected()
    this.#encoders.reclaimAll()
    this.#generation++
    this.#toPoll({ type: 'link', connected: false, ownMessages: false })
    if (this.#flush) {
      void this.#flush.finish(`connection lost: ${reason}`)
      return
    }
    if (this.#stopping) return
    const next = this.reconnector.failed()
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
      this.#log(
        'warn',
        `server connection lost${moving ? '; moving to the next server' : '; reconnecting'}`,
        fields,
      )
    else if (failed !== undefined) this.#log(loud ? 'error' : 'debug', `${failed}${then}`, fields)
    else this.#log(loud ? 'warn' : 'debug', `server unreachable${then}`, fields)
    this.reconnector.schedule(() => this.connect(), next.delayMs)
  }

  #onWelcome(welcome: Welcome): void {
    const senders = this.#senders
    const settings = this.#settings
    const reconnector = this.reconnector
    if (welcome.channels.length !== senders.length) {
      this.#log('warn', 'WELCOME lists a different number of channels than HELLO', {
        offered: senders.length,
        welcomed: welcome.channels.length,
      })
    }
    reconnector.connected()
    this.#ownMessages = welcome.capabilities.includes('own-messages')
    this.#log('info', 'connected to the server', {
      server: reconnector.describe(),
      ...(settings.servers.length > 1
        ? { of: `${reconnector.index + 1}/${settings.servers.length}` }
        : {}),
      serverId: welcome.serverId,
      heartbeatMs: welcome.heartbeatMs,
      capabilities: welcome.capabilities,
      resume: welcome.channels.map((c) => c.nextSeq),
    })
    const welcomed = this.#link
    if (welcomed) {
      // a report handed to a link that closes meanwhile stays unconfirmed: sent again next time
      this.#drops.connected({ send: (report) => welcomed.send('DROPS', report) })
      for (const c of senders) c.resume(welcomed, welcome.channels[c.index]?.nextSeq ?? null)
    }
    this.#toPoll({ type: 'link', connected: true, ownMessages: this.#ownMessages })
    for (const [channel, { state, timeMs }] of this.#busStates.entries()) {
      if (state !== 'active') this.#link?.send('BUS_STATE', { channel, state, timeMs })
    }
    this.schedulePump()
  }

  #onServerMessage(message: Exclude<ControlMessage, { type: 'WELCOME' }>): void {
    const toPoll = this.#toPoll
    switch (message.type) {
      case 'ACK': {
        const c = this.#senders[message.body.channel]
        if (!c) {
          this.#protocolProblem(`ACK for unknown channel ${message.body.channel}`)
          return
        }
        c.release(message.body.nextSeq)
        this.#drops.acknowledged(c.index, message.body.nextSeq)
        if (this.#stopping) this.#flush?.check()
        this.schedulePump()
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
        this.#log(message.body.fatal ? 'error' : 'warn', 'ERROR from the server', {
          ...message.body,
        })
        if (message.body.fatal)
          this.#link?.destroy(`server error ${message.body.code}: ${message.body.message}`)
        return
      default:
        this.#protocolProblem(`unexpected ${message.type} from the server`)
    }
  }

  #protocolProblem(reason: string): void {
    this.#link?.send('ERROR', { code: 'protocol', message: reason, fatal: true })
    this.#link?.destroy(reason)
  }
}
