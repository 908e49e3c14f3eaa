// Wire constants of the canbridge protocol; PROTOCOL.md is the authority for each value.

/** ASCII "CANB": the first four bytes each end sends. */
export const MAGIC = Uint8Array.of(0x43, 0x41, 0x4e, 0x42)
export const PROTOCOL_VERSION = 1
export const PREAMBLE_BYTES = 8
export const HEADER_BYTES = 8
export const BATCH_HEADER_BYTES = 12
export const RECORD_HEADER_BYTES = 14
/** Where each field of a frame record starts (PROTOCOL.md §6.2): the one owner of the layout. */
export const RECORD_FIELD = {
  /** u64 nanoseconds */
  TIMESTAMP: 0,
  /** u32 identifier */
  ID: 8,
  FLAGS: 12,
  LEN: 13,
  /** absent for a remote frame */
  DATA: 14,
} as const

export const MAX_MESSAGE_BYTES = 1_048_576
export const MAX_BATCH_FRAMES = 4096
export const MAX_SEQUENCE = Number.MAX_SAFE_INTEGER

/** Token authentication (PROTOCOL.md §5.13): nonce and HMAC-SHA-256 proof sizes. */
export const AUTH_NONCE_BYTES = 32
export const AUTH_PROOF_BYTES = 32

export const ROLE = {
  /** the daemon next to the bus */
  EDGE: 1,
  /** the TCPBus on the workstation */
  SERVER: 2,
} as const
export type Role = (typeof ROLE)[keyof typeof ROLE]

export const MESSAGE_TYPE = {
  HELLO: 0x01,
  WELCOME: 0x02,
  /** token authentication: the server's nonce and its proof of the edge's token */
  AUTH_CHALLENGE: 0x03,
  /** token authentication: the edge's proof */
  AUTH_RESPONSE: 0x04,
  /** binary batch of frame records */
  DATA: 0x10,
  ACK: 0x11,
  DROPS: 0x12,
  TRANSMIT: 0x20,
  TRANSMIT_RESULT: 0x21,
  SET_FILTERS: 0x22,
  PERIODIC_START: 0x23,
  PERIODIC_MODIFY: 0x24,
  PERIODIC_STOP: 0x25,
  HEARTBEAT: 0x30,
  STATS: 0x31,
  BUS_STATE: 0x32,
  ERROR: 0x3f,
} as const
export type MessageTypeName = keyof typeof MESSAGE_TYPE
export type MessageType = (typeof MESSAGE_TYPE)[MessageTypeName]

/** Which role may send each type: a decoder refuses the other direction. */
export const SENDER_OF_TYPE: ReadonlyMap<number, Role | 'both'> = new Map<number, Role | 'both'>([
  [MESSAGE_TYPE.HELLO, ROLE.EDGE],
  [MESSAGE_TYPE.WELCOME, ROLE.SERVER],
  [MESSAGE_TYPE.AUTH_CHALLENGE, ROLE.SERVER],
  [MESSAGE_TYPE.AUTH_RESPONSE, ROLE.EDGE],
  [MESSAGE_TYPE.DATA, ROLE.EDGE],
  [MESSAGE_TYPE.ACK, ROLE.SERVER],
  [MESSAGE_TYPE.DROPS, ROLE.EDGE],
  [MESSAGE_TYPE.TRANSMIT, ROLE.SERVER],
  [MESSAGE_TYPE.TRANSMIT_RESULT, ROLE.EDGE],
  [MESSAGE_TYPE.SET_FILTERS, ROLE.SERVER],
  [MESSAGE_TYPE.PERIODIC_START, ROLE.SERVER],
  [MESSAGE_TYPE.PERIODIC_MODIFY, ROLE.SERVER],
  [MESSAGE_TYPE.PERIODIC_STOP, ROLE.SERVER],
  [MESSAGE_TYPE.HEARTBEAT, 'both'],
  [MESSAGE_TYPE.STATS, ROLE.EDGE],
  [MESSAGE_TYPE.BUS_STATE, ROLE.EDGE],
  [MESSAGE_TYPE.ERROR, 'both'],
])

export const FRAME_FLAG = {
  /** 29-bit identifier */
  EXT: 0x01,
  /** remote transmission request: len is the DLC, no data bytes */
  RTR: 0x02,
  /** SocketCAN error frame: id holds the error class bits */
  ERR: 0x04,
  FD: 0x08,
  /** CAN FD bit-rate switch */
  BRS: 0x10,
  /** CAN FD error state indicator */
  ESI: 0x20,
  /** the edge's own transmitted frame, echoed back */
  TX: 0x40,
  /** must be zero in version 1 */
  RESERVED: 0x80,
} as const

export const MAX_STANDARD_ID = 0x7ff
export const MAX_EXTENDED_ID = 0x1fffffff
export const MAX_CLASSIC_LENGTH = 8
export const MAX_FD_LENGTH = 64
/** Data lengths a CAN FD frame may have (DLC 0..15). */
export const FD_LENGTHS: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64]
