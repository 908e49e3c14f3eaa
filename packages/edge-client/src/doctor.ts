// canbridge-edge doctor: checks this host for the edge and says what to fix. Run on the Pi
// before (or instead of) starting the service:
//   canbridge-edge doctor [--server host:port] [--channel can0 ...] [--config path]
// Checks, each printed as OK / WARN / FAIL with the fix: the configuration (with --config
// or CANBRIDGE_* variables), the socketcan addon (and where the single executable unpacked
// it), the can / can_raw kernel modules, a raw CAN socket, each interface (exists, CAN, up;
// bitrate and controller state from `ip -details -json link`), socket receive buffers
// (rmem_default / rmem_max >= 4 MiB), the spool directory (writable, free space), and a connection with the protocol handshake to the
// server. Exit code: 0 when nothing failed (warnings allowed), 1 when a check failed,
// 2 for a bad command line.
import { hostname } from 'node:os'
import { Command, CommanderError, Option } from 'commander'
import { BUILD_INFO, type BuildInfo } from './build-info.ts'
import { VIRTUAL_PREFIX } from './can/virtual-source.ts'
import { ConfigError, type EdgeConfig, type FlagValues, inspectConfig, SETTINGS } from './config.ts'
import { type AddonOptions, checkAddon, checkBindingPatch } from './doctor/addon.ts'
import { checkCanSocket } from './doctor/can-socket.ts'
import { type Host, realHost } from './doctor/host.ts'
import {
  ARPHRD_CAN,
  checkInterfaceBus,
  checkInterfaceLink,
  listCanInterfaces,
  readLinkDetails,
  readSysfsLink,
} from './doctor/interfaces.ts'
import { checkKernelModules } from './doctor/kernel.ts'
import { type CheckResult, exitCode, fail, formatResult, ok, tally } from './doctor/report.ts'
import { checkServers } from './doctor/server.ts'
import { checkSpool } from './doctor/spool.ts'
import { checkSocketBuffers } from './doctor/sysctl.ts'
import { type LinkSecurity, resolveLinkSecurity } from './link/security/link-security.ts'
import { describeAddress } from './link/server-address.ts'
import { settingOptions } from './setting-options.ts'
import { txPolicySettings } from './tx-policy/tx-settings.ts'
import { packageVersion } from './version.ts'

const USAGE_ERROR = 2
const DEFAULT_TIMEOUT_MS = 5000
/** what the packaging's unit and network file set up */
const DEFAULT_CHANNEL = 'can0'

export interface DoctorIo {
  out: (text: string) => void
  err: (text: string) => void
}

/** What the checks run against; tests replace parts of it. */
export interface DoctorDeps {
  host: Host
  addon: AddonOptions
  build: BuildInfo | undefined
}

const stdio: DoctorIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
}

function buildCommand(io: DoctorIo): Command {
  const command = new Command('canbridge-edge doctor')
    .description(
      'Checks this host for canbridge-edge and says what to fix: the configuration, the socketcan\n' +
        'addon (and whether it is the patched one that counts kernel drops), the can/can_raw\n' +
        'kernel modules, a raw CAN socket, each interface (exists, up, bitrate, controller state),\n' +
        'socket receive buffers (>= 4 MiB), the spool directory (takes writes, free space) and the\n' +
        'server handshake.',
    )
    .helpOption('-h, --help', 'show this help')
    .option('-c, --config <path>', 'the JSON config file the daemon uses (also CANBRIDGE_CONFIG)')
    .option(
      '--timeout <ms>',
      `how long to wait for the server's answer, in milliseconds (default ${DEFAULT_TIMEOUT_MS})`,
    )
    .showHelpAfterError('(run canbridge-edge doctor --help for the options)')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
  // every daemon setting, so a daemon command line works with `doctor` put in front of it
  for (const setting of SETTINGS) {
    if (setting.key === 'channels') {
      command.addOption(
        new Option(
          `${setting.flag} <name>`,
          "CAN channel to check, repeatable (default: the config's, else every CAN interface, else can0)",
        ).argParser((value: string, previous: string[] | undefined) => [
          ...(previous ?? []),
          value,
        ]),
      )
    } else if (setting.key === 'server') {
      command.addOption(
        new Option(`${setting.flag} <address>`, 'server to connect to: host:port or unix:/path'),
      )
    } else {
      for (const option of settingOptions(setting, setting.help))
        command.addOption(option.hideHelp())
    }
  }
  command.addHelpText(
    'after',
    `
Each check prints OK, WARN or FAIL, and for WARN and FAIL what to do. Other daemon options
(--edge-id, --spool-dir, ...) are accepted too, so \`canbridge-edge doctor\` can be put in
front of the daemon's own command line.
Exit code: 0 when no check failed (warnings allowed), 1 when one did, 2 for a bad command line.
Examples:
  canbridge-edge doctor --config /etc/canbridge/edge.json
  canbridge-edge doctor --server 192.168.1.10:29536 --channel can0`,
  )
  return command
}

interface Parsed {
  flags: FlagValues
  timeoutMs: number
}

function parse(argv: readonly string[], io: DoctorIo): Parsed | number {
  const command = buildCommand(io)
  try {
    command.parse(argv as string[], { from: 'user' })
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error
    return error.exitCode === 0 ? 0 : USAGE_ERROR
  }
  const options = command.opts<Record<string, unknown>>()
  const flags: FlagValues = {}
  for (const setting of SETTINGS) {
    const attribute = setting.flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
    if (options[attribute] !== undefined) flags[setting.key] = options[attribute]
  }
  if (typeof options['config'] === 'string') flags.config = options['config']
  let timeoutMs = DEFAULT_TIMEOUT_MS
  if (options['timeout'] !== undefined) {
    timeoutMs = Number(options['timeout'])
    if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 600_000) {
      io.err(
        `canbridge-edge doctor: bad --timeout ${JSON.stringify(options['timeout'])}: expected milliseconds from 100 to 600000\n`,
      )
      return USAGE_ERROR
    }
  }
  return { flags, timeoutMs }
}

const SECURITY_KEYS = [
  'edgeId',
  'tlsCa',
  'tlsPins',
  'tlsServername',
  'tlsCert',
  'tlsKey',
  'tokenFile',
  'insecure',
] as const
const TX_KEYS = ['listenOnly', 'txAllow', 'txRateLimit', 'txBurst'] as const

/**
 * The link's security as the daemon would resolve it; its problems join `problems`, and
 * undefined means the server cannot be checked with these settings.
 */
function linkSecurity(values: Partial<EdgeConfig>, problems: string[]): LinkSecurity | undefined {
  const checked = <T>(check: () => T): T | undefined => {
    try {
      return check()
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      problems.push(error.message)
      return undefined
    }
  }
  // a setting that failed to parse is already a problem; without it nothing can be resolved
  if (TX_KEYS.every((key) => values[key] !== undefined))
    checked(() => txPolicySettings(values as EdgeConfig))
  if (values.server === undefined || SECURITY_KEYS.some((key) => values[key] === undefined))
    return undefined
  return checked(() => resolveLinkSecurity(values as EdgeConfig).security)
}

/** Runs the checks and prints them; resolves to the exit code. */
export async function runDoctor(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  io: DoctorIo = stdio,
  deps: Partial<DoctorDeps> = {},
): Promise<number> {
  const parsed = parse(argv, io)
  if (typeof parsed === 'number') return parsed
  // the README check: the command line is valid; the host is not examined
  if (env['CANBRIDGE_CHECK_ARGS'] === '1') return 0
  const host = deps.host ?? realHost()
  const build = 'build' in deps ? deps.build : BUILD_INFO
  const config = inspectConfig(parsed.flags, env)
  const values = config.values
  // TLS, token and transmit policy are checked together, as the daemon does before it starts
  const security = linkSecurity(values, config.problems)

  // which channels: given (flag, environment, config file), else the CAN interfaces here, else can0
  let channels = values.channels
  let channelNote = ''
  if (channels === undefined) {
    const found = listCanInterfaces(host)
    channels = found.length > 0 ? found : [DEFAULT_CHANNEL]
    channelNote =
      found.length > 0
        ? ' (none given: every CAN interface here)'
        : ` (none given and no CAN interface here: the default ${DEFAULT_CHANNEL})`
  }
  const interfaces = channels.filter((c) => !c.startsWith(VIRTUAL_PREFIX))
  const virtual = channels.filter((c) => c.startsWith(VIRTUAL_PREFIX))

  const results: CheckResult[] = []
  const width = Math.max(10, ...interfaces.map((name) => `${name} bus`.length))
  const report = (result: CheckResult): void => {
    results.push(result)
    io.out(`${formatResult(result, width)}\n`)
  }
  /** A check that throws is a FAIL line of its own; the others still run. */
  const guarded = <T>(name: string, check: () => T, fallback: T): T => {
    try {
      return check()
    } catch (error) {
      report(
        fail(name, `the check itself failed: ${(error as Error).message}`, [
          'please report this with the output of canbridge-edge doctor',
        ]),
      )
      return fallback
    }
  }

  const kind = build ? `single executable ${build.target}, build ${build.commit}` : 'from source'
  io.out(
    `canbridge-edge doctor ${packageVersion()} on ${hostname()}: linux ${host.release} ${process.arch}, node ${process.version}, ${kind}\n` +
      `channels: ${channels.join(', ')}${channelNote}; ${values.server ? `server${values.server.length > 1 ? 's (failover in this order)' : ''}: ${values.server.map(describeAddress).join(', ')}` : 'server: none given'}\n\n`,
  )

  if (config.configPath !== undefined || config.problems.length > 0) {
    const problems = [
      ...config.problems,
      ...(config.configPath !== undefined ? config.missing.map((m) => m.message) : []),
    ]
    const source = config.configPath ?? 'flags and environment'
    report(
      problems.length === 0
        ? ok('config', `${source}: valid`)
        : {
            status: 'FAIL',
            name: 'config',
            summary: `${source}: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`,
            fix: [...problems.slice(1), 'the daemon refuses to start (exit 2) until this is fixed'],
          },
    )
  }

  if (interfaces.length === 0) {
    report(ok('socketcan', `not needed: only virtual channels (${virtual.join(', ')})`))
  } else {
    const addon = guarded('addon', () => checkAddon(host, { build, ...deps.addon }), undefined)
    if (addon) report(addon.result)
    if (addon?.binding)
      guarded('binding', () => report(checkBindingPatch(addon.binding!)), undefined)
    guarded('kernel', () => report(checkKernelModules(host)), undefined)
    const present = interfaces.filter((name) => readSysfsLink(host, name).type === ARPHRD_CAN)
    guarded('can socket', () => report(checkCanSocket(host, addon?.binding, present)), undefined)
    for (const name of interfaces) {
      guarded(
        name,
        () => {
          const link = readSysfsLink(host, name)
          const details =
            link.exists && link.type === ARPHRD_CAN ? readLinkDetails(host, name) : undefined
          report(
            checkInterfaceLink(host, name, details && !('error' in details) ? details : undefined),
          )
          if (details !== undefined) report(checkInterfaceBus(name, details))
        },
        undefined,
      )
    }
    guarded('rmem', () => report(checkSocketBuffers(host)), undefined)
  }

  if (values.spoolDir && values.spoolBytes !== undefined) {
    try {
      report(await checkSpool(values.spoolDir, values.spoolBytes, channels.length))
    } catch (error) {
      report(fail('spool', `the check itself failed: ${(error as Error).message}`, []))
    }
  }

  if (values.server !== undefined && security === undefined) {
    report(
      fail(
        'server',
        'not checked: the TLS or token settings are not usable (see the config line)',
        ['fix the config line first: the daemon could not connect with these settings either'],
      ),
    )
  } else {
    const checked = await checkServers(values.server, {
      edgeId: values.edgeId ?? 'edge',
      software: `canbridge-edge-doctor/${packageVersion()}`,
      timeoutMs: parsed.timeoutMs,
      security,
    })
    for (const result of checked) report(result)
  }

  const counts = tally(results)
  const code = exitCode(results)
  io.out(
    `\ndoctor: ${counts.FAIL} FAIL, ${counts.WARN} WARN, ${counts.OK} OK: ${
      code === 0
        ? counts.WARN > 0
          ? 'the edge can run here; the warnings say what to improve'
          : 'the edge can run here'
        : 'fix the FAIL lines first'
    }\n`,
  )
  return code
}
