// Helpers to feed a Decoder and look at what it produced, for tests on both ends. They do
// not depend on a test framework: they return values and errors for the test to assert.
import type { DecodedMessage, Decoder } from '../decoder.ts'

/** A frame with its payload as a plain array, easy to compare and to print. */
export interface PlainFrame {
  seq: number
  timestampNs: bigint
  id: number
  flags: number
  len: number
  data: number[]
}

/**
 * A decoded message as plain data: binary fields become number arrays, a DATA batch
 * becomes its header fields and frames (with sequence numbers). Call it on each message
 * as it arrives: batches and binary fields view the decoder's input.
 */
export type PlainMessage =
  | { type: 'DATA'; channel: number; firstSeq: number; count: number; frames: PlainFrame[] }
  | { type: Exclude<DecodedMessage['type'], 'DATA'>; body: unknown }

export function plainMessage(message: DecodedMessage): PlainMessage {
  if (message.type === 'DATA') {
    const { batch } = message
    return {
      type: 'DATA',
      channel: batch.channel,
      firstSeq: batch.firstSeq,
      count: batch.count,
      frames: batch.frames().map((frame, i) => ({
        seq: batch.firstSeq + i,
        timestampNs: frame.timestampNs,
        id: frame.id,
        flags: frame.flags,
        len: frame.len,
        data: Array.from(frame.data),
      })),
    }
  }
  return { type: message.type, body: plainValue(message.body) }
}

/** Copies a decoded value, turning byte arrays into number arrays (deeply). */
export function plainValue(value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value)
  if (Array.isArray(value)) return value.map(plainValue)
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) out[key] = plainValue(item)
    return out
  }
  return value
}

export interface FeedResult {
  /** every message delivered, as plain data, in order */
  messages: PlainMessage[]
  /** what write() or end() threw, if anything */
  error: unknown
}

/**
 * Writes the chunks to the decoder in order (then calls `end()` unless told not to) and
 * collects the messages. Stops at the first throw and returns it: the messages delivered
 * before the failure are kept.
 */
export function feed(decoder: Decoder, chunks: Iterable<Uint8Array>, end = true): FeedResult {
  const messages: PlainMessage[] = []
  try {
    for (const chunk of chunks)
      decoder.write(chunk, (message) => messages.push(plainMessage(message)))
    if (end) decoder.end()
  } catch (error) {
    return { messages, error }
  }
  return { messages, error: undefined }
}

/** Runs `fn` and returns what it threw, or undefined. */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn()
  } catch (error) {
    return error
  }
  return undefined
}
