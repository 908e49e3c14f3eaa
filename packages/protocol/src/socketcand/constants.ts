// Constants of the socketcand text protocol (linux-can/socketcand doc/protocol.md) and of
// canbridge's opt-in extension; PROTOCOL.md "socketcand text codec" is the authority here.

/** socketcand's TCP port. */
export const SOCKETCAND_PORT = 29536
/** UDP port of socketcand's discovery beacon (`<CANBeacon ...>`). */
export const SOCKETCAND_BEACON_PORT = 42000

/**
 * Default bound on one `< ... >` message, in bytes: socketcand's own receive buffer
 * (MAXLEN = 2 * 4095 + 100, room for an ISO-TP PDU in hex). The longest frame message,
 * a 64-byte CAN FD frame, takes under 200.
 */
export const SOCKETCAND_MAX_MESSAGE_LENGTH = 8290

/** Longest bus name `< open BUS >` may carry (socketcand's MAX_BUSNAME less its NUL). */
export const SOCKETCAND_MAX_BUS_NAME = 16

/** The modes a client switches between with `< rawmode >` and friends. */
export const SOCKETCAND_MODES = ['raw', 'bcm', 'control', 'isotp'] as const
export type SocketcandMode = (typeof SOCKETCAND_MODES)[number]

/** Bits of the FLAGS field of `fdframe` / `fdsend`: Linux `struct canfd_frame.flags`. */
export const SOCKETCAND_FD_FLAG = {
  /** CANFD_BRS: bit-rate switch */
  BRS: 0x01,
  /** CANFD_ESI: error state indicator of the transmitter */
  ESI: 0x02,
  /** CANFD_FDF: marks a CAN FD frame (newer kernels set it); ignored when read */
  FDF: 0x04,
} as const

/** Keyword of canbridge's extension handshake: `< canbridge-ext VERSION FEATURE* >`. */
export const SOCKETCAND_EXTENSION_KEYWORD = 'canbridge-ext'
/** The extension version this codec speaks. */
export const SOCKETCAND_EXTENSION_VERSION = 1
/**
 * Features of the extension. `rtr`: `< rtr ... >` received, `< sendrtr ... >` sent.
 * `fd`: `< fdframe ... >` received, `< fdsend ... >` sent. `errdata`: error frames carry
 * their 8 data bytes (`< error CLASS SEC.USEC HEX >`).
 */
export const SOCKETCAND_EXTENSION_FEATURES = ['rtr', 'fd', 'errdata'] as const
export type SocketcandExtensionFeature = (typeof SOCKETCAND_EXTENSION_FEATURES)[number]
