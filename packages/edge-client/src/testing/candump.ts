// Ground truth for kernel tests that receive through a TCPBus: `candump -L` on the interface,
// and received messages written in candump's own log notation, so that the two logs compare
// line by line (time to the µs, interface, id, data).
import { type ChildProcess, spawn } from 'node:child_process'
import { canReceivers, settled, waitForNewReceiver } from './can-receivers.ts'

export class CandumpLog {
  readonly #child: ChildProcess
  readonly #exit: Promise<unknown>
  readonly lines: string[] = []
  /** candump's own `-d` reports: frames its socket dropped (the truth would be incomplete) */
  readonly dropReports: string[] = []
  #rest = ''
  readonly #listening: Promise<void>

  constructor(iface: string) {
    const before = canReceivers(iface)
    // -r: a big receive buffer (SO_RCVBUFFORCE as root; under UML candump drops otherwise);
    // -d: say so if it drops anyway
    this.#child = spawn('candump', ['-L', '-d', '-r', '8388608', iface], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    this.#exit = new Promise((resolve) => this.#child.once('exit', resolve))
    this.#listening = waitForNewReceiver(iface, before)
    this.#child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (this.#rest + chunk).split('\n')
      this.#rest = parts.pop()!
      for (const line of parts) {
        if (line.startsWith('DROPCOUNT')) this.dropReports.push(line)
        else if (line.trim() !== '') this.lines.push(line.trim())
      }
    })
  }

  /** Resolves once candump's socket is in the kernel's receive list: start traffic after. */
  listening(): Promise<void> {
    return this.#listening
  }

  /** Waits for the frames still in flight, then stops candump. */
  async stop(): Promise<string[]> {
    await settled(() => this.lines.length)
    this.#child.kill('SIGINT')
    await this.#exit
    return this.lines
  }
}

/** What candumpLine reads of a received message (a TCPBus CanMessage has these fields). */
export interface CandumpMessage {
  arbitrationId: number
  isExtendedId: boolean
  isRemoteFrame: boolean
  isErrorFrame: boolean
  isFd: boolean
  dlc: number
  data: Uint8Array
  timestampNs: bigint
}

const hex = (data: Uint8Array): string => Buffer.from(data).toString('hex').toUpperCase()

/**
 * A received message as `candump -L` prints a frame (can-utils lib.c): `(sec.usec) iface
 * 123#DEADBEEF`, 8 id digits for an extended id, `R` for a remote frame. Classic frames only.
 */
export function candumpLine(message: CandumpMessage, iface: string): string {
  if (message.isFd || message.isErrorFrame)
    throw new RangeError(`candumpLine: FD and error frames are not used here (${String(message)})`)
  const ns = message.timestampNs
  const sec = ns / 1_000_000_000n
  const usec = (ns % 1_000_000_000n) / 1000n
  const id = message.arbitrationId
    .toString(16)
    .toUpperCase()
    .padStart(message.isExtendedId ? 8 : 3, '0')
  const body = message.isRemoteFrame ? `R${message.dlc > 0 ? message.dlc : ''}` : hex(message.data)
  return `(${sec}.${String(usec).padStart(6, '0')}) ${iface} ${id}#${body}`
}

/** The time field of a candump line, in µs since the epoch. */
export function candumpTimeUs(line: string): bigint {
  const match = /^\((\d+)\.(\d{6})\)/.exec(line)
  if (!match) throw new RangeError(`not a candump -L line: ${JSON.stringify(line)}`)
  return BigInt(match[1]!) * 1_000_000n + BigInt(match[2]!)
}

/** A candump line without its time: what must match exactly even where the time may not. */
export function withoutTime(line: string): string {
  return line.replace(/^\(\d+\.\d{6}\) /, '')
}
