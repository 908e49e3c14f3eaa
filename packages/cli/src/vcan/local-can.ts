// A raw CAN socket on a local interface of this workstation, through the patched `socketcan`
// binding (batch reading with exact CAN FD flags and kernel timestamps, errno on send). The
// binding is loaded only by `canbridge vcan`: the rest of the CLI runs where SocketCAN does not.

import { createRequire } from 'node:module'
import { CanMessage } from '@canbridge/server-bus'
import { CliError } from '../errors.ts'

const CAN_EFF_FLAG = 0x80000000
const CAN_RTR_FLAG = 0x40000000
const CAN_ERR_FLAG = 0x20000000
const CAN_EFF_MASK = 0x1fffffff
const CAN_SFF_MASK = 0x7ff
const CAN_RAW = 1
/** frames read per wake-up at most */
const RECORDS = 256

interface RecordLayout {
  TS_SEC_LO: number
  TS_SEC_HI: number
  TS_NSEC: number
  CAN_ID: number
  LENGTH: number
  FLAGS: number
  DATA: number
  FLAG_FD: number
  FLAG_BRS: number
  FLAG_ESI: number
}

interface RawChannel {
  addListener(event: 'onStopped', callback: () => void): void
  startBatch(records: Uint8Array, onBatch: (count: number) => void): void
  stop(): void
  send(message: { id: number; ext: boolean; rtr: boolean; data: Buffer }): number
  sendFD(message: {
    id: number
    ext: boolean
    fd_brs: boolean
    fd_esi: boolean
    data: Buffer
  }): number
}

interface Binding {
  RawChannel: new (
    name: string,
    timestamps: boolean,
    protocol: number,
    nonBlockSend: boolean,
  ) => RawChannel
  features?: { batch?: boolean; sendErrno?: boolean }
  BATCH_RECORD_BYTES?: number
  BATCH_RECORD?: RecordLayout
}

/** Why a local socket could not be used, said so that the operator knows what to do. */
export class LocalCanError extends CliError {
  override readonly name = 'LocalCanError'
}

function loadBinding(): Binding & Required<Pick<Binding, 'BATCH_RECORD' | 'BATCH_RECORD_BYTES'>> {
  let binding: Binding
  try {
    binding = createRequire(import.meta.url)('socketcan/build/Release/can.node') as Binding
  } catch (error) {
    throw new LocalCanError(
      `canbridge vcan needs Linux SocketCAN and the socketcan addon (${(error as Error).message}); install @canbridge/cli on Linux with a C++ toolchain`,
      { cause: error },
    )
  }
  if (
    !binding.features?.batch ||
    binding.BATCH_RECORD === undefined ||
    binding.BATCH_RECORD_BYTES === undefined
  ) {
    throw new LocalCanError(
      'the socketcan addon here is not canbridge-patched (no batch reading, no CAN FD flags): reinstall with pnpm, which applies patches/socketcan@4.3.1.patch',
    )
  }
  return binding as Binding & Required<Pick<Binding, 'BATCH_RECORD' | 'BATCH_RECORD_BYTES'>>
}

export type SendResult = 'sent' | 'full' | 'down' | 'error'

export class LocalCan {
  readonly name: string
  readonly #channel: RawChannel
  readonly #layout: RecordLayout
  readonly #recordBytes: number
  readonly #records: Uint8Array
  readonly #view: DataView

  constructor(name: string, onFrames: (messages: CanMessage[]) => void, onStopped: () => void) {
    const binding = loadBinding()
    this.name = name
    this.#layout = binding.BATCH_RECORD
    this.#recordBytes = binding.BATCH_RECORD_BYTES
    this.#records = new Uint8Array(RECORDS * this.#recordBytes)
    this.#view = new DataView(this.#records.buffer)
    try {
      this.#channel = new binding.RawChannel(name, true, CAN_RAW, true)
    } catch (error) {
      throw new LocalCanError(`cannot open a CAN socket on ${name}: ${(error as Error).message}`, {
        cause: error,
      })
    }
    this.#channel.addListener('onStopped', onStopped)
    this.#channel.startBatch(this.#records, (count) => onFrames(this.#messages(count)))
  }

  /** Puts a frame on the local interface; `full` when its queue is (ENOBUFS), counted by the caller. */
  send(message: CanMessage): SendResult {
    const id = message.arbitrationId
    const data = Buffer.from(message.data)
    const result = message.isFd
      ? this.#channel.sendFD({
          id,
          ext: message.isExtendedId,
          fd_brs: message.bitrateSwitch,
          fd_esi: message.errorStateIndicator,
          data,
        })
      : this.#channel.send({ id, ext: message.isExtendedId, rtr: message.isRemoteFrame, data })
    if (result >= 0) return 'sent'
    // the patched binding returns -errno: ENOBUFS 105, EAGAIN 11 (queue full), ENETDOWN 100
    if (result === -105 || result === -11) return 'full'
    if (result === -100) return 'down'
    return 'error'
  }

  close(): void {
    this.#channel.stop()
  }

  #messages(count: number): CanMessage[] {
    const L = this.#layout
    const view = this.#view
    const messages: CanMessage[] = []
    for (let i = 0; i < count; i++) {
      const at = i * this.#recordBytes
      const rawId = view.getUint32(at + L.CAN_ID, true)
      const flags = this.#records[at + L.FLAGS]!
      const length = this.#records[at + L.LENGTH]!
      const isErrorFrame = (rawId & CAN_ERR_FLAG) !== 0
      if (isErrorFrame) continue // the controller's own reports; nothing to forward
      const extended = (rawId & CAN_EFF_FLAG) !== 0
      const remote = (rawId & CAN_RTR_FLAG) !== 0
      const seconds =
        view.getUint32(at + L.TS_SEC_LO, true) + view.getUint32(at + L.TS_SEC_HI, true) * 2 ** 32
      const nanoseconds = view.getUint32(at + L.TS_NSEC, true)
      messages.push(
        new CanMessage({
          timestampNs: BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds),
          arbitrationId: extended ? rawId & CAN_EFF_MASK : rawId & CAN_SFF_MASK,
          isExtendedId: extended,
          isRemoteFrame: remote,
          isFd: (flags & L.FLAG_FD) !== 0,
          bitrateSwitch: (flags & L.FLAG_BRS) !== 0,
          errorStateIndicator: (flags & L.FLAG_ESI) !== 0,
          dlc: length,
          data: remote ? [] : this.#records.subarray(at + L.DATA, at + L.DATA + length),
          channel: this.name,
        }),
      )
    }
    return messages
  }
}
