// Replaces `node:worker_threads` for the bundled edge code: a Worker whose script is one of
// the bundled worker files (by its virtual path, see runtime.ts) runs that file's bundle, an
// ES module (read from the executable's assets, or embedded as a string where the runtime
// has no assets: build.ts workerSourceModule), from a data: URL (an ES module, unlike eval
// code, may use top-level await). Everything else is node:worker_threads itself.

import { WORKER_NAMES, workerSource } from 'canbridge-sea:embedded'
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
    const code = workerSource(file)
    if (code === undefined) {
      throw new Error(
        `canbridge-edge: worker ${file} is not part of this executable (bundled: ${WORKER_NAMES.join(', ')})`,
      )
    }
    super(new URL(`data:text/javascript;base64,${code.toString('base64')}`), options)
  }
}
