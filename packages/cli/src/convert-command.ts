// `canbridge convert`: a log file into another format (python-can's `can.logconvert`): what
// LogReader reads in, what openLogWriter writes out, a progress bar on a terminal and a summary
// line. A file that breaks part way leaves every frame read before the break in the output.
import { existsSync, realpathSync, statSync } from 'node:fs'
import { extname } from 'node:path'
import {
  LOG_READER_SUFFIXES,
  LOG_WRITER_SUFFIXES,
  LogReader,
  type LogWriter,
  openLogWriter,
  type SignalDecoder,
} from '@canbridge/server-bus'
import { SingleBar } from 'cli-progress'
import { Command } from 'commander'
import { decodeErrorNote, loadDbcDecoder } from './dbc-signal-decoder.ts'
import { EXIT, UsageError } from './exit.ts'
import { type Output, onStopSignal, say } from './output.ts'

export interface ConvertSettings {
  input: string
  output: string
  /** channel names in BLF/ASC channel-number order */
  channels: string[] | undefined
  dbcFile: string | undefined
  force: boolean
  quiet: boolean
}

const PROGRESS_MS = 200

export function createConvertCommand(): Command {
  const command = new Command('convert')
    .description(
      "convert a log file into another format (as python-can's can.logconvert): the suffixes say which; a progress bar on a terminal, a summary line at the end.",
    )
    .argument('<input>', `the log to read: ${Object.keys(LOG_READER_SUFFIXES).join(', ')}`)
    .argument('<output>', `the log to write: ${Object.keys(LOG_WRITER_SUFFIXES).join(', ')}`)
    .option(
      '--channels <names>',
      'channel names in channel-number order, comma-separated: they name the channels of a .blf input (else 0, 1, ...) and number those of a .blf or .asc output',
    )
    .option('--dbc <file>', 'with an .mcap output: decoded signals beside the raw frames')
    .option('--force', 'overwrite <output> if it exists')
    .option('-q, --quiet', 'no progress bar (the summary stays)')
  command.addHelpText(
    'after',
    `
Examples:
  canbridge convert drive.log drive.blf                 candump -L into Vector BLF
  canbridge convert trip.blf trip.mcap --dbc car.dbc    BLF into MCAP with decoded signals
  canbridge convert trip.mcap trip.asc                  MCAP into Vector ASC
  canbridge convert bench.blf bench.log --channels pi/can0,pi/can1

A file that breaks part way (truncated, corrupt) is converted up to the break; the message
says where it broke. Exit status: 0 converted, 2 bad command line, 3 the input could not be
read to its end or the output could not be written.`,
  )
  return command.action(async (input: string, output: string, options: Record<string, unknown>) => {
    process.exitCode = await runConvert(convertSettings(input, output, options), {
      stdout: process.stdout,
      stderr: process.stderr,
    })
  })
}

/** Checks the command line; throws UsageError. */
export function convertSettings(
  input: string,
  output: string,
  o: Record<string, unknown>,
): ConvertSettings {
  checkSuffix(input, LOG_READER_SUFFIXES, 'read')
  checkSuffix(output, LOG_WRITER_SUFFIXES, 'write')
  const dbcFile = o['dbc'] as string | undefined
  if (dbcFile !== undefined && extname(output).toLowerCase() !== '.mcap') {
    throw new UsageError('--dbc needs an .mcap output: only MCAP carries decoded signals')
  }
  const channelsText = o['channels'] as string | undefined
  const channels = channelsText?.split(',').map((name) => name.trim())
  if (channels?.some((name) => name === '')) {
    throw new UsageError(`--channels has an empty name: ${JSON.stringify(channelsText)}`)
  }
  return {
    input,
    output,
    channels,
    dbcFile,
    force: o['force'] === true,
    quiet: o['quiet'] === true,
  }
}

function checkSuffix(path: string, suffixes: Readonly<Record<string, string>>, verb: string) {
  const suffix = extname(path).toLowerCase()
  if (!Object.hasOwn(suffixes, suffix)) {
    const known = Object.entries(suffixes)
      .map(([s, what]) => `${s} (${what})`)
      .join(', ')
    throw new UsageError(
      `cannot ${verb} ${JSON.stringify(path)}: ${suffix === '' ? 'no suffix' : `unsupported suffix ${JSON.stringify(suffix)}`}; supported: ${known}`,
    )
  }
}

/** Converts; returns the exit status. */
export async function runConvert(settings: ConvertSettings, out: Output): Promise<number> {
  const note = (line: string) => say(out, 'canbridge convert', line)
  let size: number
  try {
    size = statSync(settings.input).size
  } catch (error) {
    note(`cannot read ${settings.input}: ${(error as Error).message}`)
    return EXIT.ERROR
  }
  if (existsSync(settings.output)) {
    if (realpathSync(settings.output) === realpathSync(settings.input)) {
      note(`${settings.output} is the input file: give another output`)
      return EXIT.USAGE
    }
    if (!settings.force) {
      note(`${settings.output} exists: give --force to overwrite it`)
      return EXIT.USAGE
    }
  }
  let decoder: SignalDecoder | undefined
  if (settings.dbcFile !== undefined) {
    try {
      decoder = await loadDbcDecoder(settings.dbcFile)
    } catch (error) {
      note((error as Error).message)
      return EXIT.ERROR
    }
  }
  let writer: LogWriter
  try {
    writer = openLogWriter(settings.output, { channels: settings.channels, decoder })
  } catch (error) {
    note((error as Error).message)
    return EXIT.ERROR
  }
  const reader = new LogReader(settings.input, { channels: settings.channels })
  const stop = new AbortController()
  const removeSignals = onStopSignal(() => stop.abort())
  const bar =
    !settings.quiet && (out.stderr as NodeJS.WriteStream).isTTY === true
      ? progressBar(out, size)
      : undefined
  const tick = bar && setInterval(() => bar.update(reader.bytesRead), PROGRESS_MS)
  const started = performance.now()
  let frames = 0
  let readError: Error | undefined
  let writeError: Error | undefined
  try {
    for await (const message of reader) {
      const pending = writer.onMessage(message)
      if (pending !== undefined) await pending
      frames++
      if (stop.signal.aborted) break
    }
  } catch (error) {
    // a read error and a write error look alike here: the writer keeps its own
    readError = error as Error
  } finally {
    clearInterval(tick)
    removeSignals()
  }
  try {
    await writer.stop()
  } catch (error) {
    writeError = error as Error
  }
  if (bar) {
    bar.update(reader.bytesRead)
    bar.stop()
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(2)
  const done = `${frames} frames from ${settings.input} into ${settings.output} in ${seconds} s`
  if (writeError !== undefined) {
    note(`${writeError.message}; ${done}, the file may be incomplete`)
    return EXIT.ERROR
  }
  const decodeNote = decodeErrorNote(writer)
  if (decodeNote !== undefined) note(decodeNote)
  if (readError !== undefined) {
    note(readError.message)
    note(`${done}: every frame before the break`)
    return EXIT.ERROR
  }
  note(stop.signal.aborted ? `stopped: ${done} (the rest not converted)` : done)
  return stop.signal.aborted ? EXIT.FAILED : EXIT.OK
}

function progressBar(out: Output, total: number): SingleBar {
  const bar = new SingleBar({
    stream: out.stderr,
    format: 'converting [{bar}] {percentage}% | {value}/{total} bytes | {eta_formatted} left',
    hideCursor: true,
    clearOnComplete: true,
  })
  bar.start(total, 0)
  return bar
}
