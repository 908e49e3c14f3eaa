// The socket-write worker: owns the server connection and the spools. It drains each
// channel's ring into DATA batches (spool first after an outage), frees ring and spool on
// ACK, moves unacknowledged frames to the spool when the ring fills, reports drops, and
// relays commands to the poll worker. Reconnects with backoff, moving through the list of
// servers (reconnector.ts); resumes where the WELCOME of the server it reached says.
import { join } from 'node:path'
import { type MessagePort, parentPort, workerData } from 'node:worker_threads'
import {
  BATCH_HEADER_BYTES,
  BatchEncoder,
  type BusStateName,
  type ControlMessage,
  DROP_REASON,
  EDGE_CAPABILITY,
  HEADER_BYTES,
  MAX_BATCH_FRAMES,
  PROTOCOL_VERSION,
  RECORD_HEADER_BYTES,
  SequenceRanges,
  type Welcome,
} from '@canbridge/protocol'
import { describeAddress, type LinkProblemKind, ServerLink } from './connection.ts'
import { compactHeap } from './heap.ts'
import type {
  ChannelCounters,
  PollToWrite,
  SupervisorToWrite,
  WriteToPoll,
  WriteToSupervisor,
  WriteWorkerData,
} from './messages.ts'
import { Reconnector } from './reconnector.ts'
import { DOORBELL, RING_COUNTER, RingConsumer, RUN_KIND } from './ring.ts'
import { Spool, SpoolFullError, SpoolIoError } from './spool/index.ts'
import { RefusalCounters } from './tx-policy/refusal-counters.ts'
import { workerLog } from './worker-log.ts'
import { DropReporter } from './write/drop-reporter.ts'

const settings = workerData as WriteWorkerData
const parent = parentPort!
const MAX_BATCH_BYTES =
  HEADER_BYTES + BATCH_HEADER_BYTES + MAX_BATCH_FRAMES * (RECORD_HEADER_BYTES + 64)
/** most bytes moved to the spool in one append */
const SPOOL_CHUNK_BYTES = 256 * 1024
/** without a spool, drop-oldest frees the ring down to this fill once it passes DROP_MARK */
const DROP_MARK = 0.9
const DROP_TO = 0.75
/**
 * Sequence numbers reserved in the spool ahead of the ring's numbering, renewed when half
 * are used (one state write per SEQ_LEASE / 2 frames): after a crash numbering resumes past
 * every number the dead process may have given a frame, so the frames lost with its memory
 * ring show at the server as a gap (of at most SEQ_LEASE more than were lost) instead of
 * being replaced, silently, by new frames under the same numbers.
 */
const SEQ_LEASE = 65_536

function post(message: WriteToSupervisor): void {
  parent.postMessage(message)
}

interface Channel {
  index: number
  name: string
  fd: boolean
  consumer: RingConsumer
  spool: Spool | null
  /** sequence after the newest frame in the spool (upper bound) */
  spoolTail: number
  /** next sequence to send on the current connection */
  sendSeq: number
  /** a spool read or move is in flight */
  reading: boolean
  moving: boolean
  /** drop-newest: the spool refused the last move (full); no retry until it frees space */
  spoolRefused: boolean
  /** highest acknowledgement seen (-1 before the first) */
  ackedSeq: number
  /** sequence after the newest frame ever handed to a connection */
  sentUpTo: number
  /**
   * frames discarded after being handed to a connection, by reason: reported only if the
   * next WELCOME shows the server lacks them
   */
  inflight: Map<string, SequenceRanges>
  busState: BusStateName
  busStateTimeMs: number
  framesSpooled: number
  dropsSpoolFull: number
  dropsRingOldest: number
  /**
   * the last spool operation failed: the channel holds frames in the ring (dropping by
   * the policy only when it is full) and tries the spool again at spoolRetryAt
   */
  spoolFailed: boolean
  spoolRetryAt: number
  spoolBackoffMs: number
  spoolErrors: number
  /**
   * the spool could not be opened (a full or read-only disk where its directory is still
   * to be made): opened again with the spool's backoff, then used as usual
   */
  spoolToOpen: { dir: string; segmentBytes: number } | null
  /** numbering reserved in the spool up to here (SEQ_LEASE); a renewal is in flight */
  leasedTo: number
  leasing: boolean
}

const doorbell = new Int32Array(settings.doorbell)
const txRefusals = new RefusalCounters(settings.txRefusals)
/** for spool replay (rare): its bytes are copied before writing */
const replayEncoder = new BatchEncoder({ maxBytes: MAX_BATCH_BYTES })
/**
 * Encoders for ring batches, each handed to the socket without a copy and taken back when
 * the socket has flushed it: no allocation per batch. None free = wait, like 'drain'.
 */
const ENCODERS = 8
const freeEncoders: BatchEncoder[] = Array.from(
  { length: ENCODERS },
  () => new BatchEncoder({ maxBytes: MAX_BATCH_BYTES }),
)
const busyEncoders = new Set<BatchEncoder>()

function returnEncoder(encoder: BatchEncoder): void {
  // a late callback from a destroyed socket finds it already returned
  if (!busyEncoders.delete(encoder)) return
  freeEncoders.push(encoder)
  schedulePump()
}
const channels: Channel[] = []
/** DROPS reports: once per range, queued while disconnected, resent until confirmed */
const drops = new DropReporter({
  channels: settings.channels,
  log: (fields) => workerLog('warn', 'frames dropped', fields),
})
let link: ServerLink | null = null
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
    let spoolToOpen: Channel['spoolToOpen'] = null
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
        spoolToOpen = { dir, segmentBytes }
        workerLog(
          'error',
          'SPOOL UNUSABLE: this channel runs with its memory ring only and tries the spool again with backoff',
          { channel: info.name, dir, error: opened.message },
        )
      }
    }
    const consumer = new RingConsumer(settings.rings[i]!, spool?.nextSeq ?? 0)
    channels.push({
      index: i,
      name: info.name,
      fd: info.fd,
      consumer,
      spool,
      spoolTail: spool?.nextSeq ?? 0,
      sendSeq: consumer.releaseSeq,
      reading: false,
      moving: false,
      sentUpTo: 0,
      ackedSeq: -1,
      spoolRefused: false,
      inflight: new Map(),
      busState: 'active',
      busStateTimeMs: 0,
      framesSpooled: 0,
      dropsSpoolFull: 0,
      dropsRingOldest: 0,
      spoolFailed: spoolToOpen !== null,
      spoolRetryAt: spoolToOpen === null ? 0 : performance.now() + SPOOL_RETRY_MIN_MS,
      spoolBackoffMs: spoolToOpen === null ? 0 : SPOOL_RETRY_MIN_MS,
      spoolErrors: spoolToOpen === null ? 0 : 1,
      spoolToOpen,
      leasedTo: 0,
      leasing: false,
    })
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

function logSpoolOpened(spool: Spool, channel: string): void {
  const { recovery } = spool
  workerLog(recovery.problems.length > 0 ? 'warn' : 'info', 'spool opened', {
    channel,
    dir: spool.dir,
    frames: spool.frames,
    bytes: spool.bytes,
    firstSeq: spool.firstSeq,
    nextSeq: spool.nextSeq,
    problems: recovery.problems,
  })
}

/** A spool that could not be opened at start, tried again (its disk may take writes now). */
async function reopenSpool(c: Channel): Promise<void> {
  const { dir, segmentBytes } = c.spoolToOpen!
  c.moving = true
  try {
    const opened = await tryOpenSpool(dir, segmentBytes)
    if (!(opened instanceof Spool)) {
      spoolProblem(c, 'open', opened)
      return
    }
    c.spoolToOpen = null
    // frames from an earlier run under numbers this run gave out again must not be replayed
    if (opened.frames > 0 || opened.nextSeq > c.consumer.releaseSeq) {
      await opened.close()
      workerLog(
        'error',
        'the spool holds frames numbered like this run: not used until the edge restarts',
        {
          channel: c.name,
          dir,
          spoolNextSeq: opened.nextSeq,
          ringSeq: c.consumer.releaseSeq,
        },
      )
      return
    }
    c.spool = opened
    c.spoolTail = opened.nextSeq
    logSpoolOpened(opened, c.name)
    spoolRecovered(c)
  } catch (error) {
    spoolProblem(c, 'open', error)
  } finally {
    c.moving = false
  }
}

/** The oldest sequence still held: where a server without history resumes. */
function oldestHeld(c: Channel): number {
  const first = c.spool?.firstSeq
  return first === null || first === undefined
    ? c.consumer.releaseSeq
    : Math.min(first, c.consumer.releaseSeq)
}

// --- connection ---

function connect(): void {
  if (stopping && !flushState) return
  generation++
  const capabilities: string[] = ['transmit', 'periodic', 'filters', 'own-messages']
  if (channels.some((c) => c.fd)) capabilities.unshift('fd')
  if (settings.listenOnly) capabilities.push('listen-only')
  capabilities.push(...accountingCapabilities())
  const hello = {
    edgeId: settings.edgeId,
    instanceId: settings.instanceId,
    software: settings.software,
    channels: channels.map((c) => ({ name: c.name, fd: c.fd, nextSeq: oldestHeld(c) })),
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
  link = new ServerLink(
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
  for (const encoder of [...busyEncoders]) returnEncoder(encoder)
  generation++
  toPoll({ type: 'link', connected: false, ownMessages: false })
  if (flushState) {
    flushState.linkLost = true
    void finishFlush(`connection lost: ${reason}`)
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
  for (const c of channels) resume(c, welcome.channels[c.index]?.nextSeq ?? null)
  toPoll({ type: 'link', connected: true, ownMessages })
  for (const c of channels) {
    if (c.busState !== 'active') {
      link?.send('BUS_STATE', { channel: c.index, state: c.busState, timeMs: c.busStateTimeMs })
    }
  }
  schedulePump()
}

/** Positions a channel after WELCOME: frees what the server holds, resends the rest. */
function resume(c: Channel, serverNext: number | null): void {
  const consumer = c.consumer
  if (serverNext !== null && !consumer.touched && serverNext > consumer.releaseSeq) {
    // The server holds numbers this process never sent (its spool state was lost, or no
    // spool): continue after them instead of having the server discard our frames.
    workerLog('warn', 'server is ahead of this edge; continuing at its sequence', {
      channel: c.name,
      from: consumer.releaseSeq,
      to: serverNext,
    })
    consumer.rebase(serverNext)
    if (c.spool && serverNext > c.spool.nextSeq) {
      c.spool.setNextSeq(serverNext).catch((error: unknown) => spoolProblem(c, 'setNextSeq', error))
    }
  }
  c.consumer.markTouched()
  const oldest = oldestHeld(c)
  if (c.ackedSeq < 0) c.ackedSeq = oldest
  let from = oldest
  if (serverNext !== null) {
    if (serverNext > oldest) release(c, serverNext)
    else if (serverNext < oldest) {
      workerLog('info', 'server lacks frames this edge no longer holds', {
        channel: c.name,
        serverNextSeq: serverNext,
        oldestHeld: oldest,
      })
      for (const [reason, set] of c.inflight) {
        for (const [from, to] of set.intersect(serverNext, oldest))
          reportDrops(c, from, to - from, reason)
      }
    }
    from = Math.max(serverNext, oldest)
  }
  c.sendSeq = from
  consumer.seek(Math.max(from, consumer.releaseSeq))
}

/** Everything below `seq` is held by the server: free it in spool and ring. */
function release(c: Channel, seq: number): void {
  const consumer = c.consumer
  if (consumer.cursorSeq < seq) consumer.seek(seq)
  consumer.release(seq)
  drops.forgetBelow(c.index, seq)
  for (const set of c.inflight.values()) set.forgetBelow(seq)
  if (seq > c.ackedSeq) {
    // sequence numbers acknowledged (a gap's numbers count too: the server moved past them)
    if (c.ackedSeq >= 0) consumer.counters[RING_COUNTER.FRAMES_ACKED]! += seq - c.ackedSeq
    c.ackedSeq = seq
  }
  const spool = c.spool
  // while a move is in flight the spool may not count its frames yet, but the ACK may cover
  // them (they were sent from the ring meanwhile): released after that append, in queue order
  if (spool && (spool.frames > 0 || c.moving)) {
    const upTo = Math.min(seq, consumer.releaseSeq)
    if (upTo > spool.ackSeq) {
      spool.release(upTo).then(
        () => {
          c.spoolRefused = false
          // space came back (a full disk): try the spool again now, not after the backoff
          c.spoolRetryAt = 0
        },
        (error: unknown) => spoolProblem(c, 'release', error),
      )
    }
  }
}

function onServerMessage(message: Exclude<ControlMessage, { type: 'WELCOME' }>): void {
  switch (message.type) {
    case 'ACK': {
      const c = channels[message.body.channel]
      if (!c) {
        protocolProblem(`ACK for unknown channel ${message.body.channel}`)
        return
      }
      release(c, message.body.nextSeq)
      drops.acknowledged(c.index, message.body.nextSeq)
      if (stopping) checkFlushed()
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
          if (sendOne(c, l)) progress = true
        }
      }
    } finally {
      l.uncork()
    }
  }
  for (const c of channels) {
    manageLevel(c)
    reportTrailingGap(c)
    renewLease(c)
  }
}

/** Keeps the spool's reservation SEQ_LEASE / 2 or more ahead of the ring's numbering. */
function renewLease(c: Channel): void {
  const spool = c.spool
  if (spool === null || c.spoolFailed || c.leasing || stopped) return
  const numbered = c.consumer.numberedSeq()
  if (numbered + SEQ_LEASE / 2 <= c.leasedTo) return
  const upTo = numbered + SEQ_LEASE
  c.leasing = true
  spool
    .reserve(upTo)
    .then(
      () => {
        c.leasedTo = upTo
      },
      (error: unknown) => spoolProblem(c, 'reserve', error),
    )
    .finally(() => {
      c.leasing = false
    })
}

/** Drops after the last frame read are reported once the cursor gets there, not later. */
function reportTrailingGap(c: Channel): void {
  const count = c.consumer.trailingGap()
  if (count > 0) reportDrops(c, c.consumer.cursorSeq, count, 'ring-full')
}

/** Sends one DATA batch for a channel if it has something; true when it wrote. */
function sendOne(c: Channel, l: ServerLink): boolean {
  if (c.reading) return false
  const spool = c.spool
  if (spool && spool.frames > 0 && c.sendSeq < c.spoolTail) {
    c.reading = true
    const mine = generation
    spool
      .read(c.sendSeq, MAX_BATCH_FRAMES, MAX_BATCH_BYTES - HEADER_BYTES - BATCH_HEADER_BYTES)
      .then((chunk) => {
        c.reading = false
        if (mine !== generation || link !== l) return
        if (chunk === null) {
          c.spoolTail = c.sendSeq // nothing more there: the ring has the rest
        } else {
          replayEncoder.begin(c.index, chunk.firstSeq)
          replayEncoder.addEncoded(chunk.records, chunk.count)
          l.write(Buffer.from(replayEncoder.finish()))
          sent(c, chunk.firstSeq, chunk.count)
          c.sendSeq = chunk.firstSeq + chunk.count
        }
        schedulePump()
      })
      .catch((error: unknown) => {
        c.reading = false
        spoolProblem(c, 'read', error)
        c.spoolTail = c.sendSeq
        schedulePump()
      })
    return false
  }
  const consumer = c.consumer
  if (consumer.cursorSeq !== c.sendSeq) {
    consumer.seek(c.sendSeq)
    c.sendSeq = consumer.cursorSeq
  }
  const encoder = freeEncoders.at(-1)
  if (encoder === undefined) return false
  let open = false
  for (;;) {
    const room = MAX_BATCH_BYTES - (open ? encoder.byteLength : HEADER_BYTES + BATCH_HEADER_BYTES)
    const kind = consumer.peek(MAX_BATCH_FRAMES - (open ? encoder.count : 0), room)
    if (kind === RUN_KIND.EMPTY) break
    if (kind === RUN_KIND.GAP) {
      if (open) break // a gap ends a batch: its sequence numbers are not sent
      reportDrops(c, consumer.cursorSeq, consumer.count, consumer.gapReason)
      consumer.advance()
      c.sendSeq = consumer.cursorSeq
      continue
    }
    if (consumer.count === 0) break
    if (!open) {
      encoder.begin(c.index, consumer.cursorSeq)
      open = true
    }
    encoder.addEncoded(consumer.data.subarray(consumer.start, consumer.end), consumer.count)
    consumer.advance()
  }
  if (!open || encoder.count === 0) return false
  freeEncoders.pop()
  busyEncoders.add(encoder)
  const count = encoder.count
  l.write(encoder.finish(), () => returnEncoder(encoder))
  sent(c, consumer.cursorSeq - count, count)
  c.sendSeq = consumer.cursorSeq
  return true
}

function sent(c: Channel, firstSeq: number, count: number): void {
  c.consumer.counters[RING_COUNTER.FRAMES_SENT]! += count
  c.sentUpTo = Math.max(c.sentUpTo, firstSeq + count)
  c.consumer.markTouched()
}

/**
 * Frames the edge discards (spool full, ring full without spool): reported now unless
 * they were already handed to a connection, where they may still arrive; those are
 * reported at the next WELCOME if the server says it lacks them.
 */
function discarded(c: Channel, fromSeq: number, count: number, reason: string): void {
  const end = fromSeq + count
  if (fromSeq < c.sentUpTo) {
    const inflightEnd = Math.min(c.sentUpTo, end)
    let set = c.inflight.get(reason)
    if (!set) {
      set = new SequenceRanges()
      c.inflight.set(reason, set)
    }
    set.addNew(fromSeq, inflightEnd)
    fromSeq = inflightEnd
  }
  if (fromSeq < end) reportDrops(c, fromSeq, end - fromSeq, reason)
}

function reportDrops(c: Channel, from: number, total: number, reason: string): void {
  drops.report(c.index, from, total, reason)
}

// --- ring level: spool or drop when the ring fills ---

function manageLevel(c: Channel): void {
  const consumer = c.consumer
  const used = consumer.usedBytes()
  const capacity = consumer.capacity
  if (c.spoolToOpen && !stopped && !c.moving && performance.now() >= c.spoolRetryAt)
    void reopenSpool(c)
  if (c.spool && !c.spoolFailed) {
    if (used > settings.highWater * capacity && !c.moving && !c.spoolRefused)
      void moveToSpool(c, (settings.highWater - 0.1) * capacity)
    return
  }
  // a failed spool is tried again after its backoff, never in a tight loop
  if (
    c.spool &&
    !stopped &&
    !c.moving &&
    used > settings.highWater * capacity &&
    performance.now() >= c.spoolRetryAt
  ) {
    void moveToSpool(c, (settings.highWater - 0.1) * capacity)
    return
  }
  if (settings.dropPolicy === 'drop-oldest' && used > DROP_MARK * capacity) dropOldestFromRing(c)
}

/** Moves the oldest ring records into the spool until the ring is below `target` bytes. */
async function moveToSpool(c: Channel, target: number): Promise<void> {
  const spool = c.spool!
  const consumer = c.consumer
  c.moving = true
  try {
    while (consumer.usedBytes() > target) {
      const kind = consumer.peekOldest(0xffff_ffff, SPOOL_CHUNK_BYTES)
      if (kind === RUN_KIND.EMPTY) break
      const firstSeq = consumer.releaseSeq
      const { end, count } = consumer
      if (kind === RUN_KIND.GAP) {
        reportDrops(c, firstSeq, count, consumer.gapReason)
        consumer.releaseTo(end, firstSeq + count)
        continue
      }
      if (count === 0) break
      const records = consumer.data.subarray(consumer.start, end)
      try {
        await spool.append(firstSeq, count, records)
      } catch (error) {
        if (!(error instanceof SpoolFullError)) throw error
        // a full disk under drop-newest: retried with backoff, the disk may free up any time
        if (error.kind === 'disk' && settings.dropPolicy === 'drop-newest') throw error
        if (settings.dropPolicy === 'drop-newest') {
          // the ring fills and the producer drops; try again once an ACK frees spool space
          c.spoolRefused = true
          break
        }
        const ranges = await spool.dropOldest(error.bytesNeeded)
        for (const range of ranges) {
          c.dropsSpoolFull += range.count
          discarded(c, range.fromSeq, range.count, 'spool-full')
          if (c.sendSeq >= range.fromSeq && c.sendSeq < range.fromSeq + range.count)
            c.sendSeq = range.fromSeq + range.count
        }
        await spool.append(firstSeq, count, records)
      }
      c.spoolTail = Math.max(c.spoolTail, firstSeq + count)
      c.framesSpooled += count
      spoolRecovered(c)
      c.consumer.markTouched()
      consumer.releaseTo(end, firstSeq + count)
    }
  } catch (error) {
    spoolProblem(c, 'append', error)
  } finally {
    c.moving = false
  }
  if (!c.spoolRefused) schedulePump()
}

function dropOldestFromRing(c: Channel): void {
  const consumer = c.consumer
  const target = DROP_TO * consumer.capacity
  while (consumer.usedBytes() > target) {
    const kind = consumer.peekOldest(0xffff_ffff, 1 << 20)
    if (kind === RUN_KIND.EMPTY || consumer.count === 0) break
    const firstSeq = consumer.releaseSeq
    const { end, count } = consumer
    if (kind === RUN_KIND.GAP) reportDrops(c, firstSeq, count, consumer.gapReason)
    else {
      c.dropsRingOldest += count
      // drop-oldest without a spool: the ring was full all the same
      discarded(c, firstSeq, count, 'ring-full')
    }
    consumer.releaseTo(end, firstSeq + count)
  }
  if (c.sendSeq < consumer.releaseSeq) c.sendSeq = consumer.releaseSeq
}

/** first wait after a spool failure, doubled on each failed retry up to the maximum */
const SPOOL_RETRY_MIN_MS = 1000
const SPOOL_RETRY_MAX_MS = 60_000

/**
 * A spool operation failed (disk full, I/O error, directory gone): logged once per outage
 * with the reason, counted, and retried after a backoff; meanwhile frames stay in the ring.
 */
function spoolProblem(c: Channel, action: string, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error)
  c.spoolErrors++
  c.spoolBackoffMs = c.spoolFailed
    ? Math.min(SPOOL_RETRY_MAX_MS, c.spoolBackoffMs * 2)
    : SPOOL_RETRY_MIN_MS
  c.spoolRetryAt = performance.now() + c.spoolBackoffMs
  const fields = { channel: c.name, error: message, retryInMs: c.spoolBackoffMs }
  if (!c.spoolFailed) {
    workerLog(
      'error',
      `spool ${action} failed; this channel keeps frames in the memory ring and retries the spool with backoff`,
      fields,
    )
  } else {
    workerLog('debug', `spool ${action} failed again`, fields)
  }
  c.spoolFailed = true
}

function spoolRecovered(c: Channel): void {
  if (!c.spoolFailed) return
  c.spoolFailed = false
  c.spoolBackoffMs = 0
  workerLog('info', 'spool usable again', { channel: c.name, errors: c.spoolErrors })
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

// --- statistics ---

function counters(c: Channel): ChannelCounters {
  const r = c.consumer.counters
  return {
    framesSent: r[RING_COUNTER.FRAMES_SENT]!,
    framesAcked: r[RING_COUNTER.FRAMES_ACKED]!,
    ringBytes: c.consumer.usedBytes(),
    spoolBytes: c.spool?.bytes ?? 0,
    spoolFrames: c.spool?.frames ?? 0,
    spoolErrors: c.spoolErrors,
    dropsSpoolFull: c.dropsSpoolFull,
    dropsRingOldest: c.dropsRingOldest,
  }
}

const startedAt = performance.now()

function reportStats(): void {
  const stats = {
    connected: link?.welcomed === true,
    server: reconnector.describe(),
    reconnects: reconnector.reconnects,
    failovers: reconnector.failovers,
    channels: channels.map(counters),
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

interface FlushState {
  deadline: NodeJS.Timeout
  linkLost: boolean
  done: boolean
}
let flushState: FlushState | null = null
let stopped = false

function allAcked(): boolean {
  for (const c of channels) {
    if (c.consumer.usedBytes() > 0) return false
    if (c.spool && c.spool.frames > 0 && !c.spoolFailed) return false
  }
  return true
}

function checkFlushed(): void {
  if (flushState && !flushState.done && allAcked()) void finishFlush('all frames acknowledged')
}

function startFlush(deadlineMs: number): void {
  stopping = true
  reconnector.cancel()
  flushState = {
    deadline: setTimeout(() => void finishFlush(`deadline of ${deadlineMs} ms passed`), deadlineMs),
    linkLost: false,
    done: false,
  }
  if (!link?.welcomed) {
    void finishFlush('not connected')
    return
  }
  schedulePump()
  checkFlushed()
}

async function finishFlush(why: string): Promise<void> {
  const state = flushState!
  if (state.done) return
  state.done = true
  clearTimeout(state.deadline)
  stopped = true
  let unacked = 0
  let spooled = 0
  let lost = 0
  for (const c of channels) {
    while (c.moving) await new Promise((resolve) => setTimeout(resolve, 5))
    const consumer = c.consumer
    const endSeq = consumer.writeSeq()
    unacked += endSeq - consumer.releaseSeq
    if (c.spool && !c.spoolFailed) {
      const before = c.framesSpooled
      c.moving = false
      await moveToSpool(c, 0)
      spooled += c.framesSpooled - before
      if (consumer.usedBytes() > 0) lost += consumer.writeSeq() - consumer.releaseSeq
    } else {
      lost += endSeq - consumer.releaseSeq
    }
    if (c.spool) {
      // also after a spool failure (a disk that was full may take the write now): a state
      // left with the numbering reservation would make the next start skip its numbers
      try {
        // the poll worker has stopped: numbering ends exactly here, no reservation needed
        await c.spool.setNextSeq(endSeq, { exact: true })
        await c.spool.close()
      } catch (error) {
        spoolProblem(c, 'close', error)
      }
    }
  }
  workerLog(lost > 0 ? 'warn' : 'info', 'flushed', { why, unacked, spooled, lost })
  link?.destroy('shutdown')
  post({ type: 'flushed', unacked, spooled, lost })
}

// --- wiring ---

function onPollMessage(message: PollToWrite): void {
  switch (message.type) {
    case 'transmit-result':
      if (link?.welcomed) link.send('TRANSMIT_RESULT', message.result)
      return
    case 'bus-state': {
      const c = channels[message.channel]
      if (!c) return
      c.busState = message.state
      c.busStateTimeMs = message.timeMs
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
