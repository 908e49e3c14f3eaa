// Per-test setup for SocketcandBus tests: a scripted server, a bus connected to it with a
// capturing logger, and cleanup of both after each test.
import { afterEach } from 'vitest'
import { SocketcandBus, type SocketcandBusOptions } from '../../src/index.ts'
import { type CapturingLogger, capturingLogger } from '../support/helpers.ts'
import { type ScriptedServerOptions, ScriptedSocketcand } from './scripted-server.ts'

const servers: ScriptedSocketcand[] = []
const buses: SocketcandBus[] = []

afterEach(async () => {
  await Promise.all(buses.splice(0).map((bus) => bus.shutdown()))
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

export async function startServer(
  options: ScriptedServerOptions = {},
): Promise<ScriptedSocketcand> {
  const server = await ScriptedSocketcand.start(options)
  servers.push(server)
  return server
}

export interface Connected {
  server: ScriptedSocketcand
  bus: SocketcandBus
  logger: CapturingLogger
}

/** A bus on `server` (or a new default one), keepalive off unless asked. */
export async function connectBus(
  options: Partial<SocketcandBusOptions> = {},
  server?: ScriptedSocketcand,
): Promise<Connected> {
  const target = server ?? (await startServer())
  const logger = capturingLogger()
  const bus = await SocketcandBus.connect({
    host: '127.0.0.1',
    port: target.port,
    channel: 'vcan0',
    keepaliveMs: 0,
    logger,
    ...options,
  })
  buses.push(bus)
  return { server: target, bus, logger }
}

/** Registers a bus made by hand for cleanup. */
export function track(bus: SocketcandBus): SocketcandBus {
  buses.push(bus)
  return bus
}
