// The socketcand messages as values: what a client sends a server, and what a server sends.
import type { CanFrame } from '../frame.ts'
import type { SocketcandMode } from './constants.ts'

/** A BCM interval or throttle time, as the protocol carries it (two decimal fields). */
export interface SocketcandInterval {
  seconds: number
  /** 0..999999 (the kernel's BCM refuses more) */
  microseconds: number
}

/** A CAN id with its format: 3 hex digits on the wire for standard, 8 for extended. */
export interface SocketcandId {
  id: number
  extended: boolean
}

/** Client → server. Frames in commands carry timestampNs 0n. */
export type SocketcandClientMessage =
  /** `< open BUS >` */
  | { type: 'open'; bus: string }
  /** `< rawmode >`, `< bcmmode >`, `< controlmode >`, `< isotpmode >` */
  | { type: 'mode'; mode: SocketcandMode }
  /** `< echo >` */
  | { type: 'echo' }
  /** `< send ID DLC B* >`, or (extension) `< sendrtr ID DLC >`, `< fdsend ID FLAGS LEN B* >` */
  | { type: 'send'; frame: CanFrame }
  /** BCM `< add SEC USEC ID DLC B* >`: send cyclically */
  | { type: 'add'; interval: SocketcandInterval; frame: CanFrame }
  /** BCM `< update ID DLC B* >`: new content, same timer */
  | { type: 'update'; frame: CanFrame }
  /** BCM `< delete ID >` */
  | ({ type: 'delete' } & SocketcandId)
  /** BCM `< subscribe SEC USEC ID >` */
  | ({ type: 'subscribe'; interval: SocketcandInterval } & SocketcandId)
  /** BCM `< unsubscribe ID >` */
  | ({ type: 'unsubscribe' } & SocketcandId)
  /** BCM `< filter SEC USEC ID DLC MASK* >`: receive `id` when masked content changes */
  | ({ type: 'filter'; interval: SocketcandInterval; mask: Uint8Array } & SocketcandId)
  /** BCM `< muxfilter SEC USEC ID N B* >`: N 8-byte tuples, the first the multiplex mask */
  | ({ type: 'muxfilter'; interval: SocketcandInterval; tuples: Uint8Array[] } & SocketcandId)
  /** control mode `< statistics MS >`; 0 stops the reports */
  | { type: 'statistics'; intervalMs: number }
  /** canbridge extension: `< canbridge-ext VERSION FEATURE* >`, the features wanted */
  | { type: 'extension'; version: number; features: string[] }

/** Bus statistics of `< stat RBYTES RPACKETS TBYTES TPACKETS >` (unsigned 32-bit counters). */
export interface SocketcandStat {
  rxBytes: number
  rxPackets: number
  txBytes: number
  txPackets: number
}

/** Server → client. */
export type SocketcandServerMessage =
  /** `< hi >`, the greeting */
  | { type: 'hi' }
  /** `< ok >` */
  | { type: 'ok' }
  /** `< echo >`, the answer to one */
  | { type: 'echo' }
  /** `< error TEXT >`: a refused command (not an error frame) */
  | { type: 'error'; text: string }
  /**
   * A received frame: `< frame ... >`, an error frame `< error CLASS SEC.USEC ... >`, or
   * (extension) `< rtr ... >`, `< fdframe ... >`
   */
  | { type: 'frame'; frame: CanFrame }
  /** control mode `< stat ... >` */
  | ({ type: 'stat' } & SocketcandStat)
  /** canbridge extension: the answer, the features this connection now uses */
  | { type: 'extension'; version: number; features: string[] }

export type SocketcandClientMessageType = SocketcandClientMessage['type']
export type SocketcandServerMessageType = SocketcandServerMessage['type']
