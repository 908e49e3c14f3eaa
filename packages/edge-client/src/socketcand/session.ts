// One socketcand client: the protocol's modes (NO_BUS, then BCM ⇄ RAW ⇄ CONTROL) over a
// CAN socket of its own (a CanSource of the bus it opened), as socketcand gives each client
// its own process. Text is parsed and written by @canbridge/protocol's socketcand codec.
import type { Socket } from 'node:net'
import {
  type CanFilter,
  type CanFrame,
  formatSocketcandFrame,
  formatSocketcandServerMessage,
  parseSocketcandClientMessage,
  SOCKETCAND_ERROR_CODE,
  SOCKETCAND_EXTENSION_FEATURES,
  SOCKETCAND_EXTENSION_VERSION,
  type SocketcandClientMessage,
  SocketcandError,
  type SocketcandExtensionFeature,
  type SocketcandFrameFormatOptions,
  type SocketcandInterval,
  type SocketcandServerMessage,
  type SocketcandStat,
  SocketcandTokenizer,
  type TxFrame,
} from '@canbridge/protocol'
import { FRAME_FLAG, MAX_FD_LENGTH } from '@canbridge/protocol/frames'
import { CanOpenError, type CanSource, type LinkState } from '../can/can-source.ts'
import type { FrameBatch } from '../can/frame-batch.ts'
import { VIRTUAL_PREFIX } from '../can/virtual-source.ts'
import type { TxPolicy } from '../tx-policy/tx-policy.ts'
import { BcmJobs } from './bcm-jobs.ts'
import { BcmReceiver, type FrameView } from './bcm-receive.ts'
import { SessionCounters } from './bus-statistics.ts'
import type { SocketcandBus } from './buses.ts'
import { ClientWriter } from './client-writer.ts'
import { TransmitQueue } from './transmit-queue.ts'

export type SocketcandLog = (
  level: 'debug' | 'info' | 'warn' | 'error',
  msg: string,
  fields?: Record<string, unknown>,
) => void

export interface SessionOptions {
  /** the buses clients may open, by name */
  buses: ReadonlyMap<string, SocketcandBus>
  /** a CAN socket of its own for this client on the bus `spec` (throws CanOpenError) */
  openSource(spec: string): CanSource
  /** an interface's counters for `< stat >`; undefined when it has none (gone) */
  statistics(interfaceName: string): SocketcandStat | undefined
  /** what the client may put on the bus (listen-only, allow-list, rate limit) */
  txPolicy: TxPolicy
  txQueueLimit: number
  txTimeoutMs: number
  /** output that may wait for a slow client before it is dropped */
  maxQueuedBytes: number
  /**
   * error classes (CAN_ERR_* bits) sent to raw-mode clients as `< error … >`, as socketcand's
   * `-e`; 0: none unless the client asks with the extension's `errdata`
   */
  errorMask: number
  /** a line feed before each streamed message (for python-can before 4.3.1) */
  lineFeeds: boolean
  log: SocketcandLog
  /** called once the session has ended */
  onClose(session: SocketcandSession): void
}

type Mode = 'no-bus' | 'bcm' | 'raw' | 'control'

/** socketcand checks its statistics timer every 10 ms: no shorter interval. */
export const MIN_STATISTICS_MS = 10

/** Kernel filters no data frame passes (the CAN_ERR_FLAG bit, which only error frames carry). */
const NO_FRAMES: CanFilter[] = [{ canId: 0x20000000, canMask: 0x20000000 }]

/**
 * With `lineFeeds`, each streamed message (frames, error frames, statistics) starts with a
 * line feed (the protocol allows blanks between messages): python-can before 4.3.1 (Debian
 * bookworm's 4.1.0) throws away the byte after the last message of each read, so without it
 * every message that a 1024-byte read cuts in two is lost. Off by default, as socketcand
 * sends none and newer python-can logs `Bad data` for a read that ends in one.
 */
const LINE_FEED = '\n'

/** Text of an `< error ... >` reply: printable ASCII, '<' and '>' (which would end it) as '[' and ']'. */
function replyText(text: string): string {
  return text
    .replaceAll('<', '[')
    .replaceAll('>', ']')
    .replace(/[^\x20-\x7e]/g, '?')
}

/** A codec error as a reply: its message without the quoted command. */
function describe(error: SocketcandError): string {
  const where = error.message.lastIndexOf(' (in ')
  return where > 0 ? error.message.slice(0, where) : error.message
}

function intervalMs(interval: SocketcandInterval): number {
  return interval.seconds * 1000 + interval.microseconds / 1000
}

function idText(id: number, extended: boolean): string {
  return id
    .toString(16)
    .toUpperCase()
    .padStart(extended ? 8 : 3, '0')
}

export class SocketcandSession {
  readonly client: string
  readonly #socket: Socket
  readonly #options: SessionOptions
  readonly #writer: ClientWriter
  readonly #tokenizer = new SocketcandTokenizer()
  readonly #startedAt = performance.now()
  #mode: Mode = 'no-bus'
  #bus: SocketcandBus | undefined
  #source: CanSource | undefined
  #tx: TransmitQueue | undefined
  readonly #jobs: BcmJobs
  readonly #receiver: BcmReceiver
  readonly #features = new Set<SocketcandExtensionFeature>()
  readonly #counters = new SessionCounters()
  #formatOptions: SocketcandFrameFormatOptions = {}
  readonly #separator: string
  #statisticsMs = 0
  #statisticsTimer: NodeJS.Timeout | undefined
  #closed = false
  #socketError: string | undefined
  // frames go out one write per batch
  #pending = ''
  #inBatch = false
  // one frame object and one view per length, reused for every frame formatted
  readonly #frame: CanFrame = { timestampNs: 0n, id: 0, flags: 0, len: 0, data: new Uint8Array() }
  readonly #scratch = new Uint8Array(MAX_FD_LENGTH)
  readonly #views = Array.from({ length: MAX_FD_LENGTH + 1 }, (_, n) =>
    this.#scratch.subarray(0, n),
  )
  /** the batch frame being handled */
  readonly #view: FrameView = {
    seconds: 0,
    nanoseconds: 0,
    id: 0,
    flags: 0,
    len: 0,
    data: this.#scratch,
    offset: 0,
  }
  /** frames written to the client */
  framesOut = 0
  /** frames this client put on the bus */
  framesIn = 0
  /** remote and CAN FD frames not sent to a client that did not enable the extension */
  framesWithheld = 0

  constructor(socket: Socket, options: SessionOptions) {
    this.#socket = socket
    this.#options = options
    this.#separator = options.lineFeeds ? LINE_FEED : ''
    this.client = `${socket.remoteAddress}:${socket.remotePort}`
    // socketcand's complaint: ~40 ms of delayed ACKs without it
    socket.setNoDelay(true)
    this.#writer = new ClientWriter(socket, options.maxQueuedBytes, (queued) =>
      this.close(
        `client cannot keep up: ${queued} bytes waiting (limit ${options.maxQueuedBytes})`,
        'warn',
      ),
    )
    this.#jobs = new BcmJobs({
      send: (frame) => this.#sendNow(frame),
      problem: (id, extended, message) =>
        this.#refuse(`cyclic job ${idText(id, extended)}: ${message}`),
    })
    this.#receiver = new BcmReceiver((frame) => this.#emitFrame(frame))
    socket.on('data', this.#onData)
    socket.on('end', this.#onEnd)
    socket.on('error', (error) => {
      this.#socketError = error.message
    })
    socket.on('close', () =>
      this.close(this.#socketError ?? 'the client closed the connection', 'info'),
    )
    options.log('info', 'socketcand client connected', { client: this.client })
    this.#reply({ type: 'hi' })
  }

  get mode(): Mode {
    return this.#mode
  }

  /** Ends the session (idempotent): its jobs, its CAN socket, the connection. */
  close(reason: string, level: 'info' | 'warn' = 'info'): void {
    if (this.#closed) return
    this.#closed = true
    this.#tx?.clear()
    this.#jobs.clear()
    this.#receiver.clear()
    clearInterval(this.#statisticsTimer)
    this.#source?.close()
    if (level === 'warn') this.#socket.destroy()
    else {
      this.#socket.end()
      // a client that never reads would hold the socket open
      setTimeout(() => this.#socket.destroy(), 2000).unref()
    }
    this.#options.log(level, 'socketcand client disconnected', {
      client: this.client,
      bus: this.#bus?.name,
      reason,
      framesOut: this.framesOut,
      framesIn: this.framesIn,
      framesWithheld: this.framesWithheld,
      durationMs: Math.round(performance.now() - this.#startedAt),
    })
    this.#options.onClose(this)
  }

  // --- input ---

  #onData = (chunk: Buffer): void => {
    try {
      this.#tokenizer.write(chunk, this.#onMessage)
    } catch (error) {
      if (!(error instanceof SocketcandError)) throw error
      // the stream cannot be trusted past a framing error: say why and hang up
      this.#refuse(describe(error))
      this.close(`malformed input: ${error.message}`, 'info')
    }
  }

  #onEnd = (): void => {
    try {
      this.#tokenizer.end()
    } catch (error) {
      if (!(error instanceof SocketcandError)) throw error
      this.close(`the client closed the connection inside a message: ${error.message}`)
      return
    }
    this.close('the client closed the connection')
  }

  #onMessage = (text: string): void => {
    if (this.#closed) return
    let message: SocketcandClientMessage
    try {
      message = parseSocketcandClientMessage(text)
    } catch (error) {
      if (!(error instanceof SocketcandError)) throw error
      // socketcand's own answer to a command it does not know
      if (error.code === SOCKETCAND_ERROR_CODE.UNKNOWN_COMMAND) this.#refuse('unknown command')
      else this.#refuse(describe(error))
      return
    }
    this.#handle(message)
  }

  #handle(message: SocketcandClientMessage): void {
    const refusal = this.#carryOut(message)
    if (refusal !== undefined) this.#refuse(refusal)
  }

  /** Carries out one command; returns why it was refused, if it was. */
  #carryOut(message: SocketcandClientMessage): string | undefined {
    if (message.type === 'echo') {
      this.#reply({ type: 'echo' })
      return undefined
    }
    if (this.#mode === 'no-bus') {
      if (message.type !== 'open') return `open a bus first: open BUS, one of ${this.#busList()}`
      this.#open(message.bus)
      return undefined
    }
    switch (message.type) {
      case 'open':
        return `bus ${this.#bus!.name} is open already (one bus per connection)`
      case 'mode':
        if (message.mode === 'isotp') return 'ISO-TP mode is not supported by canbridge-edge'
        this.#switchMode(message.mode)
        return undefined
      case 'extension':
        this.#extension(message.features)
        return undefined
      case 'send':
        if (this.#mode === 'control')
          return 'send works in BCM and raw mode (bcmmode or rawmode first)'
        {
          const refusal = this.#options.txPolicy.admitTransmit(this.#bus!.channel, message.frame)
          if (refusal) return `${refusal.error}: ${refusal.message}`
        }
        this.#tx!.send(message.frame)
        return undefined
      case 'statistics':
        if (this.#mode !== 'control') return 'statistics works in control mode (controlmode first)'
        this.#setStatistics(message.intervalMs)
        return undefined
      default:
        if (this.#mode !== 'bcm') return `${message.type} works in BCM mode (bcmmode first)`
        return this.#bcmCommand(message)
    }
  }

  /** A BCM command, in BCM mode; returns why it was refused, if it was. */
  #bcmCommand(
    message: Extract<
      SocketcandClientMessage,
      { type: 'add' | 'update' | 'delete' | 'subscribe' | 'unsubscribe' | 'filter' | 'muxfilter' }
    >,
  ): string | undefined {
    switch (message.type) {
      case 'add': {
        const refusal = this.#options.txPolicy.checkTask(this.#bus!.channel, [message.frame])
        if (refusal) return refusal
        this.#jobs.add(message.frame, intervalMs(message.interval))
        return undefined
      }
      case 'update': {
        const refusal = this.#options.txPolicy.checkTask(this.#bus!.channel, [message.frame])
        if (refusal) return refusal
        if (this.#jobs.update(message.frame)) return undefined
        const extended = (message.frame.flags & FRAME_FLAG.EXT) !== 0
        return `no cyclic job for ${idText(message.frame.id, extended)}: add it first`
      }
      case 'delete':
        if (this.#jobs.delete(message.id, message.extended)) return undefined
        return `no cyclic job for ${idText(message.id, message.extended)}`
      case 'subscribe':
      case 'filter': {
        const mask = message.type === 'filter' ? message.mask : undefined
        this.#receiver.set(message.id, message.extended, intervalMs(message.interval), mask)
        this.#source!.setFilters(this.#receiver.kernelFilters())
        return undefined
      }
      case 'unsubscribe':
        if (!this.#receiver.delete(message.id, message.extended))
          return `no subscription or filter for ${idText(message.id, message.extended)}`
        this.#source!.setFilters(this.#receiver.kernelFilters())
        return undefined
      case 'muxfilter':
        return 'muxfilter is not supported by canbridge-edge'
    }
  }

  #busList(): string {
    return [...this.#options.buses.keys()].join(', ') || '(none)'
  }

  #open(name: string): void {
    const bus = this.#options.buses.get(name)
    if (!bus) {
      // socketcand hangs up on a bus it does not serve
      this.#refuse(`could not open bus ${name}: this edge serves ${this.#busList()}`)
      this.close(`asked for bus ${name}, which this edge does not serve`)
      return
    }
    let source: CanSource
    try {
      source = this.#options.openSource(bus.spec)
      source.setFilters(NO_FRAMES)
      source.open({ onFrames: this.#onFrames, onLinkState: this.#onLinkState })
    } catch (error) {
      if (!(error instanceof CanOpenError)) throw error
      this.#refuse(`could not open bus ${name}: ${error.message}`)
      this.close(`cannot open bus ${name}: ${error.message}`, 'info')
      return
    }
    this.#bus = bus
    this.#source = source
    this.#tx = new TransmitQueue(source, {
      limit: this.#options.txQueueLimit,
      timeoutMs: this.#options.txTimeoutMs,
      onSent: (frame) => this.#sent(frame),
      onFailed: (frame, error, text) =>
        this.#refuse(
          `send ${idText(frame.id, (frame.flags & FRAME_FLAG.EXT) !== 0)} failed: ${error}: ${text}`,
        ),
    })
    this.#mode = 'bcm'
    this.#updateFormat()
    this.#reply({ type: 'ok' })
    this.#options.log('info', 'socketcand bus opened', { client: this.client, bus: name })
  }

  #switchMode(next: Exclude<Mode, 'no-bus'>): void {
    const previous = this.#mode
    if (previous === 'bcm' && next !== 'bcm') {
      // socketcand closes its BCM socket, and the kernel ends the socket's jobs with it
      this.#jobs.clear()
      this.#receiver.clear()
    }
    if (previous === 'control' && next !== 'control') clearInterval(this.#statisticsTimer)
    this.#mode = next
    this.#updateFormat()
    // `< ok >` goes before any frame of the new mode
    this.#reply({ type: 'ok' })
    this.#source!.setFilters(this.#filtersFor(next))
    if (next === 'control' && previous !== 'control') this.#setStatistics(this.#statisticsMs)
  }

  /**
   * Raw mode takes every frame, BCM mode what it subscribed to; control mode none, except
   * on a virtual bus, whose statistics are what this client's source sees.
   */
  #filtersFor(mode: Exclude<Mode, 'no-bus'>): CanFilter[] {
    if (mode === 'raw') return []
    if (mode === 'bcm') return this.#receiver.kernelFilters()
    return this.#bus!.spec.startsWith(VIRTUAL_PREFIX) ? [] : NO_FRAMES
  }

  #extension(asked: readonly string[]): void {
    for (const feature of SOCKETCAND_EXTENSION_FEATURES) {
      // CAN FD only where the bus carries it
      if (asked.includes(feature) && (feature !== 'fd' || this.#source!.fd))
        this.#features.add(feature)
    }
    this.#updateFormat()
    this.#reply({
      type: 'extension',
      version: SOCKETCAND_EXTENSION_VERSION,
      features: [...this.#features],
    })
  }

  /** Frames in BCM mode have spaced data bytes; `errdata` adds error frames' data. */
  #updateFormat(): void {
    this.#formatOptions = {
      spacedData: this.#mode === 'bcm',
      errorData: this.#features.has('errdata'),
    }
  }

  // --- transmit ---

  /** A cyclic job's send: now or not at all (the next period brings the next one). */
  #sendNow(frame: TxFrame): boolean {
    if (!this.#options.txPolicy.admitPeriodic(this.#bus!.channel)) return false
    const outcome = this.#source!.send(frame)
    if (outcome.ok) this.#sent(frame)
    return outcome.ok
  }

  #sent(frame: TxFrame): void {
    this.framesIn++
    this.#counters.sent(frame.flags & FRAME_FLAG.RTR ? 0 : frame.len)
  }

  // --- output ---

  #reply(message: SocketcandServerMessage): void {
    this.#writer.write(formatSocketcandServerMessage(message))
  }

  #refuse(text: string): void {
    if (this.#closed) return
    this.#reply({ type: 'error', text: replyText(text) })
  }

  #stream(text: string): void {
    this.#pending += this.#separator + text
    if (!this.#inBatch) this.#flush()
  }

  #flush(): void {
    if (this.#pending === '' || this.#closed) return
    const text = this.#pending
    this.#pending = ''
    this.#writer.write(text)
  }

  #onFrames = (batch: FrameBatch): void => {
    if (this.#closed) return
    const view = this.#view
    view.data = batch.data
    this.#inBatch = true
    for (let i = 0; i < batch.count; i++) {
      view.seconds = batch.seconds[i]!
      view.nanoseconds = batch.nanoseconds[i]!
      view.id = batch.ids[i]!
      view.flags = batch.flags[i]!
      view.len = batch.lens[i]!
      view.offset = batch.offsets[i]!
      if (!(view.flags & FRAME_FLAG.ERR))
        this.#counters.received(view.flags & FRAME_FLAG.RTR ? 0 : view.len)
      if (this.#mode === 'raw') this.#emitFrame(view)
      else if (this.#mode === 'bcm') this.#receiver.receive(view)
    }
    this.#inBatch = false
    this.#flush()
  }

  /** One frame to the client in the current mode's format (BCM: spaced data bytes). */
  #emitFrame({ seconds, nanoseconds, id, flags, len, data, offset }: FrameView): void {
    if (
      (flags & FRAME_FLAG.RTR && !this.#features.has('rtr')) ||
      (flags & FRAME_FLAG.FD && !this.#features.has('fd'))
    ) {
      this.framesWithheld++
      return
    }
    // as socketcand's CAN_RAW_ERR_FILTER: only the classes asked for, by the edge or the client
    if (
      flags & FRAME_FLAG.ERR &&
      (id & this.#options.errorMask) === 0 &&
      !this.#features.has('errdata')
    )
      return
    const frame = this.#frame
    const n = flags & FRAME_FLAG.RTR ? 0 : len
    for (let k = 0; k < n; k++) this.#scratch[k] = data[offset + k]!
    frame.timestampNs = BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds)
    frame.id = id
    frame.flags = flags & ~FRAME_FLAG.TX
    frame.len = len
    frame.data = this.#views[n]!
    this.framesOut++
    this.#stream(formatSocketcandFrame(frame, this.#formatOptions))
  }

  #onLinkState = (state: LinkState, reason: string): void => {
    // the state open() reports is not news (open said what it had to)
    if (this.#source === undefined) return
    this.#options.log(state === 'up' ? 'info' : 'warn', `socketcand bus ${state}`, {
      client: this.client,
      bus: this.#bus?.name,
      reason,
    })
  }

  #setStatistics(ms: number): void {
    this.#statisticsMs = ms
    clearInterval(this.#statisticsTimer)
    this.#statisticsTimer = undefined
    if (ms === 0 || this.#mode !== 'control') return
    this.#statisticsTimer = setInterval(
      () => {
        const bus = this.#bus!
        // a virtual bus has no interface: this client's own counts stand in
        const stat = bus.spec.startsWith(VIRTUAL_PREFIX)
          ? this.#counters
          : this.#options.statistics(bus.name)
        if (stat === undefined) return
        this.#stream(
          formatSocketcandServerMessage({
            type: 'stat',
            rxBytes: stat.rxBytes,
            rxPackets: stat.rxPackets,
            txBytes: stat.txBytes,
            txPackets: stat.txPackets,
          }),
        )
      },
      Math.max(MIN_STATISTICS_MS, ms),
    )
  }
}
