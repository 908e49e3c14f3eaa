// A CanSource for logic tests: frames are handed over when the test says, with the
// timestamps it gives, and every frame sent is recorded. (Real SocketCAN is tested in the
// kernel harness: test/kernel/socketcand*.test.ts.)
import type { CanFilter, TxFrame } from '@canbridge/protocol'
import { FRAME_FLAG, matchesFilters } from '@canbridge/protocol/frames'
import type {
  CanSource,
  CanSourceEvents,
  LinkState,
  SendOutcome,
} from '../../../src/can/can-source.ts'
import { FrameBatch } from '../../../src/can/frame-batch.ts'

export interface ScriptedFrame {
  seconds: number
  microseconds: number
  id: number
  flags?: number
  /** payload bytes; for a remote frame use `len` */
  data?: number[]
  len?: number
}

export class ScriptedSource implements CanSource {
  readonly name: string
  readonly fd: boolean
  linkState: LinkState = 'down'
  filters: readonly CanFilter[] = []
  readonly accounting = {
    kernelDrops: true,
    interfaceDrops: true,
    fdFlags: true,
    kernelEcho: false,
  }
  readonly sent: TxFrame[] = []
  /** each send first fails this many times with tx-queue-full */
  busy = 0
  closed = false
  #events: CanSourceEvents | undefined
  readonly #batch = new FrameBatch(1024)

  constructor(name: string, fd = true) {
    this.name = name
    this.fd = fd
  }

  open(events: CanSourceEvents): void {
    this.#events = events
    this.linkState = 'up'
    events.onLinkState('up', 'scripted')
  }

  close(): void {
    this.closed = true
    this.linkState = 'gone'
  }

  setFilters(filters: readonly CanFilter[]): void {
    this.filters = filters.slice()
  }

  send(frame: TxFrame): SendOutcome {
    if (frame.flags & FRAME_FLAG.FD && !this.fd)
      return { ok: false, error: 'invalid-frame', message: `${this.name} is not a CAN FD channel` }
    if (this.busy > 0) {
      this.busy--
      return { ok: false, error: 'tx-queue-full' }
    }
    this.sent.push({ ...frame, data: frame.data.slice() })
    return { ok: true }
  }

  /** Hands frames over in one batch, as a backend does; the kernel filters apply (not to error frames). */
  emit(frames: readonly ScriptedFrame[]): void {
    const batch = this.#batch
    batch.count = 0
    for (const f of frames) {
      const flags = f.flags ?? 0
      if (
        !(flags & FRAME_FLAG.ERR) &&
        !matchesFilters(this.filters, f.id, (flags & FRAME_FLAG.EXT) !== 0)
      )
        continue
      const data = f.data ?? []
      const i = batch.push(f.seconds, f.microseconds * 1000, f.id, flags, f.len ?? data.length)
      batch.data.set(data, i * 64)
    }
    if (batch.count > 0) this.#events?.onFrames(batch)
  }
}
