// SocketCAN through the `socketcan` binding (npm, N-API), in one of two ways:
// - patched (patches/socketcan@4.3.1.patch, detected by `.features`): batch reads, many
//   frames per system call into fixed 88-byte records with nanosecond kernel timestamps,
//   FD/BRS/ESI/own flags and the socket's kernel drop counter; the records are handed
//   over as they are (no object per frame); SO_RCVBUF, CAN_RAW_RECV_OWN_MSGS, errno on send;
// - unpatched (an older or hand-copied addon): one callback per frame `{ id, ext?, rtr?,
//   err?, data, ts_sec, ts_usec }` (SIOCGSTAMP), no FD marker on frames of 8 bytes or
//   fewer, no kernel drops, -1 on a failed send: the edge says so at start and in HELLO,
//   and makes the echo of its own frames itself (README: the SocketCAN binding).
import { readFileSync } from 'node:fs'
import { constants as osConstants } from 'node:os'
import type { CanFilter, TxFrame } from '@canbridge/protocol'
import { FRAME_FLAG, frameProblem } from '@canbridge/protocol/frames'
import {
  CAN_ID_FLAG,
  CAN_OPEN_ERROR,
  CanOpenError,
  type CanSource,
  type CanSourceEvents,
  kernelFilters,
  type LinkState,
  type SendOutcome,
  type SourceAccounting,
} from './can-source.ts'
import { FrameBatch } from './frame-batch.ts'
import { IdleDropCheck } from './idle-drop-check.ts'
import { InterfaceLossCounter } from './interface-loss.ts'
import { KernelDropCounter } from './kernel-drop-counter.ts'
import { DEFAULT_RECEIVE_BUFFER, ReadPacer } from './read-pacer.ts'
import { autoReceiveBuffer, type ReceiveBufferPlan } from './receive-buffer.ts'
import {
  BATCH_RECORD_BYTES,
  type BatchRecordLayout,
  type BindingSupport,
  bindingSupport,
  loadSocketCanModule,
  type NativeMessage,
  type NativeModule,
  type NativeRawChannel,
} from './socketcan-binding.ts'

export interface SocketCanOptions {
  /**
   * SO_RCVBUF: bytes of queue the kernel holds for this socket, `auto` (one second at the
   * interface's highest frame rate), or undefined (the kernel's net.core.rmem_default)
   */
  receiveBuffer?: number | 'auto' | undefined
  /** echo own frames from the kernel (CAN_RAW_RECV_OWN_MSGS) when the binding can */
  kernelEcho?: boolean | undefined
  /**
   * the longest a frame waits in the kernel's queue so that a steady bus is read in batches
   * (µs; 0 or undefined: each wake-up reads at once)
   */
  maxReadDelayUs?: number | undefined
}

/** The receive buffer as asked for and as the kernel set it (getsockopt: doubled). */
export interface ReceiveBufferResult {
  plan: ReceiveBufferPlan
  actual: number
}

/** linux/can.h: every error class (receive every error frame) */
export const CAN_ERR_MASK = 0x1fffffff
/** ARPHRD_CAN in /sys/class/net/<if>/type */
const ARPHRD_CAN = 280
const IFF_UP = 0x1
const CAN_RAW = 1
const CANFD_MTU = 72
/** linux/can.h: the 29 bits of an extended id */
const CAN_EFF_MASK = 0x1fffffff
const TWO_POW_32 = 4_294_967_296
const LINK_POLL_MS = 1000
/** how often an idle socket's drop counter is read (drops after the last frame) */
const IDLE_CHECK_MS = 100
/** records per wake-up in batch mode */
const BATCH_FRAMES = 256
const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([name, n]) => [n, name]))

function loadNative(channel: string): NativeModule {
  try {
    return loadSocketCanModule()
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
  readonly #options: SocketCanOptions
  #channel: NativeRawChannel | undefined
  #events: CanSourceEvents | undefined
  #state: LinkState = 'gone'
  #filters: readonly CanFilter[] = []
  /** unpatched binding: frames collected per wake-up */
  #batch = new FrameBatch(BATCH_FRAMES)
  #flushScheduled = false
  #monitor: NodeJS.Timeout | undefined
  #closed = false
  #support: BindingSupport | undefined
  #kernelEcho = false
  #receiveBuffer: ReceiveBufferResult | undefined
  #problems: string[] = []
  // batch mode (patched binding)
  #records: Uint8Array | undefined
  #view: DataView | undefined
  #layout: BatchRecordLayout | undefined
  readonly #drops = new KernelDropCounter()
  #pacer: ReadPacer | undefined
  /** features version 3: on a steady bus the edge reads on its own timer, the reader thread held */
  #holdTimer: NodeJS.Timeout | undefined
  #holdMs = 0
  #interfaceLoss: InterfaceLossCounter | undefined
  #idleCheck: NodeJS.Timeout | undefined
  readonly #idle = new IdleDropCheck(IDLE_CHECK_MS, performance.now())

  constructor(name: string, options: SocketCanOptions = {}) {
    if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(name)) {
      throw new RangeError(
        `CAN interface name ${JSON.stringify(name)} must be 1..15 of A-Z a-z 0-9 _ . : -`,
      )
    }
    this.name = name
    this.#options = options
  }

  get linkState(): LinkState {
    return this.#state
  }

  /** The binding as loaded (undefined before open): patched or not, and what it lacks. */
  get binding(): BindingSupport | undefined {
    return this.#support
  }

  get accounting(): SourceAccounting {
    const patched = this.#support?.patched === true
    return {
      kernelDrops: patched,
      interfaceDrops: true,
      fdFlags: patched,
      kernelEcho: patched && this.#kernelEcho,
    }
  }

  /** The receive buffer set at the last open (undefined when not asked for, or not possible). */
  get receiveBuffer(): ReceiveBufferResult | undefined {
    return this.#receiveBuffer
  }

  /** What could not be set up as configured (for the log; the channel runs without it). */
  get problems(): readonly string[] {
    return this.#problems
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
    if (events.onInterfaceLoss) this.#interfaceLoss = new InterfaceLossCounter(this.name)
    this.#monitor = setInterval(() => this.#pollLink(), LINK_POLL_MS)
    this.#monitor.unref()
    if (this.#support?.patched) {
      this.#idleCheck = setInterval(() => this.#checkIdle(), IDLE_CHECK_MS)
      this.#idleCheck.unref()
    }
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
    this.#problems = []
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
    channel.addListener('onStopped', this.#onStopped)
    const support = bindingSupport(binding)
    this.#support = support
    if (support.patched) {
      this.#setUpSocket(channel)
      this.#startBatch(channel, support.layout!)
    } else {
      if (this.#options.receiveBuffer !== undefined)
        this.#problems.push('receive buffer not set: the socketcan binding is not patched')
      channel.addListener('onMessage', this.#onMessage)
      channel.start()
    }
    this.#channel = channel
  }

  /** SO_RCVBUF and CAN_RAW_RECV_OWN_MSGS, as configured (patched binding). */
  #setUpSocket(channel: NativeRawChannel): void {
    const wanted = this.#options.receiveBuffer
    if (wanted !== undefined) {
      const plan: ReceiveBufferPlan =
        wanted === 'auto'
          ? autoReceiveBuffer(this.name)
          : { bytes: wanted, basis: `--receive-buffer ${wanted}` }
      // the kernel doubles what it is given (its overhead counts against the buffer)
      const actual = channel.setReceiveBuffer!(Math.ceil(plan.bytes / 2), true)
      this.#receiveBuffer = { plan, actual }
    }
    this.#kernelEcho = false
    if (this.#options.kernelEcho) {
      try {
        channel.setRecvOwnMsgs!(true)
        this.#kernelEcho = true
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        if (code === undefined) throw error
        this.#problems.push(`CAN_RAW_RECV_OWN_MSGS refused (${code}): the edge echoes its frames`)
      }
    }
  }

  #startBatch(channel: NativeRawChannel, layout: BatchRecordLayout): void {
    if (this.#records === undefined) {
      const records = new Uint8Array(BATCH_FRAMES * BATCH_RECORD_BYTES)
      this.#records = records
      this.#view = new DataView(records.buffer)
      this.#layout = layout
      this.#batch = new FrameBatch(BATCH_FRAMES, records)
    }
    this.#drops.reset() // a new socket counts from 0
    this.#idle.reset(performance.now())
    const maxWaitUs = this.#options.maxReadDelayUs ?? 0
    this.#pacer =
      this.#support?.batchWait && maxWaitUs > 0
        ? new ReadPacer(
            maxWaitUs,
            BATCH_FRAMES,
            this.#receiveBuffer?.actual ?? DEFAULT_RECEIVE_BUFFER,
          )
        : undefined
    this.#stopHoldTimer()
    channel.startBatch!(this.#records, this.#onBatch)
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#monitor) clearInterval(this.#monitor)
    if (this.#idleCheck) clearInterval(this.#idleCheck)
    this.#stopHoldTimer()
    this.#flush()
    const channel = this.#channel
    this.#channel = undefined
    if (channel) {
      // drops after the last frame read are not lost from the count at shutdown either
      if (this.#support?.patched) this.#readIdleDrops(channel)
      channel.stop()
    }
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
          fd_esi: (flags & FRAME_FLAG.ESI) !== 0, // an unpatched binding ignores it
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
    if (this.#support?.patched) return this.#sendFailed(-written)
    // no errno from the binding: a down interface explains -1, else the queue was full
    const state = interfaceState(this.name)
    if (state !== 'up') {
      this.#setState(state, 'send failed on a down interface')
      return { ok: false, error: 'interface-down' }
    }
    return { ok: false, error: 'tx-queue-full' }
  }

  /** A failed send, by its errno (patched binding). */
  #sendFailed(errno: number): SendOutcome {
    const code = ERRNO_NAMES.get(errno) ?? `errno ${errno}`
    switch (code) {
      case 'ENOBUFS':
      case 'EAGAIN':
        return { ok: false, error: 'tx-queue-full' }
      case 'ENETDOWN':
      case 'ENXIO':
      case 'ENODEV': {
        const state = interfaceState(this.name)
        this.#setState(state === 'up' ? 'down' : state, `send failed: ${code}`)
        return { ok: false, error: 'interface-down', message: code }
      }
      case 'EINVAL':
      case 'EMSGSIZE':
        return { ok: false, error: 'invalid-frame', message: `the kernel refused it: ${code}` }
      default:
        return { ok: false, error: 'internal', message: `send failed: ${code}` }
    }
  }

  /** Batch mode: the binding's reader thread read `count` records. True: hold that thread. */
  #onBatch = (count: number): boolean => {
    this.#takeRecords(count)
    return this.#pace(count)
  }

  /** Hold mode: the next read of a steady bus, on this thread, with no hand-off. */
  #readHeld = (): void => {
    const channel = this.#channel
    if (channel === undefined) return
    const count = channel.readBatch!()
    this.#takeRecords(count)
    // an empty queue: the reader thread polls again, and reads the next frame as it arrives
    if (!this.#pace(count)) channel.resumeBatch!()
  }

  /**
   * After a read: the reader thread's wait before it polls again; in hold mode, true when the
   * next read is this source's own, on a timer of that wait (one wake-up of one thread per
   * batch instead of two, and no thread hand-off).
   */
  #pace(count: number): boolean {
    const pacer = this.#pacer
    if (pacer === undefined) return false
    const wait = pacer.afterBatch(count)
    if (wait !== undefined) this.#channel?.setBatchWait?.(wait)
    if (!this.#support?.batchHold || count === 0 || pacer.waitUs === 0) return false
    // not shorter than the reader thread's own wait, which it has then ended when resumed
    const ms = Math.ceil(pacer.waitUs / 1000)
    if (this.#holdTimer === undefined || ms !== this.#holdMs) {
      this.#stopHoldTimer()
      this.#holdMs = ms
      this.#holdTimer = setTimeout(this.#readHeld, ms)
      this.#holdTimer.unref()
    } else this.#holdTimer.refresh()
    return true
  }

  #stopHoldTimer(): void {
    if (this.#holdTimer !== undefined) clearTimeout(this.#holdTimer)
    this.#holdTimer = undefined
  }

  /** Batch mode: `count` records from the binding, handed over as they are. */
  #takeRecords(count: number): void {
    if (count === 0) return
    this.#idle.batchArrived()
    const records = this.#records!
    const view = this.#view!
    const L = this.#layout!
    const batch = this.#batch
    batch.count = 0
    let carried = 0
    for (let i = 0; i < count; i++) {
      const at = i * BATCH_RECORD_BYTES
      const canId = view.getUint32(at + L.CAN_ID, true)
      const recordFlags = records[at + L.FLAGS]!
      let len = records[at + L.LENGTH]!
      let flags = 0
      let id: number
      if (canId & CAN_ID_FLAG.ERR) {
        flags = FRAME_FLAG.ERR
        id = canId & CAN_ERR_MASK
        if (len > 8) len = 8
      } else {
        if (canId & CAN_ID_FLAG.EFF) {
          flags = FRAME_FLAG.EXT
          id = canId & CAN_EFF_MASK
        } else id = canId & 0x7ff
        if (recordFlags & L.FLAG_FD) {
          flags |= FRAME_FLAG.FD
          if (recordFlags & L.FLAG_BRS) flags |= FRAME_FLAG.BRS
          if (recordFlags & L.FLAG_ESI) flags |= FRAME_FLAG.ESI
        } else if (canId & CAN_ID_FLAG.RTR) flags |= FRAME_FLAG.RTR
      }
      if (recordFlags & L.FLAG_OWN) flags |= FRAME_FLAG.TX
      const lost = carried + this.#drops.advance(view.getUint32(at + L.DROPS, true))
      if (frameProblem(id, flags, len) !== undefined) {
        carried = lost // the drops still happened before the frames that follow
        continue
      }
      carried = 0
      const seconds =
        view.getUint32(at + L.TS_SEC_LO, true) + view.getUint32(at + L.TS_SEC_HI, true) * TWO_POW_32
      const j = batch.push(seconds, view.getUint32(at + L.TS_NSEC, true), id, flags, len)
      batch.lostBefore[j] = lost
      batch.offsets[j] = at + L.DATA
    }
    if (batch.count > 0) this.#events?.onFrames(batch)
    batch.count = 0
    if (carried > 0) this.#events?.onKernelDrops?.(carried)
  }

  /**
   * Drops after the last frame queued show only in the socket's counter: read it once the
   * socket has gone idle (IdleDropCheck: a tick with a batch since the last, or a late one, is not).
   */
  #checkIdle(): void {
    const channel = this.#channel
    if (this.#idle.tick(performance.now()) && channel !== undefined) this.#readIdleDrops(channel)
  }

  #readIdleDrops(channel: NativeRawChannel): void {
    const lost = this.#drops.advance(channel.readDrops!())
    if (lost > 0) this.#events?.onKernelDrops?.(lost)
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
    this.#stopHoldTimer()
    this.#flush()
    this.#channel = undefined
    if (this.#closed) return
    this.#setState('gone', `interface ${this.name} disappeared; reopening when it is back`)
  }

  #pollLink(): void {
    const lost = this.#interfaceLoss?.sample() ?? 0
    if (lost > 0) this.#events?.onInterfaceLoss?.(lost)
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
