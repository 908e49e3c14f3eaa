// What a recorder needs from a signal decoder (a DBC database, say): the message's name and
// its signals' physical values, or nothing for a frame it does not know. Defined here so the
// writers take any decoder without depending on one.
import type { CanMessage } from '../message.ts'

export interface DecodedSignals {
  /** the message's name, e.g. `EngineData` */
  name: string
  /** physical values by signal name (a choice's name as a string, a raw 64-bit value a bigint) */
  signals: Readonly<Record<string, number | bigint | string>>
}

export interface SignalDecoder {
  /** The frame's signals; null or undefined for a frame it does not decode. May throw. */
  decode(message: CanMessage): DecodedSignals | null | undefined
}
