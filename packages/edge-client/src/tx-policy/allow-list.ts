// The transmit allow-list (--tx-allow): the CAN ids the server may put on the bus. Hex ids
// or ranges LOW-HIGH, comma-separated; the number of digits says the kind, as candump and
// cansend write ids: 1 to 3 digits = a standard (11-bit) id, exactly 8 = an extended (29-bit) id.

export interface IdRange {
  extended: boolean
  low: number
  high: number
}

const MAX_STANDARD_ID = 0x7ff
const MAX_EXTENDED_ID = 0x1fff_ffff

const DIGITS_RULE =
  'write a standard (11-bit) id with 1 to 3 hex digits (123, 7FF) and an extended (29-bit) id with all 8 (00000123, 18DAF100)'

function hexId(text: string, entry: string): { extended: boolean; id: number } {
  if (/^0x/i.test(text)) {
    throw new RangeError(
      `"${entry}": write ids in hex without 0x (${text.slice(2)}), ${DIGITS_RULE}`,
    )
  }
  if (!/^[0-9a-f]+$/i.test(text)) {
    throw new RangeError(
      `"${entry}" is not a hex id or range (like 123, 100-1FF or 18DAF100-18DAF1FF)`,
    )
  }
  const extended = text.length === 8
  if (!extended && text.length > 3) {
    throw new RangeError(`"${text}" has ${text.length} hex digits: ${DIGITS_RULE}`)
  }
  const id = Number.parseInt(text, 16)
  if (extended && id > MAX_EXTENDED_ID) {
    throw new RangeError(`"${text}" is above 1FFFFFFF, the largest extended id`)
  }
  if (!extended && id > MAX_STANDARD_ID) {
    throw new RangeError(`"${text}" is above 7FF, the largest standard id`)
  }
  return { extended, id }
}

function formatId(extended: boolean, id: number): string {
  return id
    .toString(16)
    .toUpperCase()
    .padStart(extended ? 8 : 3, '0')
}

export function formatRange(range: IdRange): string {
  const low = formatId(range.extended, range.low)
  return range.low === range.high ? low : `${low}-${formatId(range.extended, range.high)}`
}

/** Parses `123,200-2FF,18DAF100-18DAF1FF`; a RangeError says what is wrong and how to write it. */
export function parseAllowList(text: string): IdRange[] {
  const entries = text.split(',').map((entry) => entry.trim())
  if (entries.every((entry) => entry === '')) {
    throw new RangeError(
      'the list is empty: give ids or ranges (e.g. 123,200-2FF), or use --listen-only to refuse every transmit',
    )
  }
  const ranges: IdRange[] = []
  for (const entry of entries) {
    if (entry === '') throw new RangeError('an empty entry (two commas in a row, or one at an end)')
    const ends = entry.split('-').map((end) => end.trim())
    if (ends.length > 2) throw new RangeError(`"${entry}": a range has one "-" (LOW-HIGH)`)
    const low = hexId(ends[0]!, entry)
    const high = ends.length === 2 ? hexId(ends[1]!, entry) : low
    if (low.extended !== high.extended) {
      throw new RangeError(
        `"${entry}" mixes a standard and an extended id: both ends of a range have the same number of digits (${DIGITS_RULE})`,
      )
    }
    if (low.id > high.id) throw new RangeError(`"${entry}": the low end is above the high end`)
    const range = { extended: low.extended, low: low.id, high: high.id }
    const overlapping = ranges.find(
      (r) => r.extended === range.extended && r.low <= range.high && range.low <= r.high,
    )
    if (overlapping) {
      throw new RangeError(
        `"${formatRange(range)}" overlaps "${formatRange(overlapping)}" (both ${range.extended ? 'extended' : 'standard'} ids): list each id once`,
      )
    }
    ranges.push(range)
  }
  return ranges
}

/** A compiled allow-list; nothing to compile without one (every id allowed). */
export class TxAllowList {
  readonly ranges: readonly IdRange[]

  constructor(ranges: readonly IdRange[]) {
    this.ranges = ranges
  }

  allows(id: number, extended: boolean): boolean {
    for (const r of this.ranges) {
      if (r.extended === extended && id >= r.low && id <= r.high) return true
    }
    return false
  }

  /** The canonical text (upper-case, zero-padded), for messages. */
  toString(): string {
    return this.ranges.map(formatRange).join(',')
  }
}

/** How an id reads in messages: the same digits rule as the list. */
export function describeId(id: number, extended: boolean): string {
  return `${formatId(extended, id)} (${extended ? 'extended' : 'standard'})`
}
