// A TCP relay in front of the server: the edge dials the relay, which forwards every byte to
// the real TCPBus. Closing the relay makes the server unreachable (refused connections, the
// live one cut) while the TCPBus keeps its per-channel sequence history, so its gap and
// duplicate accounting spans the outage.
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'

export class TcpRelay {
  readonly #targetPort: number
  readonly #sockets = new Set<Socket>()
  #server: Server | null = null
  #port = 0

  constructor(targetPort: number) {
    this.#targetPort = targetPort
  }

  /** The port the relay listens on (the same one again after a reopen). */
  get port(): number {
    return this.#port
  }

  get open(): boolean {
    return this.#server !== null
  }

  /** Listens on 127.0.0.1 (a free port the first time, the previous one afterwards). */
  async listen(): Promise<number> {
    if (this.#server) return this.#port
    const server = createServer((inbound) => this.#relay(inbound))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.#port, '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
    this.#server = server
    this.#port = (server.address() as { port: number }).port
    return this.#port
  }

  /** Stops listening and cuts every relayed connection (both ends): the server is gone. */
  async close(): Promise<void> {
    const server = this.#server
    if (!server) return
    this.#server = null
    for (const socket of this.#sockets) socket.destroy()
    this.#sockets.clear()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  #relay(inbound: Socket): void {
    const outbound = tcpConnect(this.#targetPort, '127.0.0.1')
    for (const socket of [inbound, outbound]) {
      this.#sockets.add(socket)
      socket.setNoDelay(true)
      // either side failing ends the pair; the error itself is the edge's or the bus's to report
      socket.on('error', () => {
        inbound.destroy()
        outbound.destroy()
      })
      socket.once('close', () => {
        this.#sockets.delete(socket)
        inbound.destroy()
        outbound.destroy()
      })
    }
    inbound.pipe(outbound)
    outbound.pipe(inbound)
  }
}
