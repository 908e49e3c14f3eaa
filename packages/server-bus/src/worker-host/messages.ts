// Every message between a worker host and its worker shell. The session's own messages
// travel inside as `body`, typed by the session (see bus-worker/messages.ts).
import type { MessagePort } from 'node:worker_threads'
import type { TransferredError } from './transferred-error.ts'

/** Application's thread → worker. */
export type ToWorkerShell<In> =
  /** a message for the session */
  | { kind: 'message'; body: In }
  /** a synchronous call: the reply goes to the reply port, then REPLY_READY is set */
  | { kind: 'call'; id: number; body: In }

/** Worker → application's thread. */
export type FromWorkerShell<Out> =
  /** from the session */
  | { kind: 'message'; body: Out }
  /** the session module is loaded and started */
  | { kind: 'started' }
  /** it could not start (the worker then ends) */
  | { kind: 'startFailed'; error: TransferredError }

/** On the reply port: the answer to call `id`. */
export interface ShellReply<Reply> {
  id: number
  body: Reply
}

/** What the shell gets as workerData. */
export interface WorkerShellData<Init> {
  /** the session module: exports `startSession` (see session.ts) */
  moduleUrl: string
  init: Init
  /** HOST_SLOTS Int32 slots */
  control: SharedArrayBuffer
  replyPort: MessagePort
  /**
   * where every FromWorkerShell message goes: the application's thread can also take them
   * synchronously (receiveMessageOnPort), so that it sees an event before frames written after it
   */
  eventPort: MessagePort
  heartbeatMs: number
}
