// `canbridge monitor`: a live web view of remote buses. Frames from edges (a TCPBus, as
// `canbridge dump` listens), a socketcand server or a log file go into a per-id table like
// cansniffer, DBC signals with plots, and the health of the link; a record button writes
// what arrives into a log file. The page is served on 127.0.0.1 unless told otherwise.
import { accessSync, constants, readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { type Database, parseDbc } from '@canbridge/dbc'
import { FleetClient } from '@canbridge/fleet'
import { type CanMessage, SocketcandBus } from '@canbridge/server-bus'
import { isLoopbackHost } from '@canbridge/server-bus/internal'
import { Command } from 'commander'
import { EXIT, integerOption, numberOption, UsageError } from '../exit.ts'
import { IdTable } from '../id-table.ts'
import {
  addListenOptions,
  type ListenSettings,
  listenForEdges,
  listenSettings,
} from '../listen-options.ts'
import { type Output, onStopSignal, say } from '../output.ts'
import { MonitorServer } from './monitor-server.ts'
import {
  BusSource,
  FleetSource,
  LogSource,
  type MonitorSource,
  TcpBusSource,
} from './monitor-source.ts'
import { Recorder } from './recorder.ts'
import { SignalBoard } from './signal-board.ts'

export const DEFAULT_HTTP = '127.0.0.1:8080'

export type MonitorInput =
  | { kind: 'edges'; listen: ListenSettings }
  | { kind: 'socketcand'; host: string; port: number; channel: string }
  | { kind: 'log'; file: string; speed: number; loop: boolean }
  | {
      kind: 'fleet'
      nats: string[]
      stream: string
      prefix: string
      edge: string | undefined
      channel: string | undefined
    }

export interface MonitorSettings {
  input: MonitorInput
  http: { host: string; port: number }
  /** HTTPS for a page served beyond this machine: from --pki or --tls-cert/--tls-key/--client-ca */
  httpsFiles: { cert: string; key: string; ca: string } | undefined
  dbcFile: string | undefined
  plot: string[]
  recordDir: string
}

export function createMonitorCommand(): Command {
  const command = new Command('monitor')
    .description(
      'a live web view of remote CAN buses: a per-id table like cansniffer (count, rate, period, jitter, changed bytes), DBC signals and their plots, the health of the link, and a record button.',
    )
    .option('--http <[host:]port>', `where the page is served (default ${DEFAULT_HTTP})`)
    .option('--dbc <file>', 'decode signals with this DBC file')
    .option(
      '--plot <Message.Signal>',
      'plot this signal from the start (repeatable; more can be chosen on the page)',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option('--record-dir <dir>', 'where the record button writes its files (default: here)')
    .option('--socketcand <host:port>', 'read a socketcand server instead of listening for edges')
    .option('--channel <name>', 'the socketcand channel (with --socketcand), e.g. can0')
    .option('--log <file>', 'replay a log file (.log, .asc) with its timing instead')
    .option('--speed <factor>', 'with --log: this many times faster (default 1)')
    .option('--loop', 'with --log: start again at the end')
    .option(
      '--fleet <urls>',
      'read a fleet from NATS JetStream (canbridge gateway): nats://host:port, comma-separated',
    )
    .option('--stream <name>', 'with --fleet: the stream (default CANBRIDGE)')
    .option('--prefix <subject>', 'with --fleet: the subject prefix (default can)')
    .option('--edge <id|glob>', 'with --fleet: only these edges (veh-*)')
  addListenOptions(command)
  command.addHelpText(
    'after',
    `
The page: http://127.0.0.1:8080/ by default. Served beyond this machine (--http 0.0.0.0:8080)
it is HTTPS with the --pki server certificate, and browsers must show a client certificate
from its CA (as edges do); --insecure serves plain HTTP to anyone who can reach it.

Examples:
  canbridge monitor --dbc vehicle.dbc --plot EngineData.EngineSpeed
      edges connect to this machine's port 29536; open http://127.0.0.1:8080/
  canbridge monitor --host 0.0.0.0 --pki canbridge-pki --dbc vehicle.dbc
      edges from the network, with their certificates
  canbridge monitor --socketcand pi.local:29536 --channel can0
  canbridge monitor --log drive.log --speed 4 --loop --dbc vehicle.dbc
  canbridge monitor --fleet nats://127.0.0.1:4222 --edge 'veh-*' --channel can0 --dbc vehicle.dbc

Exit status: 0 stopped (Ctrl-C), 2 bad command line, 3 could not listen or read a file.`,
  )
  return command.action(async (options: Record<string, unknown>) => {
    process.exitCode = await runMonitor(monitorSettings(options), {
      stdout: process.stdout,
      stderr: process.stderr,
    })
  })
}

/** `[host:]port` of --http. */
function httpAddress(text: string): { host: string; port: number } {
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[^:]+):)?(\d+)$/.exec(text)
  if (!match)
    throw new UsageError(
      `--http must be [host:]port, like 127.0.0.1:8080, got ${JSON.stringify(text)}`,
    )
  const host = (match[1] ?? '127.0.0.1').replace(/^\[|\]$/g, '')
  return { host, port: integerOption(match[2]!, '--http port', 0, 65_535) }
}

/** Checks the command line; throws UsageError. */
export function monitorSettings(o: Record<string, unknown>): MonitorSettings {
  const socketcand = o['socketcand'] as string | undefined
  const log = o['log'] as string | undefined
  const fleet = o['fleet'] as string | undefined
  if ([socketcand, log, fleet].filter((source) => source !== undefined).length > 1) {
    throw new UsageError('--socketcand, --log and --fleet are different sources: give one')
  }
  if (o['channel'] !== undefined && socketcand === undefined && fleet === undefined) {
    throw new UsageError('--channel goes with --socketcand or --fleet')
  }
  for (const option of ['stream', 'prefix', 'edge']) {
    if (o[option] !== undefined && fleet === undefined)
      throw new UsageError(`--${option} goes with --fleet`)
  }
  if ((o['speed'] !== undefined || o['loop'] === true) && log === undefined) {
    throw new UsageError('--speed and --loop go with --log')
  }
  let input: MonitorInput
  if (socketcand !== undefined) {
    const match = /^(.+):(\d+)$/.exec(socketcand)
    if (!match)
      throw new UsageError(`--socketcand must be host:port, got ${JSON.stringify(socketcand)}`)
    const channel = o['channel'] as string | undefined
    if (channel === undefined) throw new UsageError('--socketcand needs --channel (e.g. can0)')
    input = {
      kind: 'socketcand',
      host: match[1]!,
      port: integerOption(match[2]!, '--socketcand port', 1, 65_535),
      channel,
    }
  } else if (fleet !== undefined) {
    input = {
      kind: 'fleet',
      nats: fleet.split(',').map((url) => url.trim()),
      stream: (o['stream'] as string | undefined) ?? 'CANBRIDGE',
      prefix: (o['prefix'] as string | undefined) ?? 'can',
      edge: o['edge'] as string | undefined,
      channel: o['channel'] as string | undefined,
    }
  } else if (log !== undefined) {
    const speed = o['speed'] as string | undefined
    input = {
      kind: 'log',
      file: log,
      speed: speed === undefined ? 1 : numberOption(speed, '--speed', false, 10_000),
      loop: o['loop'] === true,
    }
  } else {
    input = { kind: 'edges', listen: listenSettings(o) }
  }
  const http = httpAddress((o['http'] as string | undefined) ?? DEFAULT_HTTP)
  const security = input.kind === 'edges' ? input.listen : listenSettings({ ...o, port: undefined })
  let httpsFiles: MonitorSettings['httpsFiles']
  if (!isLoopbackHost(http.host)) {
    const tls = security.tls
    if (tls?.clientCaFile !== undefined) {
      httpsFiles = { cert: tls.certFile, key: tls.keyFile, ca: tls.clientCaFile }
    } else if (security.insecure !== true) {
      throw new UsageError(
        `--http ${http.host} serves the page beyond this machine: give --pki (HTTPS, browsers show a client certificate from its CA) or --insecure`,
      )
    }
  }
  const dbcFile = o['dbc'] as string | undefined
  const plot = (o['plot'] as string[] | undefined) ?? []
  if (plot.length > 0 && dbcFile === undefined) throw new UsageError('--plot needs --dbc')
  return {
    input,
    http,
    httpsFiles,
    dbcFile,
    plot,
    recordDir: (o['recordDir'] as string | undefined) ?? process.cwd(),
  }
}

/** Runs until Ctrl-C; returns the exit status. */
export async function runMonitor(settings: MonitorSettings, out: Output): Promise<number> {
  const prefix = 'canbridge monitor'
  const note = (line: string) => say(out, prefix, line)
  let database: Database | undefined
  if (settings.dbcFile !== undefined) {
    try {
      database = parseDbc(await readFile(settings.dbcFile, 'utf8'))
    } catch (error) {
      note(`cannot use the DBC file ${settings.dbcFile}: ${(error as Error).message}`)
      return EXIT.ERROR
    }
  }
  const board = database === undefined ? undefined : new SignalBoard(database)
  try {
    for (const signal of settings.plot) board?.plot(signal, true)
  } catch (error) {
    note((error as Error).message)
    return EXIT.USAGE
  }
  const source = await openSource(settings.input, note)
  if (source === undefined) return EXIT.ERROR
  const table = new IdTable()
  const recorder = new Recorder(settings.recordDir)
  const latency = new LatencyWindow()
  const server = new MonitorServer({
    ...settings.http,
    table,
    board,
    recorder,
    health: () => ({ ...source.health(), ...latency.take(table.frames) }),
    ...(settings.httpsFiles
      ? {
          tls: {
            cert: readFileSync(settings.httpsFiles.cert),
            key: readFileSync(settings.httpsFiles.key),
            ca: readFileSync(settings.httpsFiles.ca),
          },
        }
      : {}),
  })
  try {
    note(`open ${await server.listen()} in a browser`)
  } catch (error) {
    note(
      `cannot serve the page on ${settings.http.host}:${settings.http.port}: ${(error as Error).message}`,
    )
    await source.close()
    return EXIT.ERROR
  }
  const stopped = new Promise<void>((resolve) => {
    const removeHandlers = onStopSignal(() => {
      removeHandlers()
      resolve()
    })
  })
  const reading = (async () => {
    for await (const batch of source.batches()) {
      for (const message of batch) {
        table.observe(message)
        board?.observe(message)
        recorder.observe(message)
      }
      latency.observe(batch[batch.length - 1])
    }
  })()
  await Promise.race([stopped, reading])
  const recording = await recorder.stop()
  if (recording.file !== undefined)
    note(`recorded ${recording.frames} frames into ${recording.file}`)
  await server.close()
  await source.close()
  await reading.catch((error: unknown) => note(`reading stopped: ${(error as Error).message}`))
  note(`${table.frames} frames seen`)
  return EXIT.OK
}

async function openSource(
  input: MonitorInput,
  note: (line: string) => void,
): Promise<MonitorSource | undefined> {
  switch (input.kind) {
    case 'edges': {
      const bus = await listenForEdges(input.listen, {}, note)
      if (bus === null) return undefined
      const where = 'path' in bus.address ? `unix:${bus.address.path}` : `port ${bus.address.port}`
      return new TcpBusSource(bus, where)
    }
    case 'socketcand':
      try {
        const bus = await SocketcandBus.connect({
          host: input.host,
          port: input.port,
          channel: input.channel,
        })
        return new BusSource(bus, `socketcand ${input.host}:${input.port} ${input.channel}`)
      } catch (error) {
        note((error as Error).message)
        return undefined
      }
    case 'fleet':
      try {
        const client = await FleetClient.connect(
          { servers: input.nats, name: 'canbridge-monitor' },
          input,
        )
        const selection = {
          from: 'now' as const,
          ...(input.edge === undefined ? {} : { edge: input.edge }),
          ...(input.channel === undefined ? {} : { channel: input.channel }),
        }
        return new FleetSource(
          client,
          selection,
          `fleet ${input.stream} on ${input.nats.join(', ')}`,
        )
      } catch (error) {
        note((error as Error).message)
        return undefined
      }
    case 'log':
      try {
        accessSync(input.file, constants.R_OK)
      } catch (error) {
        note(`cannot read ${input.file}: ${(error as Error).message}`)
        return undefined
      }
      return new LogSource(input.file, input.speed, input.loop)
  }
}

/** How old frames were when read, and frames per second, between two snapshots. */
class LatencyWindow {
  #worstMs: number | null = null
  #lastFrames = 0
  #lastTime = performance.now()

  observe(message: CanMessage | undefined): void {
    if (message === undefined) return
    const ageMs = Date.now() - message.timestamp * 1000
    if (this.#worstMs === null || ageMs > this.#worstMs) this.#worstMs = ageMs
  }

  take(frames: number): { latencyMs: number | null; framesPerSecond: number } {
    const now = performance.now()
    const rate = ((frames - this.#lastFrames) * 1000) / Math.max(now - this.#lastTime, 1)
    const latencyMs = this.#worstMs === null ? null : Math.round(this.#worstMs * 10) / 10
    this.#worstMs = null
    this.#lastFrames = frames
    this.#lastTime = now
    return { latencyMs, framesPerSecond: Math.round(rate) }
  }
}
