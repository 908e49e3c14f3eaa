// Stores one edge channel's DATA batches in JetStream, in order, each exactly once. What is
// stored is read back from the stream (the channel subject's newest message), never taken
// from memory, so a gateway can restart or an edge move to another gateway without loss or
// duplicates. Every publish names the subject's last stream sequence it expects: a second
// writer on the same channel makes it fail (JetStream 10071) instead of interleaving, and
// the publisher then re-reads the truth. A batch whose outcome is unknown (time-out, NATS
// away) is retried with the same message id, which JetStream dedupes.
import {
  BATCH_HEADER_BYTES,
  DataBatch,
  MAX_BATCH_FRAMES,
  writeBatchHeader,
} from '@canbridge/protocol'
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import { headers as natsHeaders } from '@nats-io/transport-node'
import { BATCH_HEADER, batchMessageId } from './batch-headers.ts'
import { FLEET_ERROR, FleetError } from './errors.ts'

/** JetStream: the expected last subject sequence did not match */
const WRONG_LAST_SEQUENCE = 10071
const RETRY_FIRST_MS = 50
const RETRY_MAX_MS = 2000

/** Frames and bytes in one stored message at most (a DATA batch's own limit, and room to spare). */
const MERGE_MAX_FRAMES = MAX_BATCH_FRAMES
const MERGE_MAX_BYTES = 256 * 1024

interface Waiting {
  batch: DataBatch
  instanceId: string
  resolve: () => void
  reject: (error: unknown) => void
}

/** The waiting batches that follow one another without a gap, within the limits. */
function takeConsecutive(waiting: Waiting[]): Waiting[] {
  let frames = waiting[0]!.batch.count
  let bytes = waiting[0]!.batch.body.length
  let end = 1
  for (; end < waiting.length; end++) {
    const previous = waiting[end - 1]!
    const next = waiting[end]!
    if (next.batch.firstSeq !== previous.batch.firstSeq + previous.batch.count) break
    if (next.instanceId !== previous.instanceId) break
    if (frames + next.batch.count > MERGE_MAX_FRAMES) break
    if (bytes + next.batch.body.length - BATCH_HEADER_BYTES > MERGE_MAX_BYTES) break
    frames += next.batch.count
    bytes += next.batch.body.length - BATCH_HEADER_BYTES
  }
  return waiting.splice(0, end)
}

/** Consecutive batches as one: the first's header with the total count, then every record. */
function merge(batches: DataBatch[]): DataBatch {
  let length = BATCH_HEADER_BYTES
  let count = 0
  for (const batch of batches) {
    length += batch.body.length - BATCH_HEADER_BYTES
    count += batch.count
  }
  const first = batches[0]!
  const body = new Uint8Array(length)
  writeBatchHeader(body, first.channel, count, first.firstSeq)
  let offset = BATCH_HEADER_BYTES
  for (const batch of batches) {
    body.set(batch.body.subarray(BATCH_HEADER_BYTES), offset)
    offset += batch.body.length - BATCH_HEADER_BYTES
  }
  return DataBatch.parse(body)
}

export interface ChannelPublisherOptions {
  js: JetStreamClient
  jsm: JetStreamManager
  stream: string
  subject: string
  edgeId: string
  channel: string
  /** this gateway's name, stored with each batch for the operator */
  gateway: string
  /** how long one publish may wait for its acknowledgement before it is retried */
  publishTimeoutMs?: number
}

export class ChannelPublisher {
  readonly subject: string
  #options: ChannelPublisherOptions
  /** stream sequence of the subject's newest message: what the next publish expects */
  #lastStreamSeq = 0
  /** the edge sequence of the newest frame stored; -1 before any */
  #storedThrough = -1
  #tail: Promise<void> = Promise.resolve()
  #closed = false
  /** batches waiting for their publish, oldest first */
  #waiting: Waiting[] = []
  #draining = false
  /** publishes retried because their outcome was unknown, and conflicts re-read */
  retries = 0
  conflicts = 0

  constructor(options: ChannelPublisherOptions) {
    this.#options = options
    this.subject = options.subject
  }

  /** Sequence of the newest frame stored for this channel; -1 when none. */
  get storedThrough(): number {
    return this.#storedThrough
  }

  /**
   * Reads what the stream holds for this channel, after the batches queued before it are
   * stored; returns the next sequence the stream expects.
   */
  resume(): Promise<number | null> {
    const read = this.#tail.then(() => this.#read())
    this.#tail = read.then(
      () => {},
      () => {},
    )
    return read
  }

  async #read(): Promise<number | null> {
    const { jsm, stream, subject } = this.#options
    const last = await jsm.streams.getMessage(stream, { last_by_subj: subject })
    if (last === null) {
      this.#lastStreamSeq = 0
      this.#storedThrough = -1
      return null
    }
    const lastSeq = Number(last.header?.get(BATCH_HEADER.LAST_SEQ))
    if (!Number.isSafeInteger(lastSeq) || lastSeq < 0) {
      throw new FleetError(
        FLEET_ERROR.BAD_MESSAGE,
        `the newest message on ${subject} (stream sequence ${last.seq}) has no ${BATCH_HEADER.LAST_SEQ} header: not written by canbridge`,
      )
    }
    this.#lastStreamSeq = last.seq
    this.#storedThrough = lastSeq
    return lastSeq + 1
  }

  /**
   * Queues a batch; resolves once every frame of it is stored (now or before). Batches are
   * stored in the order given; consecutive ones waiting together go out as one message (a
   * channel has one publish in flight, so under load this is what keeps up). The body is
   * copied: the caller may reuse its buffer.
   */
  store(batch: DataBatch, instanceId: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ batch: batch.tail(0), instanceId, resolve, reject })
      if (this.#draining) return
      this.#draining = true
      this.#tail = this.#tail.then(() => this.#drain())
    })
  }

  async #drain(): Promise<void> {
    while (this.#waiting.length > 0) {
      const group = takeConsecutive(this.#waiting)
      const batch = group.length === 1 ? group[0]!.batch : merge(group.map((g) => g.batch))
      try {
        await this.#storeNow(batch, group[0]!.instanceId)
        for (const waiting of group) waiting.resolve()
      } catch (error) {
        for (const waiting of group) waiting.reject(error)
      }
    }
    this.#draining = false
  }

  /** Stops retrying; queued batches fail with CLOSED. */
  close(): void {
    this.#closed = true
  }

  async #storeNow(batch: DataBatch, instanceId: string): Promise<void> {
    const lastSeq = batch.firstSeq + batch.count - 1
    if (lastSeq <= this.#storedThrough) return // a resend of what is stored
    const fresh =
      batch.firstSeq <= this.#storedThrough
        ? batch.tail(this.#storedThrough + 1 - batch.firstSeq)
        : batch
    const { js, edgeId, channel, gateway, subject, publishTimeoutMs } = this.#options
    const headers = natsHeaders()
    headers.set(BATCH_HEADER.EDGE, edgeId)
    headers.set(BATCH_HEADER.CHANNEL, channel)
    headers.set(BATCH_HEADER.INSTANCE, instanceId)
    headers.set(BATCH_HEADER.FIRST_SEQ, String(fresh.firstSeq))
    headers.set(BATCH_HEADER.LAST_SEQ, String(lastSeq))
    headers.set(BATCH_HEADER.GATEWAY, gateway)
    const msgID = batchMessageId(edgeId, channel, fresh.firstSeq)
    let delay = RETRY_FIRST_MS
    for (;;) {
      if (this.#closed) throw new FleetError(FLEET_ERROR.CLOSED, `publisher for ${subject} closed`)
      try {
        const ack = await js.publish(subject, fresh.body, {
          msgID,
          headers,
          expect: { lastSubjectSequence: this.#lastStreamSeq },
          timeout: publishTimeoutMs ?? 5000,
        })
        if (ack.duplicate) {
          // this id was stored before: our own earlier try, or another writer's batch
          await this.#read()
          this.#refuseUnstored(fresh.firstSeq, lastSeq, undefined)
          return
        }
        this.#lastStreamSeq = ack.seq
        this.#storedThrough = lastSeq
        return
      } catch (error) {
        if ((error as { code?: number }).code === WRONG_LAST_SEQUENCE) {
          // someone else wrote this channel since we read it: learn what is stored
          this.conflicts++
          await this.#read()
          this.#refuseUnstored(fresh.firstSeq, lastSeq, error)
          return
        }
        if (error instanceof FleetError) throw error
        // time-out or NATS away: the outcome is unknown; the same id makes a retry safe
        this.retries++
        await new Promise((resolve) => setTimeout(resolve, delay))
        delay = Math.min(delay * 2, RETRY_MAX_MS)
      }
    }
  }

  /** After a re-read: fine if the batch is stored; a conflict if someone else wrote here. */
  #refuseUnstored(firstSeq: number, lastSeq: number, cause: unknown): void {
    if (lastSeq <= this.#storedThrough) return
    throw new FleetError(
      FLEET_ERROR.PUBLISH_CONFLICT,
      `another writer stored ${this.subject} through sequence ${this.#storedThrough} while this gateway was storing ${firstSeq}..${lastSeq}: the edge must resume from the stream`,
      { cause },
    )
  }
}
