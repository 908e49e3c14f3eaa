// A bus session for the worker-failure tests: listens nowhere, and fails the way the first
// send's channel names (`crash/...`: an uncaught error; `exit/...`: an exit; `spin/...`: stuck).
import type {
  BusWorkerInit,
  BusWorkerReply,
  FromBusWorker,
  ToBusWorker,
} from '../../../src/bus-worker/messages.ts'
import type { WorkerSession, WorkerSessionContext } from '../../../src/worker-host/session.ts'

export async function startSession(
  context: WorkerSessionContext<BusWorkerInit, FromBusWorker>,
): Promise<WorkerSession<ToBusWorker, BusWorkerReply>> {
  context.post({
    type: 'listening',
    address: { port: 1, host: '127.0.0.1' },
    view: { edges: [], channels: [] },
  })
  return {
    onMessage(message) {
      if (message.type !== 'send') return
      const how = message.channel.split('/')[0]
      if (how === 'crash') throw new Error('the session broke')
      if (how === 'exit') process.exit(7)
      if (how === 'spin') for (;;) {}
    },
    onCall() {
      throw new Error('no stats here')
    },
  }
}
