// One channel's sending side in the socket-write worker: DATA batches from its ring (spool
// first after an outage), where to resume after a WELCOME, ring and spool freed on ACK,
// unacknowledged frames moved to the spool when the ring passes its high-water mark,
// drop-oldest, the spool's sequence lease and its failures. Owns that state; the worker
// hands it the link once welcomed and calls pump() on it.
import {
  BATCH_HEADER_BYTES,
  HEADER_BYTES,
  MAX_BATCH_FRAMES,
  MAX_FD_LENGTH,
  RECORD_HEADER_BYTES,
  SequenceRanges,
} from '@canbridge/protocol'
import type { DropPolicy } from '../config.ts'
import type { Link } from '../link/connection.ts'
import type { ChannelCounters, LogLevel } from '../messages.ts'
import { RING_COUNTER, type RingConsumer, RUN_KIND } from '../ring.ts'
import { Spool, SpoolFullError, type SpoolIoError } from '../spool/index.ts'
import { workerLog } from '../worker-log.ts'
import type { DropReporter } from './drop-reporter.ts'
import { type EncoderPool, MAX_BATCH_BYTES } from './encoder-pool.ts'

/** most bytes moved to the spool in one append */
const SPOOL_CHUNK_BYTES = 256 * 1024
/** without a spool, drop-oldest frees the ring down to this fill once it passes DROP_MARK */
export const DROP_MARK = 0.9
export const DROP_TO = 0.75
/** a CAN FD record of 64 bytes */
const LARGEST_RECORD_BYTES = RECORD_HEADER_BYTES + MAX_FD_LENGTH
/**
 * Sequence numbers reserved in the spool ahead of the ring's numbering, renewed when half
 * are used (one state write per SEQ_LEASE / 2 frames): after a crash numbering resumes past
 * every number the dead process may have given a frame, so the frames lost with its memory
 * ring show at the server as a gap (of at most SEQ_LEASE more than were lost) instead of
 * being replaced, silently, by new frames under the same numbers.
 */
export const SEQ_LEASE = 65_536
/** first wait after a spool failure, doubled on each failed retry up to the maximum */
export const SPOOL_RETRY_MIN_MS = 1000
const SPOOL_RETRY_MAX_MS = 60_000

export type SenderLog = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void

/** A spool that could not be opened at start: opened again with the spool's backoff. */
export interface SpoolToOpen {
  dir: string
  open(): Promise<Spool | SpoolIoError>
}

export interface ChannelSenderOptions {
  index: number
  name: string
  fd: boolean
  consumer: RingConsumer
  /** null without a spool, or while `spoolToOpen` is still to be opened */
  spool: Spool | null
  spoolToOpen?: SpoolToOpen | null
  /** fraction of the ring above which unacknowledged records move to the spool */
  highWater: number
  dropPolicy: DropPolicy
  /** where lost ranges go (DROPS), and where acknowledged ones are forgotten */
  drops: Pick<DropReporter, 'report' | 'forgetBelow'>
  /** the DATA encoders, shared by every channel */
  encoders: EncoderPool
  /** asks for another pump soon (an async step finished, room came back) */
  wake(): void
  log?: SenderLog
  /** clock in milliseconds for the spool's backoff (tests inject one) */
  now?: () => number
}

/** What a shutdown flush did with one channel's frames. */
export interface FlushResult {
  unacked: number
  spooled: number
  lost: number
}

export class ChannelSender {
  readonly index: number
  readonly name: string
  readonly fd: boolean
  readonly consumer: RingConsumer
  readonly #highWater: number
  readonly #dropPolicy: DropPolicy
  readonly #drops: ChannelSenderOptions['drops']
  readonly #encoders: EncoderPool
  readonly #wake: () => void
  readonly #log: SenderLog
  readonly #now: () => number
  #spool: Spool | null
  #spoolToOpen: SpoolToOpen | null
  /** the welcomed link sends go to; null while disconnected */
  #link: Link | null = null
  /** sequence after the newest frame in the spool (upper bound) */
  #spoolTail: number
  /** next sequence to send on the current connection */
  #sendSeq: number
  /** a spool read or move is in flight */
  #reading = false
  #moving = false
  /** drop-newest: the spool refused the last move (full); no retry until it frees space */
  #spoolRefused = false
  /** highest acknowledgement seen (-1 before the first) */
  #ackedSeq = -1
  /** sequence after the newest frame ever handed to a connection */
  #sentUpTo = 0
  /**
   * frames discarded after being handed to a connection, by reason: reported only if the
   * next WELCOME shows the server lacks them
   */
  readonly #inflight = new Map<string, SequenceRanges>()
  #framesSpooled = 0
  #dropsSpoolFull = 0
  #dropsRingOldest = 0
  /**
   * the last spool operation failed: the channel holds frames in the ring (dropping by
   * the policy only when it is full) and tries the spool again at #spoolRetryAt
   */
  #spoolFailed: boolean
  #spoolRetryAt: number
  #spoolBackoffMs: number
  #spoolErrors: number
  /** numbering reserved in the spool up to here (SEQ_LEASE); a renewal is in flight */
  #leasedTo = 0
  #leasing = false
  /** shutdown: no spool retries, reopens or leases any more */
  #stopped = false
  /** async spool work in flight (moves, reads, leases), for idle() */
  readonly #work = new Set<Promise<unknown>>()

  constructor(options: ChannelSenderOptions) {
    if (!(options.highWater > 0 && options.highWater <= 1))
      throw new RangeError(`highWater: expected a fraction in (0, 1], got ${options.highWater}`)
    this.index = options.index
    this.name = options.name
    this.fd = options.fd
    this.consumer = options.consumer
    this.#highWater = options.highWater
    this.#dropPolicy = options.dropPolicy
    this.#drops = options.drops
    this.#encoders = options.encoders
    this.#wake = options.wake
    this.#log = options.log ?? workerLog
    this.#now = options.now ?? (() => performance.now())
    this.#spool = options.spool
    this.#spoolToOpen = options.spoolToOpen ?? null
    this.#spoolTail = options.spool?.nextSeq ?? 0
    this.#sendSeq = options.consumer.releaseSeq
    const toOpen = this.#spoolToOpen !== null
    this.#spoolFailed = toOpen
    this.#spoolRetryAt = toOpen ? this.#now() + SPOOL_RETRY_MIN_MS : 0
    this.#spoolBackoffMs = toOpen ? SPOOL_RETRY_MIN_MS : 0
    this.#spoolErrors = toOpen ? 1 : 0
  }

  get spool(): Spool | null {
    return this.#spool
  }

  /** The oldest sequence still held: where a server without history resumes. */
  oldestHeld(): number {
    const first = this.#spool?.firstSeq
    return first === null || first === undefined
      ? this.consumer.releaseSeq
      : Math.min(first, this.consumer.releaseSeq)
  }

  /** Nothing left to deliver: the ring is empty and a usable spool holds no frames. */
  get drained(): boolean {
    if (this.consumer.usedBytes() > 0) return false
    return !(this.#spool && this.#spool.frames > 0 && !this.#spoolFailed)
  }

  /**
   * A link was welcomed: positions the channel where the server's WELCOME says (`serverNext`,
   * null when it names none), frees what the server holds and sends the rest from there.
   */
  resume(link: Link, serverNext: number | null): void {
    this.#link = link
    const consumer = this.consumer
    if (serverNext !== null && !consumer.touched && serverNext > consumer.releaseSeq) {
      // The server holds numbers this process never sent (its spool state was lost, or no
      // spool): continue after them instead of having the server discard our frames.
      this.#log('warn', 'server is ahead of this edge; continuing at its sequence', {
        channel: this.name,
        from: consumer.releaseSeq,
        to: serverNext,
      })
      consumer.rebase(serverNext)
      const spool = this.#spool
      if (spool && serverNext > spool.nextSeq) {
        this.#track(
          spool
            .setNextSeq(serverNext)
            .catch((error: unknown) => this.#spoolProblem('setNextSeq', error)),
        )
      }
    }
    consumer.markTouched()
    const oldest = this.oldestHeld()
    if (this.#ackedSeq < 0) this.#ackedSeq = oldest
    let from = oldest
    if (serverNext !== null) {
      if (serverNext > oldest) this.release(serverNext)
      else if (serverNext < oldest) {
        this.#log('info', 'server lacks frames this edge no longer holds', {
          channel: this.name,
          serverNextSeq: serverNext,
          oldestHeld: oldest,
        })
        for (const [reason, set] of this.#inflight) {
          for (const [from, to] of set.intersect(serverNext, oldest))
            this.#reportDrops(from, to - from, reason)
        }
      }
      from = Math.max(serverNext, oldest)
    }
    this.#sendSeq = from
    consumer.seek(Math.max(from, consumer.releaseSeq))
  }

  /** The link is gone: nothing more goes to it; the next resume() says where to go on. */
  disconnected(): void {
    this.#link = null
  }

  /** Everything below `seq` is held by the server (an ACK): free it in spool and ring. */
  release(seq: number): void {
    const consumer = this.consumer
    if (consumer.cursorSeq < seq) consumer.seek(seq)
    consumer.release(seq)
    this.#drops.forgetBelow(this.index, seq)
    for (const set of this.#inflight.values()) set.forgetBelow(seq)
    if (seq > this.#ackedSeq) {
      // sequence numbers acknowledged (a gap's numbers count too: the server moved past them)
      if (this.#ackedSeq >= 0) consumer.counters[RING_COUNTER.FRAMES_ACKED]! += seq - this.#ackedSeq
      this.#ackedSeq = seq
    }
    const spool = this.#spool
    // while a move is in flight the spool may not count its frames yet, but the ACK may cover
    // them (they were sent from the ring meanwhile): released after that append, in queue order
    if (spool && (spool.frames > 0 || this.#moving)) {
      const upTo = Math.min(seq, consumer.releaseSeq)
      if (upTo > spool.ackSeq) {
        this.#track(
          spool.release(upTo).then(
            () => {
              this.#spoolRefused = false
              // space came back (a full disk): try the spool again now, not after the backoff
              this.#spoolRetryAt = 0
            },
            (error: unknown) => this.#spoolProblem('release', error),
          ),
        )
      }
    }
  }

  /** Sends one DATA batch to the welcomed link if there is something; true when it wrote. */
  sendOne(): boolean {
    const l = this.#link
    if (l === null || this.#reading) return false
    const spool = this.#spool
    if (spool && spool.frames > 0 && this.#sendSeq < this.#spoolTail) {
      this.#reading = true
      this.#track(
        spool
          .read(
            this.#sendSeq,
            MAX_BATCH_FRAMES,
            MAX_BATCH_BYTES - HEADER_BYTES - BATCH_HEADER_BYTES,
          )
          .then((chunk) => {
            this.#reading = false
            if (this.#link !== l || l.closed) return // a result for a connection gone since
            if (chunk === null) {
              this.#spoolTail = this.#sendSeq // nothing more there: the ring has the rest
            } else {
              const replay = this.#encoders.replay
              replay.begin(this.index, chunk.firstSeq)
              replay.addEncoded(chunk.records, chunk.count)
              l.write(Buffer.from(replay.finish()))
              this.#sent(chunk.firstSeq, chunk.count)
              this.#sendSeq = chunk.firstSeq + chunk.count
            }
            this.#wake()
          })
          .catch((error: unknown) => {
            this.#reading = false
            this.#spoolProblem('read', error)
            this.#spoolTail = this.#sendSeq
            this.#wake()
          }),
      )
      return false
    }
    const consumer = this.consumer
    if (consumer.cursorSeq !== this.#sendSeq) {
      consumer.seek(this.#sendSeq)
      this.#sendSeq = consumer.cursorSeq
    }
    const encoder = this.#encoders.peek()
    if (encoder === undefined) return false
    let open = false
    for (;;) {
      const room = MAX_BATCH_BYTES - (open ? encoder.byteLength : HEADER_BYTES + BATCH_HEADER_BYTES)
      const kind = consumer.peek(MAX_BATCH_FRAMES - (open ? encoder.count : 0), room)
      if (kind === RUN_KIND.EMPTY) break
      if (kind === RUN_KIND.GAP) {
        if (open) break // a gap ends a batch: its sequence numbers are not sent
        this.#reportDrops(consumer.cursorSeq, consumer.count, consumer.gapReason)
        consumer.advance()
        this.#sendSeq = consumer.cursorSeq
        continue
      }
      if (consumer.count === 0) break
      if (!open) {
        encoder.begin(this.index, consumer.cursorSeq)
        open = true
      }
      encoder.addEncoded(consumer.data.subarray(consumer.start, consumer.end), consumer.count)
      consumer.advance()
    }
    if (!open || encoder.count === 0) return false
    this.#encoders.lend(encoder)
    const count = encoder.count
    l.write(encoder.finish(), () => this.#encoders.giveBack(encoder))
    this.#sent(consumer.cursorSeq - count, count)
    this.#sendSeq = consumer.cursorSeq
    return true
  }

  /** After the sends of a pump: the ring's level, a trailing gap, the lease. */
  maintain(): void {
    this.#manageLevel()
    this.#reportTrailingGap()
    this.#renewLease()
  }

  /** Settles once no spool work (move, read, release, lease) is in flight. */
  async idle(): Promise<void> {
    while (this.#work.size > 0) await Promise.allSettled([...this.#work])
  }

  counters(): ChannelCounters {
    const r = this.consumer.counters
    return {
      framesSent: r[RING_COUNTER.FRAMES_SENT]!,
      framesAcked: r[RING_COUNTER.FRAMES_ACKED]!,
      ringBytes: this.consumer.usedBytes(),
      spoolBytes: this.#spool?.bytes ?? 0,
      spoolFrames: this.#spool?.frames ?? 0,
      spoolErrors: this.#spoolErrors,
      dropsSpoolFull: this.#dropsSpoolFull,
      dropsRingOldest: this.#dropsRingOldest,
    }
  }

  /** Shutdown begins: no spool retries, reopens or lease renewals from here on. */
  stop(): void {
    this.#stopped = true
  }

  /**
   * Shutdown, after stop() and once the poll worker has stopped: what the server has not
   * acknowledged goes to the spool (or counts as lost without one), and the spool closes
   * with its numbering ending exactly where the ring's does.
   */
  async flush(): Promise<FlushResult> {
    while (this.#moving) await new Promise((resolve) => setTimeout(resolve, 5))
    const consumer = this.consumer
    const endSeq = consumer.writeSeq()
    const unacked = endSeq - consumer.releaseSeq
    const spool = this.#spool
    if (!spool) return { unacked, spooled: 0, lost: unacked }
    let spooled = 0
    let lost = unacked
    if (!this.#spoolFailed) {
      const before = this.#framesSpooled
      this.#moving = false
      await this.#moveToSpool(0)
      spooled = this.#framesSpooled - before
      lost = consumer.usedBytes() > 0 ? consumer.writeSeq() - consumer.releaseSeq : 0
    }
    // also after a spool failure (a disk that was full may take the write now): a state
    // left with the numbering reservation would make the next start skip its numbers
    try {
      // the poll worker has stopped: numbering ends exactly here, no reservation needed
      await spool.setNextSeq(endSeq, { exact: true })
      await spool.close()
    } catch (error) {
      this.#spoolProblem('close', error)
    }
    return { unacked, spooled, lost }
  }

  #track(work: Promise<unknown>): void {
    this.#work.add(work)
    const done = () => this.#work.delete(work)
    work.then(done, done) // failures are handled where the work was made
  }

  #sent(firstSeq: number, count: number): void {
    this.consumer.counters[RING_COUNTER.FRAMES_SENT]! += count
    this.#sentUpTo = Math.max(this.#sentUpTo, firstSeq + count)
    this.consumer.markTouched()
  }

  /**
   * Frames the edge discards (spool full, ring full without spool): reported now unless
   * they were already handed to a connection, where they may still arrive; those are
   * reported at the next WELCOME if the server says it lacks them.
   */
  #discarded(fromSeq: number, count: number, reason: string): void {
    const end = fromSeq + count
    if (fromSeq < this.#sentUpTo) {
      const inflightEnd = Math.min(this.#sentUpTo, end)
      let set = this.#inflight.get(reason)
      if (!set) {
        set = new SequenceRanges()
        this.#inflight.set(reason, set)
      }
      set.addNew(fromSeq, inflightEnd)
      fromSeq = inflightEnd
    }
    if (fromSeq < end) this.#reportDrops(fromSeq, end - fromSeq, reason)
  }

  #reportDrops(from: number, total: number, reason: string): void {
    this.#drops.report(this.index, from, total, reason)
  }

  /** Drops after the last frame read are reported once the cursor gets there, not later. */
  #reportTrailingGap(): void {
    const count = this.consumer.trailingGap()
    if (count > 0) this.#reportDrops(this.consumer.cursorSeq, count, 'ring-full')
  }

  /** Keeps the spool's reservation SEQ_LEASE / 2 or more ahead of the ring's numbering. */
  #renewLease(): void {
    const spool = this.#spool
    if (spool === null || this.#spoolFailed || this.#leasing || this.#stopped) return
    const numbered = this.consumer.numberedSeq()
    if (numbered + SEQ_LEASE / 2 <= this.#leasedTo) return
    const upTo = numbered + SEQ_LEASE
    this.#leasing = true
    this.#track(
      spool
        .reserve(upTo)
        .then(
          () => {
            this.#leasedTo = upTo
          },
          (error: unknown) => this.#spoolProblem('reserve', error),
        )
        .finally(() => {
          this.#leasing = false
        }),
    )
  }

  // --- ring level: spool or drop when the ring fills ---

  #manageLevel(): void {
    const consumer = this.consumer
    const used = consumer.usedBytes()
    const capacity = consumer.capacity
    if (this.#spoolToOpen && !this.#stopped && !this.#moving && this.#now() >= this.#spoolRetryAt)
      this.#track(this.#reopenSpool())
    const target = (this.#highWater - 0.1) * capacity
    if (this.#spool && !this.#spoolFailed) {
      if (used > this.#highWater * capacity && !this.#moving && !this.#spoolRefused)
        this.#track(this.#moveToSpool(target))
      return
    }
    // a failed spool is tried again after its backoff, never in a tight loop
    if (
      this.#spool &&
      !this.#stopped &&
      !this.#moving &&
      used > this.#highWater * capacity &&
      this.#now() >= this.#spoolRetryAt
    ) {
      this.#track(this.#moveToSpool(target))
      return
    }
    if (this.#dropPolicy === 'drop-oldest' && used > DROP_MARK * capacity)
      this.#dropOldestFromRing()
  }

  /** Moves the oldest ring records into the spool until the ring is below `target` bytes. */
  async #moveToSpool(target: number): Promise<void> {
    const spool = this.#spool!
    const consumer = this.consumer
    this.#moving = true
    try {
      while (consumer.usedBytes() > target) {
        const kind = consumer.peekOldest(0xffff_ffff, SPOOL_CHUNK_BYTES)
        if (kind === RUN_KIND.EMPTY) break
        const firstSeq = consumer.releaseSeq
        const { end, count } = consumer
        if (kind === RUN_KIND.GAP) {
          this.#reportDrops(firstSeq, count, consumer.gapReason)
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
          if (error.kind === 'disk' && this.#dropPolicy === 'drop-newest') throw error
          if (this.#dropPolicy === 'drop-newest') {
            // the ring fills and the producer drops; try again once an ACK frees spool space
            this.#spoolRefused = true
            break
          }
          const ranges = await spool.dropOldest(error.bytesNeeded)
          for (const range of ranges) {
            this.#dropsSpoolFull += range.count
            this.#discarded(range.fromSeq, range.count, 'spool-full')
            if (this.#sendSeq >= range.fromSeq && this.#sendSeq < range.fromSeq + range.count)
              this.#sendSeq = range.fromSeq + range.count
          }
          await spool.append(firstSeq, count, records)
        }
        this.#spoolTail = Math.max(this.#spoolTail, firstSeq + count)
        this.#framesSpooled += count
        this.#spoolRecovered()
        consumer.markTouched()
        consumer.releaseTo(end, firstSeq + count)
      }
    } catch (error) {
      this.#spoolProblem('append', error)
    } finally {
      this.#moving = false
    }
    if (!this.#spoolRefused) this.#wake()
  }

  #dropOldestFromRing(): void {
    const consumer = this.consumer
    const target = DROP_TO * consumer.capacity
    while (consumer.usedBytes() > target) {
      // what takes the ring down to the target, at most one record past it (a whole run
      // would be up to all of it): records fitting in excess + a largest record - 1 reach it
      const excess = Math.ceil(consumer.usedBytes() - target)
      const kind = consumer.peekOldest(0xffff_ffff, excess + LARGEST_RECORD_BYTES - 1)
      if (kind === RUN_KIND.EMPTY || consumer.count === 0) break
      const firstSeq = consumer.releaseSeq
      const { end, count } = consumer
      if (kind === RUN_KIND.GAP) this.#reportDrops(firstSeq, count, consumer.gapReason)
      else {
        this.#dropsRingOldest += count
        // drop-oldest without a spool: the ring was full all the same
        this.#discarded(firstSeq, count, 'ring-full')
      }
      consumer.releaseTo(end, firstSeq + count)
    }
    if (this.#sendSeq < consumer.releaseSeq) this.#sendSeq = consumer.releaseSeq
  }

  /** A spool that could not be opened at start, tried again (its disk may take writes now). */
  async #reopenSpool(): Promise<void> {
    const toOpen = this.#spoolToOpen!
    this.#moving = true
    try {
      const opened = await toOpen.open()
      if (!(opened instanceof Spool)) {
        this.#spoolProblem('open', opened)
        return
      }
      this.#spoolToOpen = null
      // frames from an earlier run under numbers this run gave out again must not be replayed
      if (opened.frames > 0 || opened.nextSeq > this.consumer.releaseSeq) {
        await opened.close()
        this.#log(
          'error',
          'the spool holds frames numbered like this run: not used until the edge restarts',
          {
            channel: this.name,
            dir: toOpen.dir,
            spoolNextSeq: opened.nextSeq,
            ringSeq: this.consumer.releaseSeq,
          },
        )
        return
      }
      this.#spool = opened
      this.#spoolTail = opened.nextSeq
      logSpoolOpened(opened, this.name, this.#log)
      this.#spoolRecovered()
    } catch (error) {
      this.#spoolProblem('open', error)
    } finally {
      this.#moving = false
    }
  }

  /**
   * A spool operation failed (disk full, I/O error, directory gone): logged once per outage
   * with the reason, counted, and retried after a backoff; meanwhile frames stay in the ring.
   */
  #spoolProblem(action: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error)
    this.#spoolErrors++
    this.#spoolBackoffMs = this.#spoolFailed
      ? Math.min(SPOOL_RETRY_MAX_MS, this.#spoolBackoffMs * 2)
      : SPOOL_RETRY_MIN_MS
    this.#spoolRetryAt = this.#now() + this.#spoolBackoffMs
    const fields = { channel: this.name, error: message, retryInMs: this.#spoolBackoffMs }
    if (!this.#spoolFailed) {
      this.#log(
        'error',
        `spool ${action} failed; this channel keeps frames in the memory ring and retries the spool with backoff`,
        fields,
      )
    } else {
      this.#log('debug', `spool ${action} failed again`, fields)
    }
    this.#spoolFailed = true
  }

  #spoolRecovered(): void {
    if (!this.#spoolFailed) return
    this.#spoolFailed = false
    this.#spoolBackoffMs = 0
    this.#log('info', 'spool usable again', { channel: this.name, errors: this.#spoolErrors })
  }
}

/** The log line of a spool opened (at start, or later after a failed open). */
export function logSpoolOpened(spool: Spool, channel: string, log: SenderLog = workerLog): void {
  const { recovery } = spool
  log(recovery.problems.length > 0 ? 'warn' : 'info', 'spool opened', {
    channel,
    dir: spool.dir,
    frames: spool.frames,
    bytes: spool.bytes,
    firstSeq: spool.firstSeq,
    nextSeq: spool.nextSeq,
    problems: recovery.problems,
  })
}
