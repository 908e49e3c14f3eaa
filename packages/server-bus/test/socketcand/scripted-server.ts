// A scripted socketcand server on real loopback TCP: it writes literal socketcand strings
// and records what the bus sends. Client messages are cut with a plain regular expression
// (not the codec under test); the default script answers the handshake as socketcand does.
import { createServer, type Server, type Socket } from 'node:net'

export interface ScriptedServerOptions {
  /** buses `< open >` accepts (default vcan0); others get socketcand's refusal and a close */
  buses?: string[]
  /**
   * Answer to `< canbridge-ext ... >`: a literal to write, `'socketcand'` for socketcand's
   * `< error unknown command >`, `null` for silence. Default `'socketcand'`.
   */
  extension?: string | null
  /** answer `< echo >` (default true) */
  echo?: boolean
  /** the greeting (default `< hi >`) */
  greeting?: string
}

export class ScriptedConnection {
  readonly socket: Socket
  /** every message the client sent, in order */
  readonly received: string[] = []
  /** the client's messages without its keepalive echoes */
  get commands(): string[] {
    return this.received.filter((m) => m !== '< echo >')
  }
  #text = ''
  #waiters = new Set<() => void>()
  #closed: Promise<void>

  constructor(
    socket: Socket,
    onMessage: (connection: ScriptedConnection, message: string) => void,
  ) {
    this.socket = socket
    socket.setNoDelay(true)
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      this.#text += chunk
      for (const match of this.#text.matchAll(/<[^<>]*>/g)) {
        this.received.push(match[0])
        onMessage(this, match[0])
      }
      this.#text = this.#text.slice(this.#text.lastIndexOf('>') + 1)
      for (const wake of [...this.#waiters]) wake()
    })
    socket.on('error', () => {})
    this.#closed = new Promise((resolve) => socket.once('close', () => resolve()))
  }

  write(text: string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.write(text, 'latin1', (error) => (error ? reject(error) : resolve())),
    )
  }

  /** Writes `text` one byte per TCP write, with a pause between bytes. */
  async trickle(text: string, pauseMs = 1): Promise<void> {
    for (const char of text) {
      await this.write(char)
      await new Promise((resolve) => setTimeout(resolve, pauseMs))
    }
  }

  /** Resolves once the client has sent `count` commands (echoes not counted). */
  async waitForCommands(count: number, timeoutMs = 3000): Promise<string[]> {
    const deadline = performance.now() + timeoutMs
    while (this.commands.length < count) {
      const left = deadline - performance.now()
      if (left <= 0) {
        throw new Error(
          `only ${this.commands.length} of ${count} commands: ${JSON.stringify(this.commands)}`,
        )
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer)
          this.#waiters.delete(wake)
          resolve()
        }
        const timer = setTimeout(wake, left)
        this.#waiters.add(wake)
      })
    }
    return this.commands
  }

  get closed(): Promise<void> {
    return this.#closed
  }

  destroy(): void {
    this.socket.destroy()
  }
}

export class ScriptedSocketcand {
  readonly connections: ScriptedConnection[] = []
  readonly #server: Server
  readonly #options: Required<ScriptedServerOptions>
  #waiters = new Set<() => void>()

  static start(options: ScriptedServerOptions = {}): Promise<ScriptedSocketcand> {
    return ScriptedSocketcand.startOn(0, options)
  }

  /** Listens on a given loopback port (to bring a server back where a bus expects it). */
  static async startOn(
    port: number,
    options: ScriptedServerOptions = {},
  ): Promise<ScriptedSocketcand> {
    const server = new ScriptedSocketcand(options)
    await new Promise<void>((resolve) => server.#server.listen(port, '127.0.0.1', resolve))
    return server
  }

  private constructor(options: ScriptedServerOptions) {
    this.#options = {
      buses: options.buses ?? ['vcan0'],
      extension: options.extension === undefined ? 'socketcand' : options.extension,
      echo: options.echo ?? true,
      greeting: options.greeting ?? '< hi >',
    }
    this.#server = createServer((socket) => {
      const connection = new ScriptedConnection(socket, (c, m) => this.#script(c, m))
      this.connections.push(connection)
      if (this.#options.greeting !== '') socket.write(this.#options.greeting)
      for (const wake of [...this.#waiters]) wake()
    })
  }

  get port(): number {
    const address = this.#server.address()
    if (address === null || typeof address === 'string') throw new Error('not listening')
    return address.port
  }

  /** Resolves with the `n`th connection (1-based) once it exists. */
  async connection(n = 1, timeoutMs = 3000): Promise<ScriptedConnection> {
    const deadline = performance.now() + timeoutMs
    while (this.connections.length < n) {
      if (performance.now() > deadline) throw new Error(`no connection #${n}`)
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake)
          resolve()
        }
        this.#waiters.add(wake)
        setTimeout(wake, 20)
      })
    }
    return this.connections[n - 1]!
  }

  /** Stops listening and cuts every connection. */
  async close(): Promise<void> {
    for (const connection of this.connections) connection.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  /** Stops accepting new connections but keeps the port's existing ones. */
  stopListening(): Promise<void> {
    return new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  #script(connection: ScriptedConnection, message: string): void {
    const open = /^< open (\S+) >$/.exec(message)
    if (open) {
      if (this.#options.buses.includes(open[1]!)) connection.socket.write('< ok >')
      else {
        connection.socket.end('< error could not open bus >')
      }
      return
    }
    if (message === '< rawmode >' || message === '< bcmmode >') {
      connection.socket.write('< ok >')
      return
    }
    if (message === '< echo >') {
      if (this.#options.echo) connection.socket.write('< echo >')
      return
    }
    if (message.startsWith('< canbridge-ext ')) {
      const answer = this.#options.extension
      if (answer === 'socketcand') connection.socket.write('< error unknown command >')
      else if (answer !== null) connection.socket.write(answer)
    }
  }
}
