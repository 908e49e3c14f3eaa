// Where a worker's code finds its end of the supervisor's channel: parentPort and workerData in
// a worker thread, or, with --threads 1, the end the supervisor handed over when it started the
// side in its own thread (in-process-worker.ts; a restart hands over a new one). Module state
// on purpose: workerLog reads it from anywhere, as code in a worker reads parentPort.
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

/** The supervisor, before it starts a worker's side in its own thread (again at a restart). */
export function handOver(end: ThreadEnd): void {
  handedOver = end
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
