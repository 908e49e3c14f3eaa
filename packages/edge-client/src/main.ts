#!/usr/bin/env node
// canbridge-edge: the command line. Parses flags, loads the configuration, starts the
// supervisor, and stops it on SIGTERM / SIGINT (flush to the server, else to the spool).
import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { Command, CommanderError } from 'commander'
import { ConfigError, type EdgeConfig, type FlagValues, loadConfig, SETTINGS } from './config.ts'
import {
  describeLinkSecurity,
  INSECURE_WARNING,
  type ResolvedSecurity,
  resolveLinkSecurity,
} from './link/security/link-security.ts'
import { describeAddress } from './link/server-address.ts'
import { type Logger, openLogger } from './logger.ts'
import {
  ANNOUNCE_RING_BYTES,
  availableMemory,
  checkRingMemory,
  formatBytes,
  ringMemoryBytes,
} from './ring-memory.ts'
import { settingOptions } from './setting-options.ts'
import { toleratePipeClose } from './stdio.ts'
import { StartupError, Supervisor } from './supervisor.ts'
import { txPolicySettings } from './tx-policy/tx-settings.ts'
import { versionText } from './version.ts'

export const EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const

export { versionText }

function buildProgram(): Command {
  const program = new Command('canbridge-edge')
    .description(
      'Streams SocketCAN frames to a canbridge TCPBus server, and frames from it to the bus.',
    )
    .version(versionText(), '-V, --version', 'print the version, protocol, Node and N-API versions')
    .helpOption('-h, --help', 'show this help')
    .option('-c, --config <path>', 'JSON config file (also CANBRIDGE_CONFIG)')
    .showHelpAfterError('(run canbridge-edge --help for the options)')
    .allowExcessArguments(false)
  for (const setting of SETTINGS) {
    for (const option of settingOptions(setting, `${setting.help} [env ${setting.env}]`)) {
      program.addOption(option)
    }
  }
  program.addHelpText(
    'after',
    `
Settings come from defaults, then the config file, then the environment, then flags.
Plain TCP to a server off this host needs TLS (--tls-ca or --tls-pin, with --tls-cert/--tls-key
or --token-file), a token, or --insecure (lab networks): the README's Security section.
Commands:
  canbridge-edge doctor [--server host:port] [--channel can0 ...] [--config path]
      checks this host (kernel modules, interfaces and bitrate, raw CAN socket, socket
      buffers, the addon, the server handshake) and says what to fix; doctor --help
Examples:
  canbridge-edge --server 192.168.1.10:29536 --channel can0 --edge-id pi-garage \\
      --tls-ca /etc/canbridge/ca.crt --token-file /etc/canbridge/pi-garage.token
  canbridge-edge --server gw1.lab:29536,gw2.lab:29536 --channel can0 --edge-id pi-garage \\
      --tls-ca /etc/canbridge/ca.crt --token-file /etc/canbridge/pi-garage.token
      two servers: gw1.lab first; a failed or lost connection moves to the next one, and the
      backoff (100 ms, doubling up to 10 s) grows only after every server failed in a row;
      the TLS and token settings apply to both, each certificate checked against its own host
  canbridge-edge --server unix:/run/canbridge.sock --channel can0 --channel can1 --spool-dir /var/lib/canbridge
  canbridge-edge --server localhost:29536 --channel 'virtual:demo?rate=1000&pattern=mixed'
  canbridge-edge --server 192.168.1.10:29536 --channel can0 --edge-id pi-garage \\
      --tls-ca /etc/canbridge/ca.crt --token-file /etc/canbridge/pi-garage.token --socketcand '*:29536'
      also serves socketcand clients on every address, port 29536 (python-can:
      interface='socketcand', host=<this edge>, port=29536, channel='can0'), with the
      discovery beacon; socketcand authenticates no one: trusted networks only
  canbridge-edge --server 192.168.1.10:29536 --channel can0 --receive-buffer 8M --no-kernel-echo
      an 8 MiB socket queue per channel (the kernel caps it at net.core.rmem_max unless
      the edge has CAP_NET_ADMIN: a warning then says what to set), and own-messages
      echoes made by the edge instead of the kernel`,
  )
  return program
}

/** Parses argv into the flags that were given; throws CommanderError for bad usage. */
export function parseFlags(
  argv: readonly string[],
  output?: { out: (s: string) => void; err: (s: string) => void },
): FlagValues {
  const program = buildProgram().exitOverride()
  if (output) program.configureOutput({ writeOut: output.out, writeErr: output.err })
  program.parse(argv as string[], { from: 'user' })
  const options = program.opts<Record<string, unknown>>()
  const flags: FlagValues = {}
  for (const setting of SETTINGS) {
    const attribute = setting.flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
    const value = options[attribute]
    if (value !== undefined) flags[setting.key] = value
  }
  if (typeof options['config'] === 'string') flags.config = options['config']
  return flags
}

/** Runs the daemon until a signal; resolves to the exit code. */
export async function main(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): Promise<number> {
  toleratePipeClose()
  if (argv[0] === 'doctor') return (await import('./doctor.ts')).runDoctor(argv.slice(1), env)
  let flags: FlagValues
  try {
    flags = parseFlags(argv)
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error
    // --help and --version end here too, with exit code 0
    return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE
  }
  let config: EdgeConfig
  let link: ResolvedSecurity
  try {
    config = loadConfig(flags, env)
    if (env['CANBRIDGE_CHECK_ARGS'] === '1') {
      // the README check: every setting validated as a start would, no key file read, no start
      txPolicySettings(config)
      process.stdout.write('canbridge-edge: arguments ok\n')
      return EXIT.OK
    }
    link = resolveLinkSecurity(config)
    // checked now: a bad combination stops here (exit 2), not in a worker
    txPolicySettings(config)
    checkRingMemory(config.ringBytes, config.channels.length, availableMemory())
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    process.stderr.write(`canbridge-edge: ${error.message}\n`)
    return EXIT.USAGE
  }
  const log = await openLogger(config.logLevel, config.logFormat)
  for (const warning of link.warnings) log.warn({ warning }, 'server link security')
  if (link.security.insecure)
    log.warn({ server: config.server.map(describeAddress).join(',') }, INSECURE_WARNING)
  log.info({ security: describeLinkSecurity(link.security) }, 'server link')
  const supervisor = reserveRings(config, log, link)
  if (supervisor === undefined) return EXIT.FAILED
  const stopped = new Promise<number>((resolve) => {
    let signals = 0
    const onSignal = (signal: NodeJS.Signals): void => {
      signals++
      if (signals > 1) {
        log.warn({ signal }, 'second signal: exiting without waiting for the flush')
        resolve(EXIT.FAILED)
        return
      }
      supervisor.stop(signal).then(
        () => resolve(EXIT.OK),
        (error: unknown) => {
          log.error({ err: error }, 'shutdown failed')
          resolve(EXIT.FAILED)
        },
      )
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
    supervisor.onFatal = (error) => {
      log.fatal({ err: error }, 'fatal')
      supervisor.stop('fatal error').finally(() => resolve(EXIT.FAILED))
    }
  })
  // a signal during startup (a slow spool directory, say) must still stop the daemon
  const started = supervisor.start().then(
    () => 'started' as const,
    (error: unknown) => error,
  )
  const first = await Promise.race([started, stopped])
  if (typeof first === 'number') return first
  if (first !== 'started') {
    if (!(first instanceof StartupError)) throw first
    log.fatal({ code: first.code }, first.message)
    process.stderr.write(`canbridge-edge: ${first.message}\n`)
    await supervisor.stop('startup failed')
    return EXIT.FAILED
  }
  // prom-client is loaded only when metrics are asked for (memory on a Pi)
  const metrics =
    config.metricsPort === null
      ? undefined
      : await (await import('./metrics.ts')).startMetrics(config.metricsPort, supervisor, log)
  const code = await stopped
  await metrics?.close()
  return code
}

/**
 * The supervisor, whose rings take their memory now (every page touched): said first when
 * that takes a while; an allocation the host refuses after all is said in words.
 */
function reserveRings(
  config: EdgeConfig,
  log: Logger,
  link: ResolvedSecurity,
): Supervisor | undefined {
  const bytes = ringMemoryBytes(config.ringBytes, config.channels.length)
  const announce = bytes >= ANNOUNCE_RING_BYTES
  const started = performance.now()
  if (announce) {
    log.info(
      { ringBytes: config.ringBytes, channels: config.channels.length, bytes },
      `reserving ${formatBytes(bytes)} of memory for the rings (--ring-bytes × channels): every page is touched once, which can take seconds`,
    )
  }
  let supervisor: Supervisor
  try {
    supervisor = new Supervisor(config, log, link.security)
  } catch (error) {
    if (!(error instanceof RangeError)) throw error
    const message = `cannot allocate the rings, --ring-bytes ${formatBytes(config.ringBytes)} × ${config.channels.length} channels = ${formatBytes(bytes)} (${error.message}): lower --ring-bytes, or give the edge more memory`
    log.fatal({ bytes }, message)
    process.stderr.write(`canbridge-edge: ${message}\n`)
    return undefined
  }
  if (announce) log.info({ ms: Math.round(performance.now() - started) }, 'rings reserved')
  return supervisor
}

function isEntryPoint(): boolean {
  const script = process.argv[1]
  if (!script) return false
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw error
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(
        `canbridge-edge: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      )
      process.exit(EXIT.FAILED)
    },
  )
}
