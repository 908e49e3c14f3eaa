// ASCWriter: a Listener writing Vector's ASCII log format (.asc) line for line as can-utils'
// log2asc converts a candump log: the header from the first frame's time, times relative
// to it, classic (`d`), remote (`r`), extended ids with `x`, `CANFD` lines, `ErrorFrame`.
import type { Writable } from 'node:stream'
import type { CanMessage } from '../message.ts'
import { HEX_BYTE, HEX_DIGIT } from './hex.ts'
import { formatMicroseconds, microsecondsOf } from './log-time.ts'
import { type LogNamingOptions, TextLogWriter } from './text-log-writer.ts'
import type { TextSinkOptions } from './text-sink.ts'

export interface ASCWriterOptions extends TextSinkOptions, LogNamingOptions {
  /**
   * Interface names in channel-number order, as log2asc takes them (`log2asc vcan0 vcan1`:
   * vcan0 is channel 1). Interfaces not listed get the next numbers as they first appear.
   */
  channels?: readonly string[] | undefined
}

/** ASC message flags (log2asc ASC_F_*): the 13th bit marks CAN FD, then BRS and ESI. */
const ASC_FLAG = { FDF: 0x1000, BRS: 0x2000, ESI: 0x4000 } as const
// Fixed fields log2asc writes after an FD frame's data: message duration (ns), bit count,
// then the flags and five zero fields (CRC, bit timings).
const FD_DURATION = '  130000'
const FD_BITS = ' 130'
const FD_PADDING = 34
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
/** can_fd_len2dlc for the lengths above 8 */
const FD_DLC = new Map([
  [12, 9],
  [16, 10],
  [20, 11],
  [24, 12],
  [32, 13],
  [48, 14],
  [64, 15],
])

export class ASCWriter extends TextLogWriter {
  readonly #channels = new Map<string, number>()
  #startUs: number | undefined

  constructor(target: string | Writable, options: ASCWriterOptions = {}) {
    super(target, options)
    for (const name of options.channels ?? []) {
      if (!this.#channels.has(name)) this.#channels.set(name, this.#channels.size + 1)
    }
  }

  protected format(message: CanMessage): string {
    const micros = microsecondsOf(message)
    let text = ''
    if (this.#startUs === undefined) {
      this.#startUs = micros
      text = header(Math.floor(micros / 1_000_000))
    }
    // log2asc: a frame older than the first is written at 0
    text += `${formatMicroseconds(Math.max(0, micros - this.#startUs), 4, ' ')} `
    const channel = this.#channelOf(message)
    text += message.isFd ? fdLine(message, channel) : classicLine(message, channel)
    return `${text}\n`
  }

  #channelOf(message: CanMessage): number {
    const name = this.names.of(message.channel)
    let channel = this.#channels.get(name)
    if (channel === undefined) {
      channel = this.#channels.size + 1
      this.#channels.set(name, channel)
    }
    return channel
  }
}

/** log2asc's three header lines; the date is the first frame's, in local time (ctime). */
function header(seconds: number): string {
  const d = new Date(seconds * 1000)
  const time = [d.getHours(), d.getMinutes(), d.getSeconds()]
    .map((n) => String(n).padStart(2, '0'))
    .join(':')
  const date = `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]}${String(d.getDate()).padStart(3)} ${time} ${d.getFullYear()}`
  return `date ${date}\nbase hex  timestamps absolute\nno internal events logged\n`
}

/** `%X` of the id with `x` for an extended one, else a space (log2asc's id column). */
function ascId(message: CanMessage): string {
  return message.arbitrationId.toString(16).toUpperCase() + (message.isExtendedId ? 'x' : ' ')
}

function direction(message: CanMessage): string {
  return message.isRx ? 'Rx' : 'Tx'
}

function dataBytes(data: Uint8Array): string {
  let text = ''
  for (let i = 0; i < data.length; i++) text += ` ${HEX_BYTE[data[i]!]}`
  return text
}

/** `1  123             Rx   d 4 DE AD BE EF`, `r 4` for remote, `1  ErrorFrame`. */
function classicLine(message: CanMessage, channel: number): string {
  const prefix = `${String(channel).padEnd(2)} `
  if (message.isErrorFrame) return `${prefix}ErrorFrame`
  const head = `${prefix}${ascId(message).padEnd(15)} ${direction(message).padEnd(4)} `
  if (message.isRemoteFrame) return `${head}r ${HEX_DIGIT[message.dlc]}`
  return `${head}d ${HEX_DIGIT[message.dlc]}${dataBytes(message.data)}`
}

/** `CANFD   1 Rx        321 <34 spaces>BRS ESI dlc len data   130000  130  flags 0 0 0 0 0` */
function fdLine(message: CanMessage, channel: number): string {
  const len = message.dlc
  const dlc = len <= 8 ? len : FD_DLC.get(len)!
  const flags =
    ASC_FLAG.FDF |
    (message.bitrateSwitch ? ASC_FLAG.BRS : 0) |
    (message.errorStateIndicator ? ASC_FLAG.ESI : 0)
  return (
    `CANFD ${String(channel).padStart(3)} ${direction(message)} ` +
    `${ascId(message).padStart(11)}${' '.repeat(FD_PADDING)}` +
    `${message.bitrateSwitch ? 1 : 0} ${message.errorStateIndicator ? 1 : 0} ` +
    `${dlc.toString(16)} ${String(len).padStart(2)}${dataBytes(message.data)}` +
    ` ${FD_DURATION} ${FD_BITS} ${flags.toString(16).toUpperCase().padStart(8)} 0 0 0 0 0`
  )
}
