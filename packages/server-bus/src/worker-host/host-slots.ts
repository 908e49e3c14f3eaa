// The Int32 slots a worker host shares with its worker (Atomics), named.

export const HOST_SLOT = {
  /** worker: incremented every heartbeat interval while its event loop turns */
  HEARTBEAT: 0,
  /** worker: 1 once the reply to a synchronous call is on the reply port */
  REPLY_READY: 1,
} as const
export const HOST_SLOTS = 2
