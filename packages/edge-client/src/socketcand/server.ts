// The socketcand TCP server: accepts clients (each a SocketcandSession with a CAN socket of
// its own), bounds how many there are, and closes them all on stop.
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net'
import { formatSocketcandServerMessage, type SocketcandStat } from '@canbridge/protocol'
import type { CanSource } from '../can/can-source.ts'
import type { TxPolicy } from '../tx-policy/tx-policy.ts'
import { interfaceStatistics } from './bus-statistics.ts'
import type { SocketcandBus } from './buses.ts'
import { DEFAULT_MAX_QUEUED_BYTES } from './client-writer.ts'
import { type SocketcandLog, SocketcandSession } from './session.ts'

/** Each client holds a CAN socket and its buffers: more than this are turned away. */
export const DEFAULT_MAX_CLIENTS = 32

export interface SocketcandServerOptions {
  /** undefined = every address */
  host: string | undefined
  port: number
  buses: readonly SocketcandBus[]
  openSource(spec: string): CanSource
  /** what clients may put on the bus (listen-only, allow-list, rate limit) */
  txPolicy: TxPolicy
  txQueueLimit: number
  txTimeoutMs: number
  log: SocketcandLog
  /** error classes sent to raw-mode clients (socketcand's `-e`); default 0: none */
  errorMask?: number
  /** a line feed before each streamed message; default off, as socketcand */
  lineFeeds?: boolean
  maxClients?: number
  maxQueuedBytes?: number
  statistics?: (interfaceName: string) => SocketcandStat | undefined
}

export class SocketcandServer {
  readonly #options: SocketcandServerOptions
  readonly #server: Server
  readonly #sessions = new Set<SocketcandSession>()

  constructor(options: SocketcandServerOptions) {
    this.#options = options
    this.#server = createServer({ noDelay: true }, (socket) => this.#accept(socket))
  }

  get clients(): number {
    return this.#sessions.size
  }

  /** Starts listening; rejects with the listen error (EADDRINUSE, EACCES, ...). */
  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const server = this.#server
      const onError = (error: Error): void => reject(error)
      server.once('error', onError)
      server.listen({ host: this.#options.host, port: this.#options.port }, () => {
        server.off('error', onError)
        server.on('error', (error) =>
          this.#options.log('error', 'socketcand server error', { err: error.message }),
        )
        resolve(server.address() as AddressInfo)
      })
    })
  }

  /** Stops accepting and ends every session. */
  async close(reason = 'the edge is stopping'): Promise<void> {
    for (const session of [...this.#sessions]) session.close(reason)
    if (!this.#server.listening) return
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  #accept(socket: Socket): void {
    const o = this.#options
    const maxClients = o.maxClients ?? DEFAULT_MAX_CLIENTS
    if (this.#sessions.size >= maxClients) {
      const client = `${socket.remoteAddress}:${socket.remotePort}`
      o.log('warn', 'socketcand client turned away', {
        client,
        reason: `${maxClients} clients already connected`,
      })
      socket.end(
        formatSocketcandServerMessage({
          type: 'error',
          text: `too many clients: ${maxClients} are connected`,
        }),
      )
      return
    }
    const session = new SocketcandSession(socket, {
      buses: new Map(o.buses.map((bus) => [bus.name, bus])),
      openSource: o.openSource,
      statistics: o.statistics ?? ((name) => interfaceStatistics(name)),
      txPolicy: o.txPolicy,
      txQueueLimit: o.txQueueLimit,
      txTimeoutMs: o.txTimeoutMs,
      maxQueuedBytes: o.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES,
      errorMask: o.errorMask ?? 0,
      lineFeeds: o.lineFeeds ?? false,
      log: o.log,
      onClose: (closed) => this.#sessions.delete(closed),
    })
    this.#sessions.add(session)
  }
}
