// A session module for the worker host's tests: does what each message says (echo, fail in
// one of the ways a worker can fail), answers calls with its count of messages.
import { parentPort } from 'node:worker_threads'
import type { WorkerSession, WorkerSessionContext } from '../../../src/worker-host/session.ts'

export type ScriptedCommand =
  | { do: 'echo'; text: string }
  | { do: 'throw'; text: string }
  | { do: 'exit'; code: number }
  | { do: 'spin' }
  | { do: 'stray' }
  | { do: 'close' }

export interface ScriptedInit {
  failStart: boolean
}

export async function startSession(
  context: WorkerSessionContext<ScriptedInit, string>,
): Promise<WorkerSession<ScriptedCommand, number>> {
  if (context.init.failStart) throw new RangeError('this session does not start')
  let messages = 0
  return {
    onMessage(command) {
      messages++
      switch (command.do) {
        case 'echo':
          context.post(command.text)
          return
        case 'throw':
          throw new Error(command.text)
        case 'exit':
          process.exit(command.code)
          return
        case 'spin':
          for (;;) {}
        case 'stray':
          // the worker's own channel: the host takes nothing from it
          parentPort?.postMessage('stray')
          return
        case 'close':
          context.post('closing')
          context.exit()
          return
      }
    },
    onCall() {
      return messages
    },
  }
}
