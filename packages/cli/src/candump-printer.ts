// candump's output lines (candump.c, lib.c sprint_long_canframe of can-utils 2020.11):
//   default   `  can0  123   [4]  DE AD BE EF`    (with -t: ` (1700000000.123456)  can0  ...`)
//   -L        `(1700000000.123456) can0 123#DEADBEEF`
//   -a        the bytes as text after the data, -x `  RX B E` (direction, BRS, ESI)
// The printer keeps candump's state: the interface column widens to the longest name seen,
// standard ids indent once an extended id was printed, -t d / z count from earlier frames.
import { type CanMessage, formatCandumpFrame } from '@canbridge/server-bus'
import {
  type CandumpLineFormat,
  formatMicroseconds,
  HEX_BYTE,
  hex3,
  hex8,
  microsecondsOf,
} from '@canbridge/server-bus/internal'

/** candump -t: a absolute, A absolute with date, d delta, z from the first frame. */
export type TimestampMode = 'a' | 'A' | 'd' | 'z'

export const TIMESTAMP_MODES: readonly TimestampMode[] = ['a', 'A', 'd', 'z']

export interface CandumpPrinterOptions extends Pick<CandumpLineFormat, 'fdFlagBase'> {
  timestamps?: TimestampMode | undefined // -t
  logFormat?: boolean | undefined // -L
  ascii?: boolean | undefined // -a
  extra?: boolean | undefined // -x
  /** the interface column's starting width (candump: its longest interface argument) */
  width?: number | undefined
}

const CAN_ERR_FLAG = 0x20000000
const CAN_MAX_DLEN = 8

export class CandumpPrinter {
  readonly #options: CandumpPrinterOptions
  #width: number
  #indentStandard = false
  #firstUs: number | undefined
  #lastUs: number | undefined

  constructor(options: CandumpPrinterOptions = {}) {
    this.#options = options
    this.#width = options.width ?? 0
  }

  /** One line, `\n` included. */
  line(message: CanMessage, iface: string): string {
    if (iface.length > this.#width) this.#width = iface.length
    const name = iface.padStart(this.#width)
    const options = this.#options
    const micros = microsecondsOf(message)
    if (options.logFormat) {
      // candump -L prints absolute times unless -t z
      const time =
        options.timestamps === 'z' ? this.#relative(micros, 'z') : formatMicroseconds(micros, 10)
      const extra = options.extra ? (message.isRx ? ' R' : ' T') : ''
      return `(${time}) ${name} ${formatCandumpFrame(message, options.fdFlagBase)}${extra}\n`
    }
    let text = ' '
    if (options.timestamps !== undefined) text += `(${this.#time(micros, options.timestamps)}) `
    text += ` ${name}`
    if (options.extra) {
      text += `  ${message.isRx ? 'RX' : 'TX'} ${message.bitrateSwitch ? 'B' : '-'} ${message.errorStateIndicator ? 'E' : '-'}`
    }
    if (message.isExtendedId && !message.isErrorFrame) this.#indentStandard = true
    return `${text}  ${this.#frame(message)}\n`
  }

  #time(micros: number, mode: TimestampMode): string {
    if (mode === 'a') return formatMicroseconds(micros, 10)
    if (mode === 'A') return dateTime(micros)
    return this.#relative(micros, mode)
  }

  /** `%03lu.%06lu` since the first frame (z) or the previous one (d); never negative. */
  #relative(micros: number, mode: 'd' | 'z'): string {
    this.#firstUs ??= micros
    const base = mode === 'z' ? this.#firstUs : (this.#lastUs ?? micros)
    this.#lastUs = micros
    return formatMicroseconds(Math.max(0, micros - base), 3)
  }

  /** sprint_long_canframe */
  #frame(message: CanMessage): string {
    const id = message.arbitrationId
    let text: string
    if (message.isErrorFrame) text = `${hex8((CAN_ERR_FLAG | id) >>> 0)}  `
    else if (message.isExtendedId) text = `${hex8(id)}  `
    else text = this.#indentStandard ? `     ${hex3(id)}  ` : `${hex3(id)}  `
    const len = message.dlc
    if (message.isFd) {
      text += `[${String(len).padStart(2, '0')}] `
    } else {
      text += ` [${len}] `
      if (message.isRemoteFrame) return `${text} remote request`
    }
    const data = message.data
    for (let i = 0; i < data.length; i++) text += ` ${HEX_BYTE[data[i]!]}`
    if (len > CAN_MAX_DLEN) return text
    const pad = 3 * (CAN_MAX_DLEN - len)
    if (message.isErrorFrame) return text + 'ERRORFRAME'.padStart(pad + 13)
    if (!this.#options.ascii) return text
    let chars = ''
    for (let i = 0; i < data.length; i++) {
      const byte = data[i]!
      chars += byte > 0x1f && byte < 0x7f ? String.fromCharCode(byte) : '.'
    }
    return `${text}${"'".padStart(pad + 4)}${chars}'`
  }
}

/** candump -t A: `%Y-%m-%d %H:%M:%S.%06lu` in local time. */
function dateTime(micros: number): string {
  const seconds = Math.floor(micros / 1_000_000)
  const d = new Date(seconds * 1000)
  const two = (n: number) => String(n).padStart(2, '0')
  const date = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`
  const time = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`
  return `${date} ${time}.${String(micros - seconds * 1_000_000).padStart(6, '0')}`
}
