// The socketcand worker: serves socketcand clients (python-can's `socketcand` interface,
// SavvyCAN, Kayak) beside the canbridge link, each with a CAN socket of its own, and sends
// the discovery beacon. A thread of its own, so clients never slow the poll worker.
import { hostname } from 'node:os'
import { parentPort, workerData } from 'node:worker_threads'
import type { CanSource } from '../can/can-source.ts'
import { SocketCanSource } from '../can/socketcan-source.ts'
import { VIRTUAL_PREFIX, VirtualSource } from '../can/virtual-source.ts'
import { compactHeap } from '../heap.ts'
import { TxPolicy } from '../tx-policy/tx-policy.ts'
import { workerLog } from '../worker-log.ts'
import { Beacon } from './beacon.ts'
import { socketcandBuses } from './buses.ts'
import { SocketcandServer } from './server.ts'
import type {
  SocketcandToSupervisor,
  SocketcandWorkerData,
  SupervisorToSocketcand,
} from './worker-messages.ts'

const settings: SocketcandWorkerData = workerData
const toSupervisor = (message: SocketcandToSupervisor): void => parentPort!.postMessage(message)

function openSource(spec: string): CanSource {
  return spec.startsWith(VIRTUAL_PREFIX) ? new VirtualSource(spec) : new SocketCanSource(spec)
}

const { buses, refused } = socketcandBuses(settings.channels)
for (const { channel, reason } of refused)
  workerLog('warn', 'channel not served over socketcand', { channel, reason })

const server = new SocketcandServer({
  host: settings.host,
  port: settings.port,
  buses,
  openSource,
  // one policy for every client: they share each channel's rate limit
  txPolicy: new TxPolicy(settings.txPolicy, settings.channels.length, settings.txRefusals),
  txQueueLimit: settings.txQueueLimit,
  txTimeoutMs: settings.txTimeoutMs,
  errorMask: settings.errorMask,
  lineFeeds: settings.lineFeeds,
  log: workerLog,
})
let beacon: Beacon | undefined

parentPort!.on('message', (message: SupervisorToSocketcand) => {
  switch (message.type) {
    case 'stop':
      beacon?.stop()
      void server.close().then(() => toSupervisor({ type: 'stopped' }))
      return
    default:
      throw new Error(`unknown message from the supervisor: ${JSON.stringify(message)}`)
  }
})

compactHeap()
try {
  const address = await server.listen()
  const where = `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
  workerLog('info', 'serving socketcand', {
    address: where,
    buses: buses.map((bus) => bus.name),
    beacon: settings.beacon,
  })
  if (!isLoopbackAddress(address.address)) {
    workerLog(
      'warn',
      'socketcand authenticates no one: anyone who reaches this address can read the buses and, unless --listen-only, write to them',
      { address: where },
    )
  }
  if (settings.beacon) {
    beacon = new Beacon({
      hostName: hostname(),
      description: 'canbridge-edge',
      listenAddress: address.address,
      port: address.port,
      buses: buses.map((bus) => bus.name),
      log: workerLog,
    })
    beacon.start()
  }
  toSupervisor({ type: 'listening', address: address.address, port: address.port })
} catch (error) {
  const e = error as NodeJS.ErrnoException
  if (typeof e.code !== 'string') throw error
  toSupervisor({ type: 'listen-failed', code: e.code, message: e.message })
}

function isLoopbackAddress(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.')
}
