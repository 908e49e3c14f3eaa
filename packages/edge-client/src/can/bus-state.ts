// Bus state from SocketCAN error frames (linux/can/error.h): the controller reports
// warning / passive / bus-off transitions as error classes and data[1] bits.
import type { BusStateName } from '@canbridge/protocol'

/** Error class bits in an error frame's id. */
export const CAN_ERR = {
  TX_TIMEOUT: 0x001,
  LOSTARB: 0x002,
  /** controller problems: details in data[1] */
  CRTL: 0x004,
  PROT: 0x008,
  TRX: 0x010,
  ACK: 0x020,
  BUSOFF: 0x040,
  BUSERROR: 0x080,
  /** the controller restarted after bus-off */
  RESTARTED: 0x100,
  CNT: 0x200,
} as const

/** data[1] bits of a CAN_ERR_CRTL error frame. */
export const CAN_ERR_CRTL = {
  RX_OVERFLOW: 0x01,
  TX_OVERFLOW: 0x02,
  RX_WARNING: 0x04,
  TX_WARNING: 0x08,
  RX_PASSIVE: 0x10,
  TX_PASSIVE: 0x20,
  /** back to error-active */
  ACTIVE: 0x40,
} as const

/** The state an error frame announces, or undefined when it announces none. */
export function busStateOfError(errorClass: number, data1: number): BusStateName | undefined {
  if (errorClass & CAN_ERR.BUSOFF) return 'bus-off'
  if (errorClass & CAN_ERR.RESTARTED) return 'active'
  if (errorClass & CAN_ERR.CRTL) {
    if (data1 & (CAN_ERR_CRTL.RX_PASSIVE | CAN_ERR_CRTL.TX_PASSIVE)) return 'passive'
    if (data1 & (CAN_ERR_CRTL.RX_WARNING | CAN_ERR_CRTL.TX_WARNING)) return 'warning'
    if (data1 & CAN_ERR_CRTL.ACTIVE) return 'active'
  }
  return undefined
}
