// SocketCAN through the `socketcan` binding (npm, N-API). What the binding gives and what
// it lacks shapes this file:
// - one callback per frame `{ id, ext?, rtr?, err?, data, ts_sec, ts_usec }` with SIOCGSTAMP
//   microsecond timestamps (int32 seconds), up to 101 frames per wake-up: collected here
//   into one FrameBatch handed over in setImmediate;
// - no FD/BRS/ESI marker on received frames: on an MTU-72 interface a frame longer than
//   8 bytes is FD, anything else is taken as classic (README: limits);
// - send()/sendFD() return the byte count or -1 without errno: the interface flags tell
//   interface-down from a full TX queue;
// - no CAN_RAW_RECV_OWN_MSGS: the poll worker echoes frames it sent itself.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { CanFilter, TxFrame } from '@canbridge/protocol'
import { FRAME_FLAG, frameProblem } from '@canbridge/protocol/frames'
import {
  CAN_OPEN_ERROR,
  CanOpenError,
  type CanSource,
  type CanSourceEvents,
  kernelFilters,
  type LinkState,
  type SendOutcome,
} from './can-source.ts'
import { FrameBatch } from './frame-batch.ts'

interface NativeMessage {
  id: number
  ext?: boolean
  rtr?: boolean
  err?: boolean
  data: Buffer
  ts_sec?: number
  ts_usec?: number
}

interface NativeRawChannel {
  addListener(event: 'onMessage', callback: (message: NativeMessage) => void): void
  addListener(event: 'onStopped', callback: () => void): void
  start(): void
  stop(): void
  send(message: { id: number; ext: boolean; rtr: boolean; data: Buffer }): number
  sendFD(message: { id: number; ext: boolean; fd_brs: boolean; data: Buffer }): number
  setRxFilters(filters: { id: number; mask: number; invert: boolean }[]): void
  setErrorFilters(mask: number): void
}

interface NativeModule {
  RawChannel: new (
    name: string,
    timestamps: boolean,
    protocol: number,
    nonBlockSend: boolean,
  ) => NativeRawChannel
}

/** linux/can.h: every error class (receive every error frame) */
export const CAN_ERR_MASK = 0x1fffffff
/** ARPHRD_CAN in /sys/class/net/<if>/type */
const ARPHRD_CAN = 280
const IFF_UP = 0x1
const CAN_RAW = 1
const CANFD_MTU = 72
const TWO_POW_32 = 4_294_967_296
const LINK_POLL_MS = 1000

let native: NativeModule | undefined

/** Loads the native addon directly (the package's main also loads an XML parser we do not need). */
function loadNative(channel: string): NativeModule {
  if (native) return native
  try {
    const require = createRequire(import.meta.url)
    native = require('socketcan/build/Release/can.node') as NativeModule
    return native
  } catch (error) {
    throw new CanOpenError(
      CAN_OPEN_ERROR.NO_SOCKETCAN,
      channel,
      `cannot load the socketcan binding (${(error as Error).message}); reinstall with: pnpm install (needs a C++ toolchain on Linux)`,
      { cause: error },
    )
  }
}

function sysfs(name: string, attribute: string): string | undefined {
  try {
    return readFileSync(`/sys/class/net/${name}/${attribute}`, 'utf8').trim()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

/** Interface state from sysfs: gone, down (IFF_UP clear) or up. */
export function interfaceState(name: string): LinkState {
  const flags = sysfs(name, 'flags')
  if (flags === undefined) return 'gone'
  return Number.parseInt(flags, 16) & IFF_UP ? 'up' : 'down'
}

export class SocketCanSource implements CanSource {
  readonly name: string
  fd = false
  #channel: NativeRawChannel | undefined
  #events: CanSourceEvents | undefined
  #state: LinkState = 'gone'
  #filters: readonly CanFilter[] = []
  #batch = new FrameBatch(256)
  #flushScheduled = false
  #monitor: NodeJS.Timeout | undefined
  #closed = false

  constructor(name: string) {
    if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(name)) {
      throw new RangeError(
        `CAN interface name ${JSON.stringify(name)} must be 1..15 of A-Z a-z 0-9 _ . : -`,
      )
    }
    this.name = name
  }

  get linkState(): LinkState {
    return this.#state
  }

  open(events: CanSourceEvents): void {
    this.#events = events
    this.#openChannel()
    this.#state = interfaceState(this.name)
    events.onLinkState(
      this.#state,
      this.#state === 'up'
        ? 'interface up'
        : `interface ${this.name} is down; bring it up with: ip link set ${this.name} up`,
    )
    this.#monitor = setInterval(() => this.#pollLink(), LINK_POLL_MS)
    this.#monitor.unref()
  }

  #openChannel(): void {
    const name = this.name
    const type = sysfs(name, 'type')
    if (type === undefined) {
      throw new CanOpenError(
        CAN_OPEN_ERROR.NO_SUCH_INTERFACE,
        name,
        `no such network interface: ${name} (see: ip -details link show; for a virtual bus: ip link add dev ${name} type vcan)`,
      )
    }
    if (Number(type) !== ARPHRD_CAN) {
      throw new CanOpenError(
        CAN_OPEN_ERROR.NOT_CAN,
        name,
        `${name} is not a CAN interface (link type ${type})`,
      )
    }
    const mtu = Number(sysfs(name, 'mtu') ?? '16')
    this.fd = mtu >= CANFD_MTU
    const binding = loadNative(name)
    let channel: NativeRawChannel
    try {
      channel = new binding.RawChannel(name, true, CAN_RAW, true)
    } catch (error) {
      // the binding says only "Error while creating channel": diagnose what we can
      const noCan = !readable('/proc/net/can/version') && !readable('/proc/net/can/rcvlist_all')
      throw new CanOpenError(
        noCan ? CAN_OPEN_ERROR.NO_SOCKETCAN : CAN_OPEN_ERROR.OPEN_FAILED,
        name,
        noCan
          ? `cannot open a CAN_RAW socket on ${name}: this kernel has no SocketCAN raw protocol (modprobe can-raw)`
          : `cannot open a CAN_RAW socket on ${name}: ${(error as Error).message} (permission? is can-raw loaded?)`,
        { cause: error },
      )
    }
    channel.setErrorFilters(CAN_ERR_MASK)
    channel.setRxFilters(kernelFilters(this.#filters))
    channel.addListener('onMessage', this.#onMessage)
    channel.addListener('onStopped', this.#onStopped)
    channel.start()
    this.#channel = channel
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#monitor) clearInterval(this.#monitor)
    this.#flush()
    const channel = this.#channel
    this.#channel = undefined
    if (channel) channel.stop()
    this.#state = 'gone'
  }

  setFilters(filters: readonly CanFilter[]): void {
    this.#filters = filters.slice()
    this.#channel?.setRxFilters(kernelFilters(this.#filters))
  }

  send(frame: TxFrame): SendOutcome {
    const channel = this.#channel
    if (!channel || this.#state !== 'up') return { ok: false, error: 'interface-down' }
    const problem = frameProblem(frame.id, frame.flags, frame.len)
    if (problem !== undefined) return { ok: false, error: 'invalid-frame', message: problem }
    const flags = frame.flags
    if (flags & (FRAME_FLAG.ERR | FRAME_FLAG.TX)) {
      return { ok: false, error: 'invalid-frame', message: 'error and TX flags cannot be sent' }
    }
    const ext = (flags & FRAME_FLAG.EXT) !== 0
    let written: number
    try {
      if (flags & FRAME_FLAG.FD) {
        if (!this.fd)
          return {
            ok: false,
            error: 'invalid-frame',
            message: `${this.name} has MTU 16: no CAN FD`,
          }
        written = channel.sendFD({
          id: frame.id,
          ext,
          fd_brs: (flags & FRAME_FLAG.BRS) !== 0,
          data: Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength),
        })
      } else {
        const rtr = (flags & FRAME_FLAG.RTR) !== 0
        // the binding takes a remote frame's DLC from the data length
        const data = rtr
          ? Buffer.alloc(frame.len)
          : Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength)
        written = channel.send({ id: frame.id, ext, rtr, data })
      }
    } catch (error) {
      return { ok: false, error: 'internal', message: (error as Error).message }
    }
    if (written > 0) return { ok: true }
    // no errno from the binding: a down interface explains -1, else the queue was full
    const state = interfaceState(this.name)
    if (state !== 'up') {
      this.#setState(state, 'send failed on a down interface')
      return { ok: false, error: 'interface-down' }
    }
    return { ok: false, error: 'tx-queue-full' }
  }

  #onMessage = (message: NativeMessage): void => {
    const batch = this.#batch
    if (batch.full) this.#flush()
    let flags = 0
    const data = message.data
    let len = data.length
    if (message.err) {
      flags = FRAME_FLAG.ERR
      if (len > 8) len = 8
    } else {
      if (message.ext) flags |= FRAME_FLAG.EXT
      if (message.rtr) flags |= FRAME_FLAG.RTR
      else if (len > 8) flags |= FRAME_FLAG.FD
    }
    let seconds = message.ts_sec ?? 0
    if (seconds < 0) seconds += TWO_POW_32 // int32 from the binding: after 2038
    const micros = message.ts_usec ?? 0
    if (frameProblem(message.id, flags, len) !== undefined) return
    const i = batch.push(seconds, micros * 1000, message.id, flags, len)
    if (!(flags & FRAME_FLAG.RTR)) batch.data.set(data.subarray(0, len), i * 64)
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(this.#flush)
    }
  }

  #flush = (): void => {
    this.#flushScheduled = false
    const batch = this.#batch
    if (batch.count > 0 && this.#events) this.#events.onFrames(batch)
    batch.count = 0
  }

  #onStopped = (): void => {
    this.#flush()
    this.#channel = undefined
    if (this.#closed) return
    this.#setState('gone', `interface ${this.name} disappeared; reopening when it is back`)
  }

  #pollLink(): void {
    const state = interfaceState(this.name)
    if (state === 'gone') {
      this.#setState('gone', `interface ${this.name} disappeared`)
      return
    }
    if (!this.#channel) {
      try {
        this.#openChannel()
      } catch (error) {
        if (error instanceof CanOpenError) return // not back yet
        throw error
      }
    }
    this.#setState(
      state,
      state === 'up' ? `interface ${this.name} is up` : `interface ${this.name} went down`,
    )
  }

  #setState(state: LinkState, reason: string): void {
    if (state === this.#state) return
    this.#state = state
    this.#events?.onLinkState(state, reason)
  }
}

function readable(path: string): boolean {
  try {
    readFileSync(path)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    return true
  }
}
