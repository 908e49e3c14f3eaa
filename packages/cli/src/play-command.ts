// `canbridge play`: canplayer over the bridge. A TCPBus listens, an edge connects, and the
// frames of a candump log go onto the edge's bus with the log's timing (or faster).
import { accessSync, constants } from 'node:fs'
import {
  type CanMessage,
  formatCandumpFrame,
  formatCandumpLogLine,
  LogParseError,
  LogReader,
  type TCPBus,
} from '@canbridge/server-bus'
import { checkLogSuffix } from '@canbridge/server-bus/internal'
import { Command } from 'commander'
import { EXIT, integerOption, numberOption, UsageError } from './exit.ts'
import { type Assignment, assignmentMap, parseAssignment, Router } from './interface-map.ts'
import { addListenOptions, type ListenSettings, listenSettings } from './listen-options.ts'
import { type Output, say, writeOut } from './output.ts'
import { withEdge } from './remote-edge.ts'
import { type ReplayFailure, ReplayStats, type ReplayTiming, replay } from './replay.ts'

/** Failed sends described one by one on stderr; the rest only in the summary. */
const FAILURES_SHOWN = 10
const PROGRESS_MS = 5000
/** the ranges of the number options: anything beyond is a typing error, not a wish */
const MAX_SPEED = 1_000_000
const MAX_GAP_MS = 3_600_000
const MAX_SECONDS = 86_400

export interface PlaySettings {
  listen: ListenSettings
  /** a `.log` path, or `-` for stdin */
  file: string
  assignments: Assignment[]
  timing: ReplayTiming
  loops: number
  edgeId: string | undefined
  waitMs: number
  sendTimeoutMs: number
  verbose: boolean
  quiet: boolean
  /** read the whole file before sending anything (default); false: --no-check */
  check: boolean
}

export function createPlayCommand(): Command {
  const command = new Command('play')
    .description(
      'canplayer over the bridge: wait for a canbridge edge, then send the frames of a candump log (candump -L / -l, canbridge dump -L / -f x.log) onto its bus with the original timing, or faster.',
    )
    .argument('<file>', 'the log: a .log file, or - for candump -L text on stdin')
    .argument(
      '[assignments...]',
      "canplayer's <write-if>=<log-if>: can0=vcan0 sends what was logged on vcan0 to can0 (an interface name, or edge/can0); stdout=vcan0 prints those lines instead. Without any, each frame goes to the interface it was logged on",
    )
    .option(
      '-t, --fast',
      'ignore the timestamps: send frame after frame as fast as the edge takes them',
    )
    .option('-g <ms>', 'with -t: wait this many milliseconds between frames (default 0)')
    .option('--speed <factor>', 'play the log this many times faster (0.5: half speed)', '1')
    .option('-s <seconds>', 'skip pauses in the log longer than this many seconds')
    .option('-l, --loop <count>', 'play the file this many times; i: until Ctrl-C', '1')
    .option('--edge-id <id>', 'wait for this edge (default: the first that connects)')
    .option('--wait <seconds>', 'how long to wait for the edge', '30')
    .option(
      '--send-timeout <ms>',
      'how long each frame may wait to go out; a frame the edge confirms later (it had it in time) still counts as sent',
      '1000',
    )
    .option(
      '--no-check',
      'send as the file is read, without reading it whole first (a malformed line then stops play after the frames before it went out)',
    )
    .option('-v, --verbose', 'print each frame sent: <channel> (<log interface>) <frame>')
    .option('-q, --quiet', 'no progress lines on stderr (the summary stays)')
  addListenOptions(command)
  command.addHelpText(
    'after',
    `
Timing: a frame goes out when its log time, counted from the log's first frame and divided
by --speed, has passed. A timestamp that jumps backwards, or forward by more than -s
seconds, restarts the count there (as canplayer). Each pass of --loop starts afresh.

Examples:
  canbridge play drive.log                   onto the interfaces the log names
  canbridge play drive.log can0=vcan0        frames logged on vcan0 onto the edge's can0
  canbridge play drive.log --speed 10 -l 3   ten times faster, three times over
  candump -L can1 | canbridge play - can0=can1 -t

On the edge: canbridge-edge --server <this host>:29536 --channel can0
A progress line goes to stderr every 5 s while the log plays, and a summary at the end.
Exit status: 0 every frame sent, 1 a frame could not be sent (the summary counts why),
2 bad command line or log interface without a channel, 3 could not listen, no edge came,
or the log file is unreadable or malformed (the message names file:line).
A log file is read whole before the first frame goes out, so a malformed line sends nothing;
--no-check streams it instead (stdin, -, is always streamed).`,
  )
  return command.action(
    async (file: string, assignments: string[], options: Record<string, unknown>) => {
      process.exitCode = await runPlay(playSettings(file, assignments, options), {
        stdout: process.stdout,
        stderr: process.stderr,
      })
    },
  )
}

/** Checks the command line; throws UsageError. */
export function playSettings(
  file: string,
  assignments: string[],
  o: Record<string, unknown>,
): PlaySettings {
  const gap = o['g'] as string | undefined
  const fast = o['fast'] === true
  if (gap !== undefined && !fast) {
    throw new UsageError(
      '-g sets the gap between frames with -t; without -t the log times the frames (scale them with --speed)',
    )
  }
  const skip = o['s'] as string | undefined
  if (fast && (skip !== undefined || o['speed'] !== '1')) {
    throw new UsageError('-t ignores the timestamps: --speed and -s apply only without it')
  }
  const loopText = o['loop'] as string
  const loops =
    loopText === 'i' ? Number.POSITIVE_INFINITY : integerOption(loopText, '--loop', 1, 1_000_000)
  if (file === '-' && loops !== 1) {
    throw new UsageError('--loop needs a file: stdin can be read only once')
  }
  const timing: ReplayTiming = fast
    ? { mode: 'fast', gapMs: gap === undefined ? 0 : numberOption(gap, '-g', true, MAX_GAP_MS) }
    : {
        mode: 'original',
        speed: numberOption(o['speed'] as string, '--speed', false, MAX_SPEED),
        skipGapUs:
          skip === undefined ? undefined : numberOption(skip, '-s', false, MAX_SECONDS) * 1_000_000,
      }
  const parsed = assignments.map(parseAssignment)
  assignmentMap(parsed)
  return {
    listen: listenSettings(o),
    file,
    assignments: parsed,
    timing,
    loops,
    edgeId: o['edgeId'] as string | undefined,
    waitMs: numberOption(o['wait'] as string, '--wait', false, MAX_SECONDS) * 1000,
    sendTimeoutMs: integerOption(o['sendTimeout'] as string, '--send-timeout', 1, 3_600_000),
    verbose: o['verbose'] === true,
    quiet: o['quiet'] === true,
    check: o['check'] !== false,
  }
}

export async function runPlay(settings: PlaySettings, out: Output): Promise<number> {
  const prefix = 'canbridge play'
  const note = (line: string) => say(out, prefix, line)
  if (settings.file !== '-') {
    try {
      checkLogSuffix(settings.file)
      accessSync(settings.file, constants.R_OK)
    } catch (error) {
      note((error as Error).message)
      return error instanceof RangeError ? EXIT.USAGE : EXIT.ERROR
    }
    if (settings.check) {
      const problem = await checkLog(settings.file)
      if (problem !== undefined) {
        note(`${problem}; nothing was sent (--no-check sends the lines before it)`)
        return EXIT.ERROR
      }
    }
  }
  return withEdge(
    { listen: settings.listen, edgeId: settings.edgeId, waitMs: settings.waitMs },
    { sendTimeoutMs: settings.sendTimeoutMs },
    note,
    (bus, signal) => play(bus, settings, out, signal, note),
  )
}

async function play(
  bus: TCPBus,
  settings: PlaySettings,
  out: Output,
  signal: AbortSignal,
  note: (line: string) => void,
): Promise<number> {
  const router = new Router(settings.assignments, () => bus.channels)
  try {
    router.check()
  } catch (error) {
    note((error as Error).message)
    return EXIT.USAGE
  }
  let reader: LogReader | undefined
  const source = {
    open(): AsyncIterable<CanMessage> {
      reader = settings.file === '-' ? new LogReader(process.stdin) : new LogReader(settings.file)
      return reader
    },
    get line() {
      return reader?.line ?? 0
    },
  }
  const stats = new ReplayStats()
  const started = performance.now()
  // a line every PROGRESS_MS on stderr: long replays show they move, short ones stay quiet
  const progress = settings.quiet
    ? undefined
    : setInterval(() => note(progressText(stats, source.line, started)), PROGRESS_MS)
  const onFailure = (failure: ReplayFailure) => {
    if (stats.failed <= FAILURES_SHOWN) {
      note(
        `${prefixOf(settings.file)}:${failure.line}: not sent to ${failure.channel}: ${failure.message}${stats.failed === FAILURES_SHOWN ? ' (further failures only counted)' : ''}`,
      )
    }
  }
  let error: Error | undefined
  try {
    await replay(
      source,
      {
        route: (logInterface) => router.route(logInterface),
        send: (message, channel) => bus.send(message, { channel }),
        print: (message, logInterface) =>
          writeOut(out.stdout, formatCandumpLogLine(message, logInterface, 0)),
        sent: settings.verbose
          ? (message, channel) =>
              void writeOut(
                out.stdout,
                `${channel} (${message.channel}) ${formatCandumpFrame(message)}\n`,
              )
          : undefined,
      },
      { timing: settings.timing, loops: settings.loops, signal, onFailure },
      stats,
    )
  } catch (caught) {
    error = caught as Error
  } finally {
    clearInterval(progress)
  }
  if (error !== undefined) note(error.message)
  note(summary(stats, settings, performance.now() - started, signal.aborted))
  if (error !== undefined) return error instanceof UsageError ? EXIT.USAGE : EXIT.ERROR
  return stats.failed > 0 ? EXIT.FAILED : EXIT.OK
}

/**
 * Reads the whole log once, frames parsed and dropped: a malformed line is found before any
 * frame goes out. Returns its description (file:line), or undefined when the log is good.
 */
async function checkLog(file: string): Promise<string | undefined> {
  try {
    for await (const _ of new LogReader(file)) {
      // each line is parsed by the reader; the frames themselves are not needed yet
    }
  } catch (error) {
    if (!(error instanceof LogParseError)) throw error
    return error.message
  }
  return undefined
}

function prefixOf(file: string): string {
  return file === '-' ? 'stdin' : file
}

function progressText(stats: ReplayStats, line: number, started: number): string {
  const parts = [
    `${stats.sent} frames sent`,
    `${stats.failed} failed`,
    `line ${line}`,
    `pass ${stats.loopsDone + 1}`,
    `${((performance.now() - started) / 1000).toFixed(1)} s`,
  ]
  if (stats.lateMs >= 10) parts.push(`${stats.lateMs.toFixed(0)} ms behind the log`)
  return parts.join(', ')
}

function summary(stats: ReplayStats, settings: PlaySettings, elapsedMs: number, stopped: boolean) {
  const reasons = [...stats.failures].map(([reason, n]) => `${n} ${reason}`).join(', ')
  const parts = [
    `${stats.sent} frames sent`,
    `${stats.failed} failed${reasons === '' ? '' : ` (${reasons})`}`,
  ]
  if (stats.skipped > 0) parts.push(`${stats.skipped} skipped (log interfaces not assigned)`)
  if (stats.printed > 0) parts.push(`${stats.printed} printed`)
  const passes = settings.loops === 1 ? '' : `, ${stats.loopsDone} passes`
  return `${stopped ? 'stopped: ' : ''}${parts.join(', ')} from ${prefixOf(settings.file)} in ${(elapsedMs / 1000).toFixed(2)} s${passes}`
}
