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
}

let handedOver: ThreadEnd | undefined

/** The supervisor, before importing a worker module into its own thread. */
export function handOver(port: MessagePort, data: unknown): void {
  handedOver = { port, data, inProcess: true }
}

/** This module's end: the one handed over, else the worker's (undefined in a plain main thread). */
export function threadEnd(): ThreadEnd | undefined {
  if (handedOver) return handedOver
  return parentPort ? { port: parentPort, data: workerData, inProcess: false } : undefined
}
