// Replaces `node:worker_threads` for the bundled edge code: a Worker whose script is one of
// the bundled worker files (by its virtual path, see runtime.ts) runs that file's bundle,
// an ES module embedded as a string, from a data: URL (an ES module, unlike eval code, may
// use top-level await). Everything else is node:worker_threads itself.

import { WORKERS } from 'canbridge-sea:embedded'
import * as threads from 'node:worker_threads'
import { virtualPath } from '../runtime.ts'

export * from 'node:worker_threads'

export class Worker extends threads.Worker {
  constructor(filename: string | URL, options?: threads.WorkerOptions) {
    const file = options?.eval ? undefined : virtualPath(filename)
    if (file === undefined) {
      super(filename, options)
      return
    }
    const code = WORKERS[file]
    if (code === undefined) {
      throw new Error(
        `canbridge-edge: worker ${file} is not part of this executable (bundled: ${Object.keys(WORKERS).join(', ')})`,
      )
    }
    super(new URL(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`), options)
  }
}
