// The poll worker (--threads 3): the CAN side (can/channel-host.ts) in a thread of its own,
// talking to the socket-write worker over a MessagePort. Here: wiring only.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads'
import { CanOpenError } from './can/can-source.ts'
import { ChannelHost } from './can/channel-host.ts'
import { compactHeap } from './heap.ts'
import type { PollToSupervisor, PollWorkerData, SupervisorToPoll, WriteToPoll } from './messages.ts'
import { workerLog } from './worker-log.ts'

const settings = workerData as PollWorkerData
const parent = parentPort!

function post(message: PollToSupervisor): void {
  parent.postMessage(message)
}

let writePort: MessagePort | undefined
const host = new ChannelHost({
  settings,
  toWrite: (message) => writePort?.postMessage(message),
  log: workerLog,
})

parent.on('message', (message: SupervisorToPoll) => {
  switch (message.type) {
    case 'port':
      writePort?.close()
      writePort = message.port
      writePort.on('message', (m: WriteToPoll) => host.onWriteMessage(m))
      // the write worker is new (or restarted): it learns the bus states again
      host.replayBusStates()
      return
    case 'stop':
      host.stop()
      writePort?.close()
      post({ type: 'stopped' })
      return
    default:
      throw new Error(`unknown message from the supervisor: ${JSON.stringify(message)}`)
  }
})

// startup garbage goes before the first frame arrives (README: memory)
compactHeap()
try {
  post({ type: 'ready', channels: host.open() })
} catch (error) {
  if (!(error instanceof CanOpenError)) throw error
  post({ type: 'open-failed', channel: error.channel, code: error.code, message: error.message })
  parent.close()
  process.exit(0)
}
