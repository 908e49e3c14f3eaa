// A server for tests, built from @canbridge/protocol over real sockets: accepts an edge,
// answers WELCOME (resuming from what it holds), records every frame by sequence number,
// ACKs, sends heartbeats, and can pause reading or go silent on command.
import { createServer, type Server, type Socket } from 'node:net'
import {
  type ControlBodies,
  type ControlTypeName,
  type DecodedMessage,
  Decoder,
  type Drops,
  encodeControl,
  encodePreamble,
  type Hello,
  ROLE,
} from '@canbridge/protocol'

export interface ReceivedFrame {
  seq: number
  id: number
  flags: number
  len: number
  data: Uint8Array
  timestampNs: bigint
}

/** What a server holds per channel; survives a server restart when passed to the next one. */
export class ServerState {
  /** per channel index: frames by arrival, without duplicates */
  frames: ReceivedFrame[][] = []
  /** next sequence expected per channel (null: no history) */
  nextSeq: (number | null)[] = []
  duplicates = 0
  /** sequence ranges missing from the stream (gaps between batches) */
  gaps: { channel: number; fromSeq: number; count: number }[] = []
  drops: Drops[] = []
  hellos: Hello[] = []
  messages: { type: string; body: unknown }[] = []

  channel(i: number): ReceivedFrame[] {
    this.frames[i] ??= []
    return this.frames[i]
  }

  count(i = 0): number {
    return this.frames[i]?.length ?? 0
  }
}

export interface ScriptedServerOptions {
  heartbeatMs?: number
  capabilities?: string[]
  /** false: ACK only when ack() is called */
  autoAck?: boolean
  /** send heartbeats (false: a silent server, for half-open tests) */
  heartbeats?: boolean
  /** forget history on WELCOME (a fresh server) */
  resume?: boolean
  state?: ServerState
}

export class ScriptedServer {
  readonly state: ServerState
  readonly options: Required<Omit<ScriptedServerOptions, 'state'>>
  #server: Server
  #sockets = new Set<Socket>()
  #current: Socket | undefined
  #heartbeat: NodeJS.Timeout | undefined
  connections = 0
  #waiters: { check: () => boolean; resolve: () => void }[] = []

  constructor(options: ScriptedServerOptions = {}) {
    this.state = options.state ?? new ServerState()
    this.options = {
      heartbeatMs: options.heartbeatMs ?? 1000,
      capabilities: options.capabilities ?? [],
      autoAck: options.autoAck ?? true,
      heartbeats: options.heartbeats ?? true,
      resume: options.resume ?? true,
    }
    this.#server = createServer((socket) => this.#accept(socket))
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(port, host, () => resolve())
    })
    const address = this.#server.address()
    return typeof address === 'object' && address ? address.port : port
  }

  async listenUnix(path: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(path, () => resolve())
    })
  }

  /** Stops listening and cuts every connection (a killed server). */
  async close(): Promise<void> {
    clearInterval(this.#heartbeat)
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  get connected(): boolean {
    return this.#current !== undefined && !this.#current.destroyed
  }

  send<K extends ControlTypeName>(type: K, body: ControlBodies[K]): void {
    this.#current?.write(encodeControl(type, body))
  }

  /** Stops reading from the edge (TCP backpressure builds up). */
  pause(): void {
    this.#current?.pause()
  }

  resume(): void {
    this.#current?.resume()
  }

  /** Stops sending anything (heartbeats, ACKs) while keeping the connection open. */
  goSilent(): void {
    clearInterval(this.#heartbeat)
    this.options.autoAck = false
  }

  ack(channel = 0): void {
    const next = this.state.nextSeq[channel]
    if (next !== null && next !== undefined) this.send('ACK', { channel, nextSeq: next })
  }

  /** Resolves once `check` holds (tested after every message), or rejects after `timeoutMs`. */
  waitFor(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    if (check()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const waiter = { check, resolve: () => {} }
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter)
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))
      }, timeoutMs)
      waiter.resolve = () => {
        clearTimeout(timer)
        resolve()
      }
      this.#waiters.push(waiter)
    })
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) {
      if (waiter.check()) {
        this.#waiters = this.#waiters.filter((w) => w !== waiter)
        waiter.resolve()
      }
    }
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket)
    this.connections++
    socket.setNoDelay(true)
    const decoder = new Decoder({ peerRole: ROLE.EDGE })
    socket.write(encodePreamble(ROLE.SERVER))
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.write(chunk, (message) => this.#onMessage(socket, message))
      } catch (error) {
        socket.destroy(error as Error)
      }
      this.#notify()
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      this.#sockets.delete(socket)
      if (this.#current === socket) {
        this.#current = undefined
        clearInterval(this.#heartbeat)
      }
      this.#notify()
    })
  }

  #onMessage(socket: Socket, message: DecodedMessage): void {
    const state = this.state
    if (message.type === 'DATA') {
      const batch = message.batch
      const channel = batch.channel
      const list = state.channel(channel)
      const reader = batch.reader()
      let next = state.nextSeq[channel] ?? null
      while (reader.next()) {
        if (next !== null && reader.seq < next) {
          state.duplicates++
          continue
        }
        if (next !== null && reader.seq > next)
          state.gaps.push({ channel, fromSeq: next, count: reader.seq - next })
        list.push({
          seq: reader.seq,
          id: reader.id,
          flags: reader.flags,
          len: reader.len,
          data: reader.data().slice(),
          timestampNs: reader.timestampNs(),
        })
        next = reader.seq + 1
      }
      state.nextSeq[channel] = next
      if (this.options.autoAck && next !== null) {
        socket.write(encodeControl('ACK', { channel, nextSeq: next }))
      }
      return
    }
    state.messages.push({ type: message.type, body: message.body })
    switch (message.type) {
      case 'HELLO': {
        const hello = message.body
        state.hellos.push(hello)
        this.#current = socket
        if (!this.options.resume) state.nextSeq = []
        socket.write(
          encodeControl('WELCOME', {
            serverId: 'scripted',
            heartbeatMs: this.options.heartbeatMs,
            channels: hello.channels.map((c, i) => ({
              name: c.name,
              nextSeq: state.nextSeq[i] ?? null,
            })),
            capabilities: this.options.capabilities,
          }),
        )
        if (this.options.heartbeats) {
          clearInterval(this.#heartbeat)
          this.#heartbeat = setInterval(() => {
            if (!socket.destroyed) socket.write(encodeControl('HEARTBEAT', { timeMs: Date.now() }))
          }, this.options.heartbeatMs)
        }
        return
      }
      case 'DROPS':
        state.drops.push(message.body)
        return
      default:
        return
    }
  }
}

/** The counter a virtual `counter`/`mixed` frame carries in its first 4 data bytes. */
export function frameNumber(frame: ReceivedFrame): number {
  const d = frame.data
  return (d[0]! | (d[1]! << 8) | (d[2]! << 16)) + d[3]! * 0x1000000
}
