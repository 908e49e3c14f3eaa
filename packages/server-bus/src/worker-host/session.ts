// What a module run by the worker host provides: `startSession(context)`, resolving once the
// session works (its listener is up), with handlers for the messages of the application's
// thread. The host runs any such module: TCPBus's edge server today, a fleet gateway later.

export interface WorkerSessionContext<Init, Out> {
  readonly init: Init
  /** posts a message to the application's thread */
  post(message: Out): void
  /** ends the worker once what was posted is sent: call it when the session has closed */
  exit(): void
}

export interface WorkerSession<In, Reply> {
  /** a message from the application's thread; throw for one the session does not know */
  onMessage(message: In): void
  /** a synchronous call from the application's thread (it is blocked until this returns) */
  onCall(message: In): Reply
}

export type StartSession<Init, In, Out, Reply> = (
  context: WorkerSessionContext<Init, Out>,
) => Promise<WorkerSession<In, Reply>>
