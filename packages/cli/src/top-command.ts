// `canbridge top`: cansniffer over the bridge. Listens for edges and redraws, a few times a
// second, one line per channel and id: frames, rate, period, jitter and the last payload with
// the bytes that changed lately shown in reverse video. Into a pipe it writes the table as
// plain text blocks instead, one per interval.
import { Command } from 'commander'
import { EXIT, integerOption, UsageError } from './exit.ts'
import { type IdRow, IdTable } from './id-table.ts'
import {
  addListenOptions,
  type ListenSettings,
  listenForEdges,
  listenSettings,
} from './listen-options.ts'
import { type Output, onStopSignal, say, writeOut } from './output.ts'

const CLEAR_SCREEN = '\u001b[H\u001b[2J'
const REVERSE = '\u001b[7m'
const RESET = '\u001b[0m'

export interface TopSettings {
  listen: ListenSettings
  intervalMs: number
  /** stop after this many screens (default: until Ctrl-C) */
  screens: number
  /** only these interfaces (`can0`, or `pi/can0`); empty: all */
  interfaces: string[]
  /** ANSI screen and highlights: stdout is a terminal, unless --plain */
  terminal: boolean
}

export function createTopCommand(): Command {
  const command = new Command('top')
    .description(
      'cansniffer over the bridge: a live table of every CAN id the edges stream, with count, rate, period, jitter and the last data, bytes that changed in the last second highlighted.',
    )
    .argument('[interfaces...]', 'only these: can0 (on every edge) or pi/can0 (default: all)')
    .option('--interval <ms>', 'redraw every <ms> milliseconds', '500')
    .option('-n <screens>', 'stop after this many screens')
    .option('--plain', 'no colours or screen clearing, even on a terminal')
  addListenOptions(command)
  command.addHelpText(
    'after',
    `
Columns: channel (edge/interface), id, frames, frames per second over the last interval,
mean period and jitter (mean absolute deviation) in ms, and the last data; a byte that
changed within the last second is shown in reverse video (marked with * in plain text).

Examples:
  canbridge top                                 every id of every edge
  canbridge top can0 --interval 1000
  canbridge top --host 0.0.0.0 --pki canbridge-pki
  canbridge top -n 1 --interval 5000 > ids.txt  one plain table after 5 s

On the edge: canbridge-edge --server <this host>:29536 --channel can0
Exit status: 0 stopped (Ctrl-C or -n), 2 bad command line, 3 could not listen.`,
  )
  return command.action(async (interfaces: string[], options: Record<string, unknown>) => {
    process.exitCode = await runTop(
      topSettings(interfaces, options, process.stdout.isTTY === true),
      {
        stdout: process.stdout,
        stderr: process.stderr,
      },
    )
  })
}

/** Checks the command line; throws UsageError. */
export function topSettings(
  interfaces: string[],
  o: Record<string, unknown>,
  isTerminal: boolean,
): TopSettings {
  for (const name of interfaces) {
    if (!/^[A-Za-z0-9_.:-]+(\/[A-Za-z0-9_.:?=&-]+)?$/.test(name)) {
      throw new UsageError(`bad interface ${JSON.stringify(name)}: give can0 or edge/can0`)
    }
  }
  const screens = o['n'] as string | undefined
  return {
    listen: listenSettings(o),
    intervalMs: integerOption(o['interval'] as string, '--interval', 50, 3_600_000),
    screens:
      screens === undefined
        ? Number.POSITIVE_INFINITY
        : integerOption(screens, '-n', 1, Number.MAX_SAFE_INTEGER),
    interfaces,
    terminal: isTerminal && o['plain'] !== true,
  }
}

/** The table as text: aligned columns; changed bytes in reverse video or marked with `*`. */
export function renderTable(rows: readonly IdRow[], terminal: boolean): string {
  const header = ['channel', 'id', 'frames', 'rate/s', 'period', 'jitter', 'data']
  const cells = rows.map((row) => [
    row.channel,
    row.id + (row.fd ? ' FD' : '') + (row.remote ? ' R' : ''),
    String(row.count),
    row.rate.toFixed(1),
    row.periodMs === null ? '-' : row.periodMs.toFixed(1),
    row.jitterMs === null ? '-' : row.jitterMs.toFixed(1),
  ])
  const widths = header
    .slice(0, 6)
    .map((title, i) => Math.max(title.length, ...cells.map((c) => c[i]!.length)))
  const line = (values: string[]) =>
    values.map((v, i) => (i < 2 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ')
  const out = [`${line(header.slice(0, 6))}  data`]
  rows.forEach((row, r) => {
    const bytes = row.data === '' ? [] : row.data.split(' ')
    const data = bytes
      .map((byte, i) => {
        if (!row.changed.includes(i)) return terminal ? byte : ` ${byte}`
        return terminal ? `${REVERSE}${byte}${RESET}` : `*${byte}`
      })
      .join(' ')
    out.push(`${line(cells[r]!)}  ${data}`)
  })
  return `${out.join('\n')}\n`
}

export async function runTop(settings: TopSettings, out: Output): Promise<number> {
  const note = (line: string) => say(out, 'canbridge top', line)
  const bus = await listenForEdges(settings.listen, {}, note)
  if (bus === null) return EXIT.ERROR
  const table = new IdTable()
  const wanted = (channel: string | null): boolean =>
    settings.interfaces.length === 0 ||
    settings.interfaces.some((name) =>
      name.includes('/') ? channel === name : channel?.endsWith(`/${name}`),
    )
  let stopped = false
  const removeSignals = onStopSignal(() => {
    stopped = true
    void bus.shutdown()
  })
  const reading = (async () => {
    for await (const batch of bus.batches({ maxFrames: 4096 })) {
      for (const message of batch) if (wanted(message.channel)) table.observe(message)
    }
  })()
  try {
    for (let screen = 0; screen < settings.screens && !stopped; screen++) {
      await new Promise((resolve) => setTimeout(resolve, settings.intervalMs))
      if (stopped) break
      const text = renderTable(table.rows(), settings.terminal)
      await writeOut(out.stdout, settings.terminal ? `${CLEAR_SCREEN}${text}` : `${text}\n`)
    }
  } finally {
    removeSignals()
    await bus.shutdown()
    await reading.catch(() => {})
  }
  return EXIT.OK
}
