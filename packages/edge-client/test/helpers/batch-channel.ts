// The patched socketcan binding as the kernel tests use it: its batch records decoded at the
// offsets the contract gives (patches/README.md), not the binding's own constants, so that a
// layout the binding got wrong shows up here.
import { createRequire } from 'node:module'

/** The record layout as documented (the binding's BATCH_RECORD must agree). */
export const RECORD = {
  BYTES: 88,
  TS_SEC_LO: 0,
  TS_SEC_HI: 4,
  TS_NSEC: 8,
  CAN_ID: 12,
  LENGTH: 16,
  FLAGS: 17,
  DROPS: 20,
  DATA: 24,
  FLAG_FD: 0x01,
  FLAG_BRS: 0x02,
  FLAG_ESI: 0x04,
  FLAG_OWN: 0x08,
  FLAG_LOCAL: 0x10,
  FLAG_HW_TIMESTAMP: 0x20,
} as const

const CAN_EFF_FLAG = 0x80000000
const CAN_RTR_FLAG = 0x40000000
const CAN_ERR_FLAG = 0x20000000
const CAN_RAW = 1

/** What onMessage gives: one plain object per frame (the tests look at its keys). */
export type NativeMessage = { readonly data: Buffer } & Readonly<Record<string, unknown>>

export interface PatchedRawChannel {
  addListener(event: 'onMessage', callback: (message: NativeMessage) => void): void
  addListener(event: 'onStopped', callback: () => void): void
  start(): void
  stop(): void
  startBatch(records: Uint8Array, onBatch: (count: number) => boolean | undefined): void
  readBatch(): number
  resumeBatch(): void
  readDrops(): number
  setRecvOwnMsgs(on: boolean): void
  setReceiveBuffer(bytes: number, force: boolean): number
  setBatchWait(microseconds: number): void
  send(message: { id: number; ext: boolean; rtr: boolean; data: Buffer }): number
  sendFD(message: {
    id: number
    ext: boolean
    fd_brs: boolean
    fd_esi: boolean
    data: Buffer
  }): number
}

export interface PatchedBinding {
  RawChannel: new (
    name: string,
    timestamps: boolean,
    protocol: number,
    nonBlockSend: boolean,
  ) => PatchedRawChannel
  features?: Readonly<Record<string, boolean | number>>
  BATCH_RECORD_BYTES?: number
  BATCH_RECORD?: Readonly<Record<string, number>>
  decodeReceivedMessage?: (
    frame: Uint8Array,
    control: Uint8Array,
    msgFlags: number,
    record: Uint8Array,
    previousDrops: number,
  ) => number
}

/** The addon the edge loads (the workspace's patched build). */
export function loadBinding(): PatchedBinding {
  return createRequire(import.meta.url)('socketcan/build/Release/can.node') as PatchedBinding
}

export function openChannel(iface: string, timestamps = true): PatchedRawChannel {
  return new (loadBinding().RawChannel)(iface, timestamps, CAN_RAW, false)
}

/** One record, decoded. */
export interface BatchFrame {
  sec: bigint
  nsec: number
  canId: number
  len: number
  flags: number
  drops: number
  data: Uint8Array
}

export function decodeRecord(records: Uint8Array, index: number): BatchFrame {
  const at = index * RECORD.BYTES
  const view = new DataView(records.buffer, records.byteOffset + at, RECORD.BYTES)
  const len = view.getUint8(RECORD.LENGTH)
  return {
    sec:
      BigInt(view.getUint32(RECORD.TS_SEC_LO, true)) |
      (BigInt(view.getUint32(RECORD.TS_SEC_HI, true)) << 32n),
    nsec: view.getUint32(RECORD.TS_NSEC, true),
    canId: view.getUint32(RECORD.CAN_ID, true),
    len,
    flags: view.getUint8(RECORD.FLAGS),
    drops: view.getUint32(RECORD.DROPS, true),
    data: records.slice(at + RECORD.DATA, at + RECORD.DATA + len),
  }
}

/** A channel read with startBatch(): every record decoded and kept, in order. */
export class BatchReader {
  readonly frames: BatchFrame[] = []
  readonly batches: number[] = []
  readonly channel: PatchedRawChannel
  readonly #records: Uint8Array

  constructor(channel: PatchedRawChannel, capacity = 64) {
    this.channel = channel
    // a SharedArrayBuffer, as the edge's ring will be
    this.#records = new Uint8Array(new SharedArrayBuffer(capacity * RECORD.BYTES))
  }

  /** what onBatch returns: true holds the reader thread (then read with readBatch()) */
  hold = false

  start(): this {
    this.channel.startBatch(this.#records, (count) => {
      this.batches.push(count)
      this.#keep(count)
      return this.hold
    })
    return this
  }

  /** readBatch(): what is queued now, kept like a batch; returns the count. */
  readBatch(): number {
    const count = this.channel.readBatch()
    this.#keep(count)
    return count
  }

  #keep(count: number): void {
    for (let i = 0; i < count; i++) this.frames.push(decodeRecord(this.#records, i))
  }

  stop(): void {
    this.channel.stop()
  }
}

const hex = (data: Uint8Array): string => Buffer.from(data).toString('hex').toUpperCase()

/**
 * A record as `candump -L` (can-utils 2020.11, lib.c sprint_canframe) prints the frame:
 * `(sec.usec) iface ID#DATA`, `ID#R[len]`, FD as `ID##<flags>DATA` (BRS 1, ESI 2).
 */
export function candumpLineOf(frame: BatchFrame, iface: string): string {
  const usec = String(Math.floor(frame.nsec / 1000)).padStart(6, '0')
  const time = `(${String(frame.sec).padStart(10, '0')}.${usec})`
  const id =
    frame.canId & CAN_ERR_FLAG
      ? (frame.canId & 0x3fffffff).toString(16).toUpperCase().padStart(8, '0')
      : frame.canId & CAN_EFF_FLAG
        ? (frame.canId & 0x1fffffff).toString(16).toUpperCase().padStart(8, '0')
        : (frame.canId & 0x7ff).toString(16).toUpperCase().padStart(3, '0')
  if (frame.flags & RECORD.FLAG_FD) {
    const fdFlags =
      (frame.flags & RECORD.FLAG_BRS ? 1 : 0) | (frame.flags & RECORD.FLAG_ESI ? 2 : 0)
    return `${time} ${iface} ${id}##${fdFlags}${hex(frame.data)}`
  }
  if (frame.canId & CAN_RTR_FLAG) {
    return `${time} ${iface} ${id}#R${frame.len > 0 ? frame.len.toString(16).toUpperCase() : ''}`
  }
  return `${time} ${iface} ${id}#${hex(frame.data)}`
}

/**
 * candump's FD flag digit is the kernel's `flags` nibble: kernels from 6.2 on add CANFD_FDF
 * (4) to every FD frame, which the record carries as its FD bit. Keep BRS and ESI only.
 */
export function withoutFdfDigit(line: string): string {
  return line.replace(/##([0-9A-F])/, (_, digit: string) => `##${Number.parseInt(digit, 16) & 3}`)
}

/** cangen -D i: the payload's first 4 bytes, little-endian, count the frames from 0. */
export function counterOf(frame: BatchFrame | NativeMessage): number {
  const data = frame.data
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0, true)
}

/** An 8-byte payload holding `counter` as cangen -D i writes it. */
export function counterPayload(counter: number): Buffer {
  const data = Buffer.alloc(8)
  data.writeUInt32LE(counter, 0)
  return data
}
