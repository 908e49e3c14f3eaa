// The soak's view of `candump -L` output (its ground truth), over the package's candump log
// parser (src/logs): frames with their time in µs, candump -d's DROPCOUNT lines, and every
// other line as invalid (the soak's candump writes nothing else).
import { parseCandumpFrame, parseCandumpLogLine } from '@canbridge/server-bus'

export { LineSplitter } from '@canbridge/server-bus/internal'

import type { Frame } from './frames.ts'

export interface DumpFrame extends Frame {
  kind: 'frame'
  iface: string
}

export interface DumpDrops {
  kind: 'drops'
  iface: string
  /** frames dropped since the last report */
  count: number
  /** drops on that socket so far */
  total: number
}

export interface DumpInvalid {
  kind: 'invalid'
  line: string
  reason: string
}

export type DumpLine = DumpFrame | DumpDrops | DumpInvalid

/** Parses one line; `null` for an empty line. Never throws: a bad line is `kind: 'invalid'`. */
export function parseCandumpLine(text: string): DumpLine | null {
  const parsed = parseCandumpLogLine(text)
  if (parsed === null) return null
  const line = text.replace(/\r$/, '')
  switch (parsed.kind) {
    case 'frame':
      return {
        kind: 'frame',
        iface: parsed.iface,
        tsUs: parsed.sec * 1_000_000 + parsed.usec,
        id: parsed.id,
        flags: parsed.flags,
        len: parsed.len,
        data: parsed.data,
      }
    case 'drops':
      return parsed
    case 'comment':
      return { kind: 'invalid', line, reason: 'not "(sec.usec) iface frame"' }
    case 'invalid':
      return { kind: 'invalid', line, reason: parsed.reason }
  }
}

/** Parses candump's frame notation (the part after the interface); a string says what is wrong. */
export function parseFrameText(body: string): Omit<Frame, 'tsUs'> | string {
  return parseCandumpFrame(body)
}
