// What the poll worker needs from a CAN backend: open and close a channel, receive frames
// in batches, send one frame without blocking, kernel-side filters, and the link state.

import type { CanFilter, TransmitError, TxFrame } from '@canbridge/protocol'
import { matchesFilters as matchesFiltersOfProtocol } from '@canbridge/protocol/frames'
import { EdgeError } from '../errors.ts'
import type { FrameBatch } from './frame-batch.ts'

/** up: frames flow; down: the interface is administratively down; gone: it disappeared. */
export type LinkState = 'up' | 'down' | 'gone'

export type SendOutcome =
  | { ok: true }
  | {
      ok: false
      error: Extract<
        TransmitError,
        'tx-queue-full' | 'interface-down' | 'invalid-frame' | 'internal'
      >
      message?: string
    }

export interface CanSourceEvents {
  /** A batch of received frames; the batch is reused after the call returns. */
  onFrames(batch: FrameBatch): void
  /** The link changed state; `reason` says why, for the log. */
  onLinkState(state: LinkState, reason: string): void
  /**
   * The kernel dropped `count` frames from the socket queue after the last frame handed
   * over (found when the socket went idle, or at close). Drops before a frame come with
   * it, in `FrameBatch.lostBefore`.
   */
  onKernelDrops?(count: number): void
  /** The interface's controller or driver lost `count` frames (its own counters). */
  onInterfaceLoss?(count: number): void
}

/** What a source can account for; the edge's HELLO capabilities follow from them. */
export interface SourceAccounting {
  /** every frame the kernel drops from the socket queue is reported */
  kernelDrops: boolean
  /** the interface's loss counters are reported */
  interfaceDrops: boolean
  /** FD, BRS and ESI are exact on received frames */
  fdFlags: boolean
  /** echoes of own frames come from the kernel (TX flag on received frames) */
  kernelEcho: boolean
}

export interface CanSource {
  /** the channel's name as offered in HELLO (`can0`, `virtual:demo`) */
  readonly name: string
  /** whether the channel carries CAN FD frames */
  readonly fd: boolean
  readonly linkState: LinkState
  /** known once open */
  readonly accounting: SourceAccounting
  /** Opens the channel; throws a CanOpenError that says what to fix. */
  open(events: CanSourceEvents): void
  /** Idempotent. */
  close(): void
  /** Puts one frame on the bus without blocking. */
  send(frame: TxFrame): SendOutcome
  /** Replaces the receive filters (python-can rule); an empty list receives everything. */
  setFilters(filters: readonly CanFilter[]): void
}

export const CAN_OPEN_ERROR = {
  NO_SUCH_INTERFACE: 'no-such-interface',
  NOT_CAN: 'not-can',
  NO_SOCKETCAN: 'no-socketcan',
  PERMISSION_DENIED: 'permission-denied',
  OPEN_FAILED: 'open-failed',
} as const
export type CanOpenErrorCode = (typeof CAN_OPEN_ERROR)[keyof typeof CAN_OPEN_ERROR]

export class CanOpenError extends EdgeError {
  override readonly name = 'CanOpenError'
  readonly code: CanOpenErrorCode
  readonly channel: string

  constructor(
    code: CanOpenErrorCode,
    channel: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.code = code
    this.channel = channel
  }
}

/** SocketCAN's flag bits in a can_id (linux/can.h). */
export const CAN_ID_FLAG = {
  EFF: 0x80000000,
  RTR: 0x40000000,
  ERR: 0x20000000,
} as const

/**
 * @deprecated the one filter rule is the protocol's: `matchesFilters(filters, id, extended)`
 * from `@canbridge/protocol` (filters first). This order stays for existing callers.
 */
export function matchesFilters(
  id: number,
  extended: boolean,
  filters: readonly CanFilter[],
): boolean {
  return matchesFiltersOfProtocol(filters, id, extended)
}

/** The same filters as struct can_filter values for CAN_RAW_FILTER. */
export function kernelFilters(
  filters: readonly CanFilter[],
): { id: number; mask: number; invert: boolean }[] {
  if (filters.length === 0) return [{ id: 0, mask: 0, invert: false }]
  return filters.map((filter) => {
    if (filter.extended === undefined)
      return { id: filter.canId, mask: filter.canMask, invert: false }
    return {
      id: (filter.extended ? filter.canId | CAN_ID_FLAG.EFF : filter.canId) >>> 0,
      mask: (filter.canMask | CAN_ID_FLAG.EFF) >>> 0,
      invert: false,
    }
  })
}
