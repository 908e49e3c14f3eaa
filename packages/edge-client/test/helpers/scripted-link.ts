// A scripted Link for the sending side's in-process tests: records every DATA batch (decoded
// at once, the encoder's buffer is reused) and every control message, and hands the encoders
// back only when the test says the "socket" has flushed them.
import {
  type ControlBodies,
  type ControlMessage,
  type ControlTypeName,
  DataBatch,
  HEADER_BYTES,
  type Hello,
  type Welcome,
} from '@canbridge/protocol'
import type { Link, LinkHandlers, LinkProblemKind } from '../../src/link/connection.ts'

/**
 * A link that records the batches written to it; `done` callbacks wait for flush(). Made
 * bare, it is welcomed already (a ChannelSender's view); made by an OpenLink with its
 * handlers, the test plays the server: welcome(), receive(), and closing it.
 */
export class ScriptedLink implements Link {
  welcomed: boolean
  closed = false
  needDrain = false
  /** why it was closed, once it was */
  closedBecause: string | undefined
  readonly hello: Hello | undefined
  readonly #handlers: LinkHandlers | undefined
  /** every DATA batch, in the order written: channel, first sequence, and each frame's n */
  readonly batches: { channel: number; firstSeq: number; frames: { seq: number; n: number }[] }[] =
    []
  readonly controls: { type: ControlTypeName; body: unknown }[] = []
  readonly #pending: (() => void)[] = []

  constructor(opened?: { hello: Hello; handlers: LinkHandlers }) {
    this.hello = opened?.hello
    this.#handlers = opened?.handlers
    this.welcomed = opened === undefined
  }

  /** The server's WELCOME arrives. */
  welcome(welcome: Welcome): void {
    this.welcomed = true
    this.#handlers?.onWelcome(welcome)
  }

  /** A server message after WELCOME arrives. */
  receive(message: Exclude<ControlMessage, { type: 'WELCOME' }>): void {
    this.#handlers?.onMessage(message)
  }

  /** onClose once more, as a late event of a link already replaced would arrive. */
  lateClose(reason: string): void {
    this.#handlers?.onClose(reason, this.welcomed, 'closed')
  }

  /** The socket drained after reporting backpressure. */
  drain(): void {
    this.needDrain = false
    this.#handlers?.onDrain()
  }

  cork(): void {}
  uncork(): void {}

  write(bytes: Uint8Array, done?: () => void): boolean {
    if (this.closed) throw new Error('write on a closed link')
    // decoded now: the encoder's buffer is reused once `done` runs
    const batch = DataBatch.parse(bytes.subarray(HEADER_BYTES))
    const frames: { seq: number; n: number }[] = []
    const reader = batch.reader()
    while (reader.next()) frames.push({ seq: reader.seq, n: frameNumber(reader.data()) })
    this.batches.push({ channel: batch.channel, firstSeq: batch.firstSeq, frames })
    if (done) this.#pending.push(done)
    return !this.needDrain
  }

  send<K extends ControlTypeName>(type: K, body: ControlBodies[K]): boolean {
    this.controls.push({ type, body })
    return true
  }

  destroy(reason = 'destroyed', kind: LinkProblemKind = 'local'): void {
    if (this.closed) return
    this.closed = true
    this.closedBecause = reason
    this.#handlers?.onClose(reason, this.welcomed, kind)
  }

  /** The socket took everything written so far: the encoders go back to the pool. */
  flush(): void {
    for (const done of this.#pending.splice(0)) done()
  }

  /** Sequence numbers of every frame received, in order. */
  get seqs(): number[] {
    return this.batches.flatMap((b) => b.frames.map((f) => f.seq))
  }
}

/** Frame `n` as the tests write it: its first 4 data bytes hold n (little-endian). */
export function frameNumber(data: Uint8Array): number {
  return new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true)
}
