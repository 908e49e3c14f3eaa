// canbridge-soak: the command line. Parses the options, re-runs itself inside the project's
// kernel harness when this machine has no such interface (and the harness is there), runs
// the soak, prints the summary (or JSON) and exits non-zero on any anomaly.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { showDefaultsPlainly } from '@canbridge/cli/help-format'
import { addSecurityOptions, securitySettings } from '@canbridge/cli/listen-options'
import { Command, CommanderError, Option } from 'commander'
import { formatSummary } from './analyze.ts'
import {
  checkSchedule,
  FAULT_HELP,
  FAULT_KINDS,
  type FaultKind,
  type FaultSpec,
  liftFaultsInForce,
  parseDuration,
  parseFaultSpec,
  periodicSchedule,
} from './faults.ts'
import { kernelHarness } from './locations.ts'
import { Progress } from './progress.ts'
import { defaultEdgeCommand, runSoak, type SoakOptions } from './soak.ts'
import { SHAPE_HELP, SHAPES, type Shape } from './traffic.ts'

export const EXIT = { PASS: 0, FAIL: 1, USAGE: 2, ERROR: 3 } as const

function buildProgram(): Command {
  const program = new Command('canbridge-soak')
    .description(
      "Soak test of canbridge end to end: cangen traffic on the edge's CAN interface, candump -L as ground truth, every frame received through a TCPBus compared with it (lost, duplicated, reordered, corrupted, timestamps), latency and throughput over time, faults injected on a schedule, an HTML report. Exit status 0 only when nothing was lost, duplicated, reordered or corrupted.",
    )
    .helpOption('-h, --help', 'show this help')
    .option('-d, --duration <seconds>', 'how long the traffic runs', '60')
    .option('-r, --rate <frames/s>', 'frames per second on the bus, all shapes together', '1000')
    .option(
      '--min-rate <frames/s>',
      'fail when the rate achieved is lower (default: no check)',
      '0',
    )
    .option('-s, --shape <list>', `traffic shapes, comma-separated: ${SHAPES.join(', ')}`, 'mixed')
    .option('-i, --iface <name>', "the edge's CAN interface", 'vcan0')
    .addOption(
      new Option(
        '-f, --fault <spec>',
        'a fault: KIND@AT[/DURATION][?k=v&..] (repeatable), e.g. partition@40s/5s',
      ).argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]),
    )
    .option(
      '--fault-every <duration>',
      'a fault every DURATION (first at half of it), kinds from --fault-kinds in turn',
    )
    .option('--fault-kinds <list>', 'kinds for --fault-every', FAULT_KINDS.join(','))
    .option(
      '-p, --port <port>',
      'TCPBus port (0: any free port; keep one fixed for an external edge)',
      '0',
    )
    .option(
      '--listen <host>',
      'address the TCPBus binds (0.0.0.0 for an edge on another machine, with --pki, --tokens-file or --insecure)',
      '127.0.0.1',
    )
    .addOption(
      new Option(
        '--edge <mode>',
        'spawn: the soak runs canbridge-edge here; external: an edge already pointed at this bus',
      )
        .choices(['spawn', 'external'])
        .default('spawn'),
    )
    .option(
      '--edge-command <argv>',
      'how to run the edge (spawn), e.g. "node /opt/canbridge/edge/dist/main.js" (default: this repo\'s build, else canbridge-edge)',
    )
    .addOption(
      new Option(
        '--edge-arg <arg>',
        'extra argument for the spawned edge (repeatable), e.g. --edge-arg=--ring-bytes=256K',
      ).argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]),
    )
    .option(
      '--edge-id <id>',
      "the edge's --edge-id (spawn) or the one to wait for (external)",
      'soak',
    )
    .option(
      '--edge-restart-cmd <command>',
      'shell command that restarts an external edge (edge-restart faults), e.g. "ssh pi sudo systemctl restart canbridge-edge"',
    )
    .option(
      '--ssh <target>',
      'run cangen, candump and ip link on the edge machine over ssh (key login), e.g. pi@raspberrypi',
    )
    .option('--sudo', 'run ip link there with sudo -n (iface-bounce faults)')
    .option(
      '--link-dev <dev>',
      'network device for tc netem (partition, degrade): lo here, or the NIC towards the edge',
      'lo',
    )
    .option('--ts-tolerance <us>', 'timestamp difference still counted equal, µs', '0')
    .option(
      '--binding-limits',
      'for an edge without the patched socketcan binding (its HELLO has no fd-flags): BRS/ESI and FD-for-8-bytes-or-less differences are counted apart instead of as corruption (default: every flag must match)',
    )
    .option('--strict-flags', 'every flag must match (the default; kept for old command lines)')
    .option(
      '--drain-timeout <seconds>',
      'after the traffic, how long to wait for the edge to hand everything over',
      '60',
    )
    .option(
      '-o, --out <dir>',
      'directory for candump.log, result.json, report.html (default: /tmp/canbridge-soak-<time>)',
    )
    .option('--report <file>', 'the HTML report (default: <out>/report.html)')
    .option('--json', 'print the result as JSON on stdout (progress stays on stderr)')
    .option('-q, --quiet', 'no progress lines')
    .option(
      '--progress-interval <seconds>',
      'progress line period when stderr is not a terminal',
      '10',
    )
    .option('--no-harness', 'never re-run inside scripts/kernel-harness.sh')
    .option(
      '--rmem <bytes>',
      "kernel harness only: net.core.rmem_default, the receive buffer of the edge's CAN socket",
      '4194304',
    )
    .showHelpAfterError('(run canbridge-soak --help for the options)')
    .allowExcessArguments(false)
  // an edge on another machine: TCPBus binds beyond loopback only with authentication
  addSecurityOptions(program)
  program.addHelpText(
    'after',
    `
Traffic shapes (cangen on the interface; --rate is held by re-pacing cangen as it runs):
${SHAPES.map((s) => `  ${s.padEnd(10)} ${SHAPE_HELP[s]}`).join('\n')}

Faults (while the traffic runs; each one is on the report's timeline with its cost):
${FAULT_KINDS.map((k) => `  ${k.padEnd(15)} ${FAULT_HELP[k]}`).join('\n')}
  Partition and degrade use tc (root or CAP_NET_ADMIN where the soak runs). On lo both
  directions are shaped; on a NIC the egress is, and a partition also drops the ingress.

What counts: a frame is lost, duplicated, reordered or corrupted (id, flags, length, data)
against candump; any of those fails the run (exit 1), as do candump drops and failed faults.
Frames on the bus while no edge process runs (edge-restart) are reported as missed, not
lost. Timestamps are compared to the µs (--ts-tolerance): the edge's SIOCGSTAMP and candump's
SO_TIMESTAMP are the same kernel time; mismatches are reported, not failed.
Exit status: 0 pass, 1 anomalies, 2 bad usage, 3 the soak could not run.

Where it runs:
  * Here, no SocketCAN (e.g. from the repo: pnpm soak --duration 60): when the interface
    does not exist and scripts/kernel-harness.sh is present, the soak re-runs itself inside
    the kernel harness (User-Mode Linux, vcan with MTU 72, rmem raised), edge included.
  * Here, with vcan: sudo ip link add vcan0 mtu 72 type vcan && sudo ip link set vcan0 up,
    sudo sysctl -w net.core.rmem_default=4194304; tc faults need root.
  * A real setup (edge on a Raspberry Pi, the bus on this workstation):
      keys:       canbridge keys init --server-name <workstation> --edge pi   (copy ca.crt,
                    edges/pi.crt and edges/pi.key to the Pi)
      on the Pi:  canbridge-edge --server <workstation>:29536 --channel can0 --edge-id pi \\
                    --tls-ca ca.crt --tls-cert pi.crt --tls-key pi.key \\
                    --stats-interval 1s --spool-dir /var/lib/canbridge      (or its service)
      here:       canbridge-soak --edge external --edge-id pi --listen 0.0.0.0 --port 29536 \\
                    --pki canbridge-pki \\
                    --ssh pi@raspberrypi --iface can0 --rate 1000 --duration 600 \\
                    --fault-every 60s --fault-kinds server-restart,partition,degrade \\
                    --link-dev eth0
    cangen and candump run on the Pi over ssh (key login and the Pi's host key known here:
    ssh runs with BatchMode, so run 'ssh pi@raspberrypi true' once first; can-utils installed
    there), so the ground truth and the edge read the same kernel. Add --sudo (passwordless sudo on the Pi)
    for iface-bounce, and --edge-restart-cmd 'ssh pi@raspberrypi sudo systemctl restart
    canbridge-edge' for edge-restart. Latency compares the Pi's kernel clock with this
    machine's: keep both synchronized (chrony/NTP) or read latency as relative. Edge RSS and
    CPU are measured only for an edge the soak spawns.

Examples:
  canbridge-soak --duration 60 --rate 1000 --fault server-restart@20s/3s --fault partition@40s/5s
  canbridge-soak --duration 600 --rate 2000 --fault-every 60s --json > result.json
  canbridge-soak --shape increment,fd,remote,burst --rate 500 --duration 30`,
  )
  return showDefaultsPlainly(program)
}

interface Parsed {
  rmem: number
  options: SoakOptions
  json: boolean
  harness: boolean
  quiet: boolean
}

/** A number option within its range; a value beyond it is refused with the range. */
function number(value: string, name: string, min: number, max: number): number {
  const n = value.trim() === '' ? Number.NaN : Number(value)
  if (!Number.isFinite(n) || n < min || n > max)
    throw new RangeError(
      `--${name} must be a number from ${min} to ${max}, got ${JSON.stringify(value)}`,
    )
  return n
}

/** frames/s: far beyond what cangen and vcan carry, so only a typing error exceeds it */
const MAX_RATE = 1_000_000

/** Parses argv (without node and script); throws CommanderError or RangeError on bad usage. */
export function parseArgs(
  argv: readonly string[],
  output?: { out: (s: string) => void; err: (s: string) => void },
): Parsed {
  const program = buildProgram().exitOverride()
  if (output) program.configureOutput({ writeOut: output.out, writeErr: output.err })
  program.parse(argv as string[], { from: 'user' })
  const o = program.opts<Record<string, string | string[] | boolean | undefined>>()
  const durationS = number(o['duration'] as string, 'duration', 1, 31_536_000)
  const shapes = (o['shape'] as string).split(',').map((s) => s.trim()) as Shape[]
  for (const s of shapes) {
    if (!SHAPES.includes(s))
      throw new RangeError(`unknown shape ${JSON.stringify(s)} (known: ${SHAPES.join(', ')})`)
  }
  let faults: FaultSpec[] = ((o['fault'] as string[] | undefined) ?? []).map(parseFaultSpec)
  if (o['faultEvery'] !== undefined) {
    const kinds = (o['faultKinds'] as string).split(',').map((k) => k.trim()) as FaultKind[]
    for (const k of kinds) {
      if (!FAULT_KINDS.includes(k))
        throw new RangeError(
          `unknown fault kind ${JSON.stringify(k)} (known: ${FAULT_KINDS.join(', ')})`,
        )
    }
    faults = [
      ...faults,
      ...periodicSchedule(parseDuration(o['faultEvery'] as string), kinds, durationS * 1000),
    ]
  }
  faults = checkSchedule(faults, durationS * 1000)
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const outDir = resolve((o['out'] as string | undefined) ?? `/tmp/canbridge-soak-${stamp}`)
  const quiet = o['quiet'] === true
  const options: SoakOptions = {
    durationS,
    rate: number(o['rate'] as string, 'rate', 1, MAX_RATE),
    minRate: number(o['minRate'] as string, 'min-rate', 0, MAX_RATE),
    shapes,
    iface: o['iface'] as string,
    faults,
    port: number(o['port'] as string, 'port', 0, 65_535),
    listenHost: o['listen'] as string,
    security: securitySettings(o),
    edge: o['edge'] as 'spawn' | 'external',
    edgeCommand:
      o['edgeCommand'] === undefined
        ? defaultEdgeCommand()
        : (o['edgeCommand'] as string).split(/\s+/).filter(Boolean),
    edgeArgs: (o['edgeArg'] as string[] | undefined) ?? [],
    edgeId: o['edgeId'] as string,
    edgeRestartCommand: o['edgeRestartCmd'] as string | undefined,
    place: { ssh: o['ssh'] as string | undefined, sudo: o['sudo'] === true },
    linkDev: o['linkDev'] as string,
    timestampToleranceUs: number(o['tsTolerance'] as string, 'ts-tolerance', 0, 60_000_000),
    flagPolicy: o['bindingLimits'] === true ? 'socketcan-binding' : 'exact',
    drainTimeoutS: number(o['drainTimeout'] as string, 'drain-timeout', 1, 86_400),
    outDir,
    reportPath: resolve((o['report'] as string | undefined) ?? join(outDir, 'report.html')),
    progress: new Progress(process.stderr, {
      enabled: !quiet,
      intervalMs: number(o['progressInterval'] as string, 'progress-interval', 0.1, 86_400) * 1000,
    }),
    commandLine: `canbridge-soak ${argv.join(' ')}`,
  }
  if (options.edge === 'external' && options.port === 0) {
    throw new RangeError('--edge external needs a fixed --port (the edge is already pointed at it)')
  }
  return {
    options,
    json: o['json'] === true,
    harness: o['harness'] !== false,
    quiet,
    rmem: Math.round(number(o['rmem'] as string, 'rmem', 65_536, 2_147_483_647)),
  }
}

/** True when the soak should re-run itself inside the kernel harness. */
function needsHarness(parsed: Parsed, env: Record<string, string | undefined>): boolean {
  if (!parsed.harness || env['CANBRIDGE_KERNEL'] !== undefined || parsed.options.place.ssh)
    return false
  if (existsSync(`/sys/class/net/${parsed.options.iface}`)) return false
  return kernelHarness() !== undefined
}

function reRunInHarness(parsed: Parsed, argv: readonly string[]): Promise<number> {
  const harness = kernelHarness()!
  const script = process.argv[1]!
  const limit = Math.ceil(parsed.options.durationS + parsed.options.drainTimeoutS + 600)
  const args = [
    harness,
    '--fd',
    '--vcan',
    parsed.options.iface,
    '--sysctl',
    `net.core.rmem_default=${parsed.rmem}`,
    '--sysctl',
    `net.core.rmem_max=${Math.max(parsed.rmem, 8_388_608)}`,
    '--timeout',
    String(limit),
    ...(parsed.quiet ? ['--quiet'] : []),
    '--',
    process.execPath,
    script,
    ...argv,
    ...(argv.some((a) => a === '-o' || a.startsWith('--out'))
      ? []
      : ['--out', parsed.options.outDir]),
  ]
  if (!parsed.quiet)
    process.stderr.write(
      `canbridge-soak: no ${parsed.options.iface} here; running inside the kernel harness\n`,
    )
  return new Promise((resolvePromise) => {
    const child = spawn('bash', args, { stdio: 'inherit' })
    child.once('close', (code) => resolvePromise(code ?? EXIT.ERROR))
    child.once('error', () => resolvePromise(EXIT.ERROR))
  })
}

export async function main(
  given: readonly string[],
  env: Record<string, string | undefined>,
): Promise<number> {
  // `pnpm soak -- --duration 60` passes the `--` along
  const argv = given[0] === '--' ? given.slice(1) : given
  let parsed: Parsed
  try {
    parsed = parseArgs(argv)
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.PASS : EXIT.USAGE
    if (error instanceof RangeError) {
      process.stderr.write(`canbridge-soak: ${error.message}\n`)
      return EXIT.USAGE
    }
    throw error
  }
  if (needsHarness(parsed, env)) return reRunInHarness(parsed, argv)
  const { options } = parsed
  // Ctrl-C / SIGTERM: lift the fault in force (netem, a downed interface), then leave
  const onSignal = (signal: NodeJS.Signals) => {
    options.progress.done()
    process.stderr.write(`canbridge-soak: ${signal}: lifting faults in force and stopping\n`)
    void liftFaultsInForce().finally(() => process.exit(128 + (signal === 'SIGINT' ? 2 : 15)))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  let soak: Awaited<ReturnType<typeof runSoak>>
  try {
    soak = await runSoak(options)
  } catch (error) {
    options.progress.done()
    process.stderr.write(
      `canbridge-soak: could not run: ${error instanceof Error ? error.message : String(error)}\n`,
    )
    return EXIT.ERROR
  }
  const { result } = soak
  if (parsed.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
  if (!parsed.quiet || !parsed.json) {
    const out = parsed.json ? process.stderr : process.stdout
    out.write(
      `\ncanbridge soak summary\n${formatSummary(result)}\n\n  report:   ${soak.reportPath}\n  json:     ${soak.jsonPath}\n  candump:  ${soak.candumpPath}\n  received: ${soak.receivedPath}\n`,
    )
  }
  return result.ok ? EXIT.PASS : EXIT.FAIL
}
