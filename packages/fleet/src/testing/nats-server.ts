// A real NATS server with JetStream for tests and benchmarks: the binary scripts/setup.sh
// unpacks into .toolchain/nats (Debian's nats-server), started on 127.0.0.1 with a port of
// its own choosing (read back from its ports file), stopped and restarted on the same port
// and store, or three of them as a cluster. Never a mock.
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'

/** Where setup puts the binary, found from this file (dist/testing or src/testing). */
function defaultBinary(): string {
  const here = path.dirname(fileURLToPath(import.meta.url))
  return path.resolve(here, '../../../../.toolchain/nats/nats-server')
}

export interface NatsServerOptions {
  /** the nats-server binary (default: CANBRIDGE_NATS_SERVER, else the one setup installs) */
  binary?: string
  /** JetStream store; default a new temporary folder, removed by `remove()` */
  storeDir?: string
  port?: number
  /** cluster membership: this node's route port, the others' route ports, the cluster name */
  cluster?: { name: string; port: number; routes: number[] }
  serverName?: string
}

export class NatsServer {
  readonly binary: string
  readonly storeDir: string
  readonly serverName: string
  port = 0
  #options: NatsServerOptions
  #child: ChildProcess | undefined
  #exited: Promise<void> = Promise.resolve()
  #log: string[] = []
  #ownsStore: boolean

  private constructor(options: NatsServerOptions) {
    this.#options = options
    this.binary = options.binary ?? process.env['CANBRIDGE_NATS_SERVER'] ?? defaultBinary()
    if (!existsSync(this.binary)) {
      throw new Error(
        `no nats-server at ${this.binary}: run 'bash scripts/setup.sh' (or scripts/install-nats-server.sh), or set CANBRIDGE_NATS_SERVER`,
      )
    }
    this.#ownsStore = options.storeDir === undefined
    this.storeDir = options.storeDir ?? mkdtempSync(path.join(tmpdir(), 'canbridge-nats-'))
    this.serverName = options.serverName ?? `n${process.pid}-${path.basename(this.storeDir)}`
    this.port = options.port ?? 0
  }

  /** Starts a server and resolves once it accepts clients (its ports file is written). */
  static async start(options: NatsServerOptions = {}): Promise<NatsServer> {
    const server = new NatsServer(options)
    await server.restart()
    return server
  }

  /**
   * Three JetStream nodes on loopback routed to each other, for replicated streams;
   * resolves once the cluster has elected its JetStream leader and answers API requests.
   */
  static async startCluster(size = 3): Promise<NatsServer[]> {
    const routes = await Promise.all(Array.from({ length: size }, () => freePort()))
    const name = `canbridge-test-${process.pid}`
    const nodes = await Promise.all(
      routes.map((port, i) =>
        NatsServer.start({
          serverName: `${name}-${i}`,
          cluster: { name, port, routes: routes.filter((other) => other !== port) },
        }),
      ),
    )
    const nc = await connect({ servers: nodes.map((node) => node.url) })
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await jetstreamManager(nc, { timeout: 1000 })
          break
        } catch (error) {
          // 'JetStream not enabled' or a time-out while the leader election runs
          if (!(error instanceof Error) || attempt === 300) {
            throw new Error(
              `the NATS cluster never answered JetStream requests:\n${nodes[0]!.log}`,
              {
                cause: error,
              },
            )
          }
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
      }
    } finally {
      await nc.close()
    }
    return nodes
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`
  }

  get running(): boolean {
    return this.#child !== undefined
  }

  /** What the server logged, for a failing test's message. */
  get log(): string {
    return this.#log.join('')
  }

  /** (Re)starts on the same port and store: clients reconnect, JetStream data survive. */
  async restart(): Promise<void> {
    if (this.#child) throw new Error('nats-server is already running')
    const portsDir = mkdtempSync(path.join(tmpdir(), 'canbridge-nats-ports-'))
    const args = ['-a', '127.0.0.1', '-p', String(this.port === 0 ? -1 : this.port)]
    args.push('-js', '-sd', this.storeDir, '--ports_file_dir', portsDir)
    args.push('--server_name', this.serverName)
    const cluster = this.#options.cluster
    if (cluster) {
      args.push('--cluster_name', cluster.name, '--cluster', `nats://127.0.0.1:${cluster.port}`)
      args.push('--routes', cluster.routes.map((p) => `nats://127.0.0.1:${p}`).join(','))
    }
    const child = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    this.#child = child
    const keep = (chunk: Buffer): void => {
      this.#log.push(chunk.toString())
      if (this.#log.length > 200) this.#log.shift()
    }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()))
    try {
      this.port = await waitForPortsFile(portsDir, child, () => this.log)
    } catch (error) {
      this.#child = undefined
      child.kill('SIGKILL')
      throw error
    } finally {
      rmSync(portsDir, { recursive: true, force: true })
    }
  }

  /** Stops the server (SIGTERM: it flushes its store) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#child
    if (!child) return
    this.#child = undefined
    child.kill(signal)
    await this.#exited
  }

  /** Stops the server and removes a store this object made. */
  async remove(): Promise<void> {
    await this.stop()
    if (this.#ownsStore) rmSync(this.storeDir, { recursive: true, force: true })
  }
}

/** The server writes `<name>_<pid>.ports` once it listens; it names the client port. */
async function waitForPortsFile(
  dir: string,
  child: ChildProcess,
  log: () => string,
): Promise<number> {
  let exitCode: number | null = null
  child.once('exit', (code) => {
    exitCode = code ?? -1
  })
  for (;;) {
    if (exitCode !== null) throw new Error(`nats-server exited (${exitCode}) at start:\n${log()}`)
    const file = readdirSync(dir).find((name) => name.endsWith('.ports'))
    if (file) {
      const text = readFileSync(path.join(dir, file), 'utf8')
      if (text.trim() !== '') {
        const ports = JSON.parse(text) as { nats?: string[] }
        const url = ports.nats?.[0]
        if (url) return Number(new URL(url).port)
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** A port that was free a moment ago (cluster route ports must be named up front). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))
  if (address === null || typeof address === 'string') throw new Error('no TCP port')
  return address.port
}
