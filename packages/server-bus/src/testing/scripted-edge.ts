// A scripted edge for integration tests: a real node:net socket speaking the protocol with
// @canbridge/protocol. Tests drive it step by step and read back what the server sent.
import { connect, type Socket } from 'node:net'
import { type ConnectionOptions, connect as connectTls, TLSSocket } from 'node:tls'
import {
  AUTH_TLS_EXPORTER_BYTES,
  AUTH_TLS_EXPORTER_LABEL,
  authProof,
  BatchEncoder,
  type ControlBodies,
  type ControlTypeName,
  type DecodedMessage,
  Decoder,
  encodeControl,
  encodePreamble,
  type Hello,
  newAuthNonce,
  proofMatches,
  ROLE,
  type Transmit,
  type TransmitResult,
  type Welcome,
} from '@canbridge/protocol'
import type { TCPBusAddress } from '../tcp-bus.ts'

export interface FrameSpec {
  id: number
  flags?: number
  data?: Uint8Array | number[]
  /** remote frame DLC (len) when there is no data */
  len?: number
  /** default: 1_700_000_000 s plus the sequence number in µs */
  timestampNs?: bigint
}

export interface ScriptedEdgeOptions {
  edgeId?: string
  instanceId?: string
  software?: string
  channels?: { name: string; fd?: boolean; nextSeq?: number }[]
  capabilities?: string[]
  /**
   * How to answer TRANSMIT; default: ok at once. Return undefined to stay silent (for
   * timeout tests).
   */
  onTransmit?: (transmit: Transmit) => TransmitResult | undefined
  /** connect over TLS with these node:tls options (host 127.0.0.1 unless `servername`) */
  tls?: ConnectionOptions
  /** prove this token during the handshake (PROTOCOL.md §5.13) */
  token?: string
  /** the TLS channel binding to prove with; default: the real one (tests of relays change it) */
  channelBinding?: Uint8Array
}

type ServerMessage = Extract<DecodedMessage, { type: ControlTypeName }>

const BASE_TIMESTAMP_NS = 1_700_000_000_000_000_000n

export class ScriptedEdge {
  readonly socket: Socket
  readonly options: ScriptedEdgeOptions
  /** every control message the server sent, in order */
  readonly received: ServerMessage[] = []
  /** the server's preamble was read */
  preambleSeen = false
  /** the decoder failed on the server's bytes */
  decodeError: Error | undefined
  /** socket.write returned false at least once */
  sawBackpressure = false
  welcome: Welcome | undefined
  /** whether the server's AUTH_CHALLENGE proved it holds our token */
  serverProofOk: boolean | undefined
  readonly #authNonce = newAuthNonce()
  readonly closed: Promise<void>
  #decoder = new Decoder({ peerRole: ROLE.SERVER })
  #waiters = new Set<() => void>()
  #encoder = new BatchEncoder()

  private constructor(socket: Socket, options: ScriptedEdgeOptions) {
    this.socket = socket
    this.options = options
    socket.setNoDelay(true)
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()))
    socket.on('error', () => {})
    socket.on('close', () => this.#wake())
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#decoder.write(chunk, (message) => this.#onMessage(message))
        if (this.#decoder.peer !== undefined) this.preambleSeen = true
      } catch (error) {
        this.decodeError = error as Error
      }
      this.#wake()
    })
  }

  /** Opens the socket only: nothing is sent. */
  static connect(address: TCPBusAddress, options: ScriptedEdgeOptions = {}): Promise<ScriptedEdge> {
    return new Promise((resolve, reject) => {
      if (options.tls !== undefined && !('path' in address)) {
        const socket = connectTls({ port: address.port, host: '127.0.0.1', ...options.tls })
        socket.once('secureConnect', () => resolve(new ScriptedEdge(socket, options)))
        socket.once('error', reject)
        return
      }
      const socket =
        'path' in address
          ? connect({ path: address.path })
          : connect({ port: address.port, host: '127.0.0.1' })
      socket.once('connect', () => resolve(new ScriptedEdge(socket, options)))
      socket.once('error', reject)
    })
  }

  /** Connects, sends preamble and HELLO, and waits for WELCOME. */
  static async start(
    address: TCPBusAddress,
    options: ScriptedEdgeOptions = {},
  ): Promise<ScriptedEdge> {
    const edge = await ScriptedEdge.connect(address, options)
    await edge.handshake()
    return edge
  }

  get hello(): Hello {
    return {
      edgeId: this.options.edgeId ?? 'pi-test',
      instanceId: this.options.instanceId ?? 'instance-1',
      software: this.options.software ?? 'scripted-edge/0',
      channels: (this.options.channels ?? [{ name: 'can0' }]).map((c) => ({
        name: c.name,
        fd: c.fd ?? false,
        nextSeq: c.nextSeq ?? 0,
      })),
      capabilities: this.options.capabilities ?? ['transmit', 'periodic', 'filters'],
      ...(this.options.token === undefined ? {} : { authNonce: this.#authNonce }),
    }
  }

  /** `edgeId/name` of channel `index`. */
  channel(index = 0): string {
    return `${this.hello.edgeId}/${this.hello.channels[index]!.name}`
  }

  sendPreamble(version = 1, role: number = ROLE.EDGE): boolean {
    const bytes = encodePreamble(ROLE.EDGE, version)
    bytes[6] = role
    return this.sendRaw(bytes)
  }

  sendHello(hello: Hello = this.hello): boolean {
    return this.sendControl('HELLO', hello)
  }

  async handshake(): Promise<Welcome> {
    this.sendPreamble()
    this.sendHello()
    if (this.options.token !== undefined) this.answerChallenge(await this.waitFor('AUTH_CHALLENGE'))
    this.welcome = await this.waitFor('WELCOME')
    return this.welcome
  }

  /** Checks the server's proof (see `serverProofOk`) and sends ours. */
  answerChallenge(challenge: ControlBodies['AUTH_CHALLENGE'], token = this.options.token!): void {
    const input = {
      edgeId: this.hello.edgeId,
      edgeNonce: this.#authNonce,
      serverNonce: challenge.nonce,
      channelBinding: this.options.channelBinding ?? this.#channelBinding(),
    }
    this.serverProofOk = proofMatches(authProof(ROLE.SERVER, token, input), challenge.proof)
    this.sendControl('AUTH_RESPONSE', { proof: authProof(ROLE.EDGE, token, input) })
  }

  #channelBinding(): Uint8Array {
    if (!(this.socket instanceof TLSSocket)) return new Uint8Array(0)
    return new Uint8Array(
      this.socket.exportKeyingMaterial(
        AUTH_TLS_EXPORTER_BYTES,
        AUTH_TLS_EXPORTER_LABEL,
        Buffer.alloc(0),
      ),
    )
  }

  sendRaw(bytes: Uint8Array): boolean {
    const ok = this.socket.write(Buffer.from(bytes))
    if (!ok) this.sawBackpressure = true
    return ok
  }

  sendControl<K extends ControlTypeName>(type: K, body: ControlBodies[K]): boolean {
    return this.sendRaw(encodeControl(type, body))
  }

  /** One DATA batch with these frames, numbered from `firstSeq`. */
  sendFrames(channel: number, firstSeq: number, frames: FrameSpec[]): boolean {
    this.#encoder.begin(channel, firstSeq)
    frames.forEach((frame, i) => {
      const data = Uint8Array.from(frame.data ?? [])
      const added = this.#encoder.add({
        timestampNs: frame.timestampNs ?? BASE_TIMESTAMP_NS + BigInt(firstSeq + i) * 1000n,
        id: frame.id,
        flags: frame.flags ?? 0,
        len: frame.len ?? data.length,
        data,
      })
      if (!added) throw new Error('batch full')
    })
    return this.sendRaw(this.#encoder.finish())
  }

  /**
   * Streams `count` frames from `firstSeq` in batches of `batchSize`, waiting for drain when
   * the socket pushes back. Frame i gets id `i % 0x800` and data = its sequence number.
   */
  async stream(
    channel: number,
    firstSeq: number,
    count: number,
    batchSize = 1000,
    frameOf: (seq: number) => FrameSpec = sequenceFrame,
  ): Promise<void> {
    let seq = firstSeq
    const end = firstSeq + count
    while (seq < end && !this.socket.destroyed) {
      const n = Math.min(batchSize, end - seq)
      const frames: FrameSpec[] = []
      for (let i = 0; i < n; i++) frames.push(frameOf(seq + i))
      const ok = this.sendFrames(channel, seq, frames)
      seq += n
      if (!ok) {
        await new Promise<void>((resolve) => {
          const done = () => {
            this.socket.off('drain', done)
            this.socket.off('close', done)
            resolve()
          }
          this.socket.on('drain', done)
          this.socket.on('close', done)
        })
      }
    }
  }

  /** Control messages of one type received so far. */
  messages<K extends ControlTypeName>(type: K): ControlBodies[K][] {
    return this.received.filter((m) => m.type === type).map((m) => m.body as ControlBodies[K])
  }

  /** Waits for the next (or an already received, unconsumed-by-`from`) message of a type. */
  async waitFor<K extends ControlTypeName>(
    type: K,
    predicate: (body: ControlBodies[K]) => boolean = () => true,
    timeoutMs = 3000,
    from = 0,
  ): Promise<ControlBodies[K]> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const found = this.received
        .slice(from)
        .find((m) => m.type === type && predicate(m.body as ControlBodies[K]))
      if (found) return found.body as ControlBodies[K]
      if (this.socket.destroyed) throw new Error(`connection closed while waiting for ${type}`)
      const left = deadline - performance.now()
      if (left <= 0) throw new Error(`no ${type} within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left)
        const waiters = this.#waiters
        function done() {
          clearTimeout(timer)
          waiters.delete(done)
          resolve()
        }
        waiters.add(done)
      })
    }
  }

  /** Half-closes (FIN) and waits for the socket to close. */
  async close(): Promise<void> {
    this.socket.end()
    await this.closed
  }

  /** Drops the connection at once (like a pulled cable, from the server's view a reset). */
  destroy(): void {
    this.socket.destroy()
  }

  #onMessage(message: DecodedMessage): void {
    if (message.type === 'DATA') throw new Error('a server never sends DATA')
    this.received.push(message)
    if (message.type === 'TRANSMIT') {
      const answer = this.options.onTransmit
        ? this.options.onTransmit(message.body)
        : { requestId: message.body.requestId, ok: true }
      if (answer !== undefined) this.sendControl('TRANSMIT_RESULT', answer)
    }
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake()
  }
}

/** Frame for sequence number `seq`: id seq % 0x800, 4 data bytes holding seq. */
export function sequenceFrame(seq: number): FrameSpec {
  return {
    id: seq % 0x800,
    data: [seq & 0xff, (seq >>> 8) & 0xff, (seq >>> 16) & 0xff, (seq >>> 24) & 0xff],
  }
}

/** The sequence number a `sequenceFrame` carries. */
export function sequenceOf(data: Uint8Array): number {
  return (data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0
}
