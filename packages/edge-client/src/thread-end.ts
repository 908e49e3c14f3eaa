// Where a worker module finds its end of the supervisor's channel: parentPort and workerData in
// a worker thread, or, with --threads 1, the port and data the supervisor handed over before it
// imported the module into its own thread (in-process-worker.ts). Module state on purpose: the
// module reads it once, as it is evaluated, like parentPort.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads'

export interface ThreadEnd {
  port: MessagePort
  data: unknown
  /** true: the module runs in the main thread, which it must never end */
  inProcess: boolean
  /** a failure after the module was evaluated: the worker's error, or the in-process one's */
  fail: (error: unknown) => void
}

let handedOver: ThreadEnd | undefined

/** The supervisor, before importing a worker module into its own thread. */
export function handOver(port: MessagePort, data: unknown, fail: (error: unknown) => void): void {
  handedOver = { port, data, inProcess: true, fail }
}

/** This module's end: the one handed over, else the worker's (undefined in a plain main thread). */
export function threadEnd(): ThreadEnd | undefined {
  if (handedOver) return handedOver
  return parentPort
    ? { port: parentPort, data: workerData, inProcess: false, fail: failWorker }
    : undefined
}

/** Ends the worker with `error`, as an uncaught exception would ('error' in the supervisor). */
function failWorker(error: unknown): void {
  setImmediate(() => {
    throw error
  })
}
