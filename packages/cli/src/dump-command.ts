// `canbridge dump`: candump on the workstation. A TCPBus listens for edges (or, with --nats, a
// fleet's stream is read from NATS JetStream) and what they stream is printed in candump's
// formats, with candump's filters, optionally into a log file.

import { extname } from 'node:path'
import {
  CANFD_FLAG,
  type CanMessage,
  INTERFACE_NAMINGS,
  type InterfaceNaming,
  type LogWriter,
  openLogWriter,
  type SignalDecoder,
} from '@canbridge/server-bus'
import { InterfaceNames } from '@canbridge/server-bus/internal'
import { Command, Option } from 'commander'
import {
  ANY_INTERFACE,
  busFiltersFor,
  type InterfaceSpec,
  parseInterfaceSpec,
  specAccepts,
  specMatchesChannel,
} from './candump-filter.ts'
import { CandumpPrinter, TIMESTAMP_MODES, type TimestampMode } from './candump-printer.ts'
import { decodeErrorNote, loadDbcDecoder } from './dbc-signal-decoder.ts'
import { type DumpInput, openDumpSource } from './dump-source.ts'
import { EXIT, integerOption, UsageError } from './exit.ts'
import { fromOption, natsUrls, streamName } from './fleet-options.ts'
import { addListenOptions, listenSettings } from './listen-options.ts'
import { type Output, onStopSignal, say, writeOut } from './output.ts'

/** candump -s: 0 print, 1 a spinner, 2 nothing on stdout */
const SILENT = { OFF: 0, SPINNER: 1, ON: 2 } as const
const SPINNER = ['|', '/', '-', '\\']

/** Options that only make sense for edges connecting here, and those only for --nats. */
const LISTEN_OPTIONS = [
  'port',
  'host',
  'unix',
  'pki',
  'tlsCert',
  'tlsKey',
  'clientCa',
  'tokensFile',
  'allowPeer',
  'insecure',
] as const
const FLEET_OPTIONS = ['stream', 'prefix', 'edge', 'channel', 'from'] as const
const flagOf = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`

export interface DumpSettings {
  input: DumpInput
  specs: InterfaceSpec[]
  timestamps: TimestampMode | undefined
  logFormat: boolean
  ascii: boolean
  extra: boolean
  /** a log file (its suffix picks the format), or undefined */
  logFile: string | undefined
  /** a DBC file whose signals go into the (MCAP) log file */
  dbcFile: string | undefined
  silent: number
  count: number | undefined
  idleTimeoutMs: number | undefined
  dropLines: boolean
  naming: InterfaceNaming
  fdFlagBase: number
}

export function createDumpCommand(): Command {
  const command = new Command('dump')
    .description(
      "candump on this workstation: listen for canbridge edges (or read a fleet's stream from NATS JetStream with --nats) and print the frames, in candump's formats and with its filters; Ctrl-C stops and says how many frames arrived and were lost.",
    )
    .argument(
      '[interfaces...]',
      'interfaces with optional filters, as candump takes them: <interface>[,filter]* (default: any)',
    )
    .addOption(
      new Option(
        '-t <type>',
        'timestamps: a absolute, A absolute with date, d delta, z from zero',
      ).choices(TIMESTAMP_MODES),
    )
    .option('-a', 'add the data as ASCII text')
    .option('-x', 'add extra message info: RX/TX, BRS, ESI (with -L: R or T after the frame)')
    .option('-L', 'use the log file format (candump -L) on stdout')
    .option('-l', 'log into candump-<date>_<time>.log in this directory (implies -s 2)')
    .option(
      '-f <file>',
      'log into <file>: .log candump -L, .asc Vector ASC, .blf Vector BLF, .mcap MCAP ("-" means -L on stdout; implies -s 2)',
    )
    .option('--mcap <file>', 'record into an MCAP file (Foxglove opens it): -f with a .mcap name')
    .option('--dbc <file>', 'with an MCAP log file: decoded signals beside the raw frames')
    .option('-s <level>', 'silent mode: 0 off, 1 a spinner, 2 no output on stdout')
    .option('-n <count>', 'stop after <count> frames')
    .option('-T <msecs>', 'stop after <msecs> without a frame')
    .option('-d', 'print a DROPCOUNT line (as candump -d) when the bridge lost frames')
    .addOption(
      new Option(
        '--names <naming>',
        'interface column: interface (can0, as candump on the edge prints it) or channel (pi/can0)',
      )
        .choices(INTERFACE_NAMINGS)
        .default('interface'),
    )
    .option(
      '--no-fdf',
      'print CAN FD flags without the FDF bit (##0, ##1 as Linux < 6.0 and python-can); default ##4, ##5 as candump on Linux >= 6.0',
    )
  addListenOptions(command)
  command
    .option(
      '--nats <urls>',
      'read a fleet instead (canbridge gateway stores it): NATS servers, nats://host:port, comma-separated',
    )
    .option('--stream <name>', 'with --nats: the stream (default CANBRIDGE)')
    .option('--prefix <subject>', 'with --nats: the subject prefix (default can)')
    .option('--edge <id|glob>', "with --nats: only these edges ('veh-*'; default all)")
    .option('--channel <name|glob>', 'with --nats: only these interfaces (can0; default all)')
    .option(
      '--from <where>',
      'with --nats: now (default), all, a stream sequence, or an ISO date (2026-12-06T10:00:00Z)',
    )
  command.addHelpText(
    'after',
    `
Filters (hexadecimal, comma-separated after the interface, as candump):
  <can_id>:<can_mask>   matches when id & mask == can_id & mask
  <can_id>~<can_mask>   matches when id & mask != can_id & mask
  #<error_mask>         also error frames of these classes (see linux/can/error.h)
  j                     join: every filter must match, not any
  An 8-digit can_id is extended. As in the kernel, a mask may select extended frames
  (0x80000000) and remote frames (0x40000000): 123:C00007FF matches only standard data
  frames with id 123. Without filters an interface receives every data frame and no
  error frame. The filters run here, frame by frame; when they can be said as python-can
  filters (no ~, j or #) they also go to the edges' kernels, so the link carries less.

Interfaces: "any" (every channel), an interface name (can0: that interface on every edge)
or a channel (pi/can0).

Examples:
  canbridge dump                                 every data frame from every edge
  canbridge dump -L can0,123:7FF,400:700         two id ranges of can0, log format
  canbridge dump -ta -a -x any,0:0,#FFFFFFFF     times, ASCII, flags, error frames too
  canbridge dump -f capture.asc -n 10000         10000 frames into a Vector ASC file
  canbridge dump --mcap trip.mcap --dbc car.dbc  into MCAP with decoded signals (Foxglove)
  canbridge dump -f trip.blf                     into Vector BLF

From a fleet (edges → canbridge gateway → NATS JetStream; nothing listens here):
  canbridge dump --nats nats://127.0.0.1:4222 --edge 'veh-*' --channel can0
  canbridge dump --nats nats://127.0.0.1:4222 --edge veh-7 --from 2026-12-06T08:00:00Z -L -T 2000
      that morning's traffic of veh-7 as a candump log, until 2 s pass without a frame
  canbridge dump --nats nats://n1:4222,nats://n2:4222 --from all -f fleet.blf -n 1000000
Interfaces and filters work as for edges (can0 matches can0 of every edge). Lost frames
are those missing from the stream's sequence or reported dropped by the edge.

On the edge: canbridge-edge --server <this host>:29536 --channel can0
Exit status: 0 stopped (Ctrl-C, -n or -T), 2 bad command line (or a log file suffix
it cannot write), 3 could not listen, reach NATS or its stream, or write the log file.`,
  )
  return command.action(async (interfaces: string[], options: Record<string, unknown>) => {
    process.exitCode = await runDump(dumpSettings(interfaces, options), {
      stdout: process.stdout,
      stderr: process.stderr,
    })
  })
}

/** Checks the command line; throws UsageError. */
export function dumpSettings(interfaces: string[], o: Record<string, unknown>): DumpSettings {
  const specs = (interfaces.length > 0 ? interfaces : [ANY_INTERFACE]).map(parseInterfaceSpec)
  let logFile = o['f'] as string | undefined
  const mcap = o['mcap'] as string | undefined
  if (mcap !== undefined) {
    if (logFile !== undefined || o['l'] === true) {
      throw new UsageError('--mcap and -f/-l both name a log file: give one')
    }
    if (extname(mcap).toLowerCase() !== '.mcap') {
      throw new UsageError(`--mcap needs a file name ending in .mcap, got ${JSON.stringify(mcap)}`)
    }
    logFile = mcap
  }
  const dbcFile = o['dbc'] as string | undefined
  if (dbcFile !== undefined && extname(logFile ?? '').toLowerCase() !== '.mcap') {
    throw new UsageError('--dbc needs an MCAP log file (--mcap <file>): only MCAP carries signals')
  }
  let logFormat = o['L'] === true
  if (logFile === '-') {
    logFile = undefined
    logFormat = true
  } else if (o['l'] === true) {
    if (logFile !== undefined) throw new UsageError('-l and -f both name a log file: give one')
    logFile = defaultLogName(new Date())
  }
  const ascii = o['a'] === true
  if (logFormat && ascii) {
    throw new UsageError('-L prints the log format, which has no ASCII column: drop -a')
  }
  const silentText = o['s'] as string | undefined
  const silent =
    silentText === undefined
      ? logFile === undefined
        ? SILENT.OFF
        : SILENT.ON
      : integerOption(silentText, '-s', SILENT.OFF, SILENT.ON)
  const count = o['n'] as string | undefined
  const idle = o['T'] as string | undefined
  return {
    input: dumpInput(o),
    specs,
    timestamps: o['t'] as TimestampMode | undefined,
    logFormat,
    ascii,
    extra: o['x'] === true,
    logFile,
    dbcFile,
    silent,
    count: count === undefined ? undefined : integerOption(count, '-n', 1, Number.MAX_SAFE_INTEGER),
    idleTimeoutMs: idle === undefined ? undefined : integerOption(idle, '-T', 1, 2_147_483_647),
    dropLines: o['d'] === true,
    naming: o['names'] as InterfaceNaming,
    fdFlagBase: o['fdf'] === false ? 0 : CANFD_FLAG.FDF,
  }
}

/** Edges connecting here (the listen options), or a fleet in NATS (--nats and its options). */
function dumpInput(o: Record<string, unknown>): DumpInput {
  const nats = o['nats'] as string | undefined
  if (nats === undefined) {
    for (const key of FLEET_OPTIONS) {
      if (o[key] !== undefined) throw new UsageError(`${flagOf(key)} goes with --nats`)
    }
    return { kind: 'edges', listen: listenSettings(o) }
  }
  for (const key of LISTEN_OPTIONS) {
    if (o[key] !== undefined) {
      throw new UsageError(
        `${flagOf(key)} is for edges connecting here; with --nats nothing listens (the gateway does)`,
      )
    }
  }
  const edge = o['edge'] as string | undefined
  const channel = o['channel'] as string | undefined
  return {
    kind: 'fleet',
    nats: natsUrls(nats, '--nats'),
    stream: streamName((o['stream'] as string | undefined) ?? 'CANBRIDGE'),
    prefix: (o['prefix'] as string | undefined) ?? 'can',
    selection: {
      from: fromOption((o['from'] as string | undefined) ?? 'now'),
      ...(edge === undefined ? {} : { edge }),
      ...(channel === undefined ? {} : { channel }),
    },
  }
}

/** candump -l's file name: `candump-2024-01-31_235959.log`, local time. */
export function defaultLogName(now: Date): string {
  const two = (n: number) => String(n).padStart(2, '0')
  return `candump-${now.getFullYear()}-${two(now.getMonth() + 1)}-${two(now.getDate())}_${two(now.getHours())}${two(now.getMinutes())}${two(now.getSeconds())}.log`
}

/** Runs until Ctrl-C, -n or -T; returns the exit status. */
export async function runDump(settings: DumpSettings, out: Output): Promise<number> {
  const prefix = 'canbridge dump'
  const note = (line: string) => say(out, prefix, line)
  const width = Math.max(...settings.specs.map((s) => s.name.length))
  let writer: LogWriter | undefined
  if (settings.logFile !== undefined) {
    let decoder: SignalDecoder | undefined
    try {
      if (settings.dbcFile !== undefined) decoder = await loadDbcDecoder(settings.dbcFile)
    } catch (error) {
      note((error as Error).message)
      return EXIT.ERROR
    }
    try {
      writer = openLogWriter(settings.logFile, {
        decoder,
        naming: settings.naming,
        interfaceWidth: width,
        direction: settings.extra,
        fdFlagBase: settings.fdFlagBase,
      })
    } catch (error) {
      note((error as Error).message)
      return error instanceof RangeError ? EXIT.USAGE : EXIT.ERROR // a suffix it cannot write
    }
    note(`logging into ${settings.logFile}`)
    if (settings.silent === SILENT.ON) note('standard output is off while logging (-s 0 keeps it)')
  }
  const stop = new AbortController()
  const removeSignals = onStopSignal(() => stop.abort())
  const names = new InterfaceNames(settings.naming)
  const printer = new CandumpPrinter({
    timestamps: settings.timestamps,
    logFormat: settings.logFormat,
    ascii: settings.ascii,
    extra: settings.extra,
    width,
    fdFlagBase: settings.fdFlagBase,
  })
  const lost = { total: 0, byChannel: new Map<string, number>() }
  const onLoss = (channel: string, count: number) => {
    // a gap the edge explained in a DROPS (before or after it) is that one loss: count it once
    if (count === 0) return
    lost.total += count
    const total = (lost.byChannel.get(channel) ?? 0) + count
    lost.byChannel.set(channel, total)
    if (settings.dropLines && settings.silent === SILENT.OFF) {
      const s = count > 1 ? 's' : ''
      void writeOut(
        out.stdout,
        `DROPCOUNT: dropped ${count} CAN frame${s} on '${names.of(channel)}' socket (total drops ${total})\n`,
      )
    }
  }
  const source = await openDumpSource(settings.input, busFiltersFor(settings.specs), note, onLoss)
  if (source === null) {
    removeSignals()
    await writer?.stop()
    return EXIT.ERROR
  }
  out.stdout.on('error', () => stop.abort()) // EPIPE: the reader went away (e.g. | head)

  let idleTimer: NodeJS.Timeout | undefined
  const armIdle = () => {
    if (settings.idleTimeoutMs === undefined) return
    clearTimeout(idleTimer)
    idleTimer = setTimeout(() => stop.abort(), settings.idleTimeoutMs)
  }
  armIdle()

  let received = 0
  let shown = 0
  let spin = 0
  let failure: Error | undefined
  try {
    for await (const batch of source.batches(stop.signal)) {
      armIdle()
      received += batch.length
      let text = ''
      for (const message of batch) {
        const times = matchingSpecs(settings.specs, message)
        for (let i = 0; i < times; i++) {
          shown++
          if (settings.silent === SILENT.OFF) {
            text += printer.line(message, names.of(message.channel))
          } else if (settings.silent === SILENT.SPINNER) {
            text += `${SPINNER[spin++ % SPINNER.length]}\b`
          }
          const pending = writer?.onMessage(message)
          if (pending !== undefined) await pending
          if (shown === settings.count) break
        }
        if (shown === settings.count) break
      }
      if (text !== '') await writeOut(out.stdout, text)
      if (shown === settings.count) break
    }
  } catch (error) {
    failure = error as Error
  } finally {
    clearTimeout(idleTimer)
    removeSignals()
  }
  await source.close()
  try {
    await writer?.stop()
  } catch (error) {
    failure ??= error as Error
  }
  const lostText =
    lost.total === 0
      ? '0 lost'
      : `${lost.total} lost (${[...lost.byChannel].map(([c, n]) => `${c}: ${n}`).join(', ')})`
  note(
    `${shown} frames${received === shown ? '' : ` shown of ${received} received`}, ${lostText}${writer === undefined ? '' : `, ${writer.count} logged into ${writer.name}`}`,
  )
  const decodeNote = decodeErrorNote(writer)
  if (decodeNote !== undefined) note(decodeNote)
  if (failure !== undefined) {
    note(failure.message)
    return EXIT.ERROR
  }
  return EXIT.OK
}

/** How many of the specs (candump: sockets) take this message. */
function matchingSpecs(specs: readonly InterfaceSpec[], message: CanMessage): number {
  let n = 0
  for (const spec of specs) {
    if (specMatchesChannel(spec, message.channel) && specAccepts(spec, message)) n++
  }
  return n
}
