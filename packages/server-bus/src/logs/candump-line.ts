// One line of a candump log (`candump -L` on stdout, `candump -l` into a file):
//   (1700000000.123456) can0 123#DEADBEEF       a frame: `(sec.usec) interface frame`
//   (1700000000.123456) can0 123#DEADBEEF R     candump -x adds the direction: R received, T sent
//   DROPCOUNT: dropped 3 CAN frames on 'can0' socket (total drops 7)     candump -d
// Lines that do not start with `(` are comments to canplayer and log2asc (they skip them).
import type { CanMessage } from '../message.ts'
import { type CandumpFrame, formatCandumpFrame, parseCandumpFrame } from './candump-frame.ts'
import { formatMicroseconds, microsecondsOf } from './log-time.ts'

export interface CandumpFrameLine extends CandumpFrame {
  kind: 'frame'
  /** seconds of the receive time */
  sec: number
  /** microseconds within the second, 0..999999 */
  usec: number
  iface: string
  /** false for `T` (sent by that host, candump -x), else true */
  isRx: boolean
}

export interface CandumpDropsLine {
  kind: 'drops'
  iface: string
  /** frames dropped since the last report */
  count: number
  /** drops on that socket so far */
  total: number
}

/** A line that does not start with `(`: canplayer and log2asc skip it. */
export interface CandumpCommentLine {
  kind: 'comment'
  text: string
}

export interface CandumpInvalidLine {
  kind: 'invalid'
  /** what is wrong, e.g. `standard id 800 above 7FF` */
  reason: string
}

export type CandumpLogLine =
  | CandumpFrameLine
  | CandumpDropsLine
  | CandumpCommentLine
  | CandumpInvalidLine

const FRAME_LINE = /^\((\d+)\.(\d{6})\) +(\S+) +(\S+)(?: +(\S+))? *$/
const DROPS = /^DROPCOUNT: dropped (\d+) CAN frames? on '([^']+)' socket \(total drops (\d+)\)$/
const DROPS_PREFIX = 'DROPCOUNT:'

/** Parses one line (without its `\n`; a trailing `\r` is ignored); null for a blank line. */
export function parseCandumpLogLine(text: string): CandumpLogLine | null {
  const line = text.endsWith('\r') ? text.slice(0, -1) : text
  if (line.trim() === '') return null
  if (line[0] !== '(') {
    if (!line.startsWith(DROPS_PREFIX)) return { kind: 'comment', text: line }
    const drops = DROPS.exec(line)
    if (drops === null) return invalid(`not candump's DROPCOUNT line`)
    return { kind: 'drops', iface: drops[2]!, count: Number(drops[1]), total: Number(drops[3]) }
  }
  const match = FRAME_LINE.exec(line)
  if (match === null) return invalid('not "(seconds.microseconds) interface frame"')
  const [, sec, usec, iface, body, extra] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string | undefined,
  ]
  if (extra !== undefined && extra !== 'R' && extra !== 'T') {
    return invalid(`unexpected ${JSON.stringify(extra)} after the frame (candump -x writes R or T)`)
  }
  const frame = parseCandumpFrame(body)
  if (typeof frame === 'string') return invalid(frame)
  return {
    kind: 'frame',
    sec: Number(sec),
    usec: Number(usec),
    iface,
    isRx: extra !== 'T',
    id: frame.id,
    flags: frame.flags,
    len: frame.len,
    data: frame.data,
  }
}

function invalid(reason: string): CandumpInvalidLine {
  return { kind: 'invalid', reason }
}

export interface CandumpLineFormat {
  /** the FD flags digit's base: CANFD_FLAG.FDF (Linux ≥ 6.0, the default) or 0 */
  fdFlagBase?: number | undefined
  /** append ` R` / ` T` as `candump -L -x` does */
  direction?: boolean | undefined
}

/**
 * A frame line as candump writes it, `\n` included: `(%010lu.%06lu) iface frame`, the
 * interface right-aligned to `ifaceWidth` (candump pads to its longest interface name).
 */
export function formatCandumpLogLine(
  message: CanMessage,
  iface: string,
  ifaceWidth: number,
  format: CandumpLineFormat = {},
): string {
  const time = formatMicroseconds(microsecondsOf(message), 10)
  const name = iface.length < ifaceWidth ? iface.padStart(ifaceWidth) : iface
  const frame = formatCandumpFrame(message, format.fdFlagBase)
  const extra = format.direction ? (message.isRx ? ' R' : ' T') : ''
  return `(${time}) ${name} ${frame}${extra}\n`
}
