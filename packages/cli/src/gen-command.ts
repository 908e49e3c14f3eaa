// `canbridge gen`: cangen over the bridge. Waits for an edge and puts generated frames onto
// one of its interfaces at a steady gap (the schedule does not drift: a late frame does not
// push the next ones back), each confirmed by the edge; Ctrl-C or -n stops, with a summary.
import { Command } from 'commander'
import { EXIT, integerOption, numberOption, UsageError } from './exit.ts'
import { FrameGenerator, type GeneratorSettings, type Mode } from './frame-generator.ts'
import { addListenOptions, listenSettings } from './listen-options.ts'
import { type Output, say } from './output.ts'
import { channelNamed, type EdgeWait, withEdge } from './remote-edge.ts'

/** Sends awaiting the edge's answer at once: enough to keep a link busy, bounded. */
const IN_FLIGHT = 64

export interface GenSettings extends EdgeWait {
  interface: string
  gapMs: number
  count: number
  generator: GeneratorSettings
  sendTimeoutMs: number
}

export function createGenCommand(): Command {
  const command = new Command('gen')
    .description(
      'cangen over the bridge: wait for a canbridge edge and put generated frames onto its bus, random, incrementing or fixed, at a steady gap; Ctrl-C stops and says how many were sent.',
    )
    .argument('<interface>', 'where: can0 (that interface of the edge) or pi/can0 (edge/interface)')
    .option(
      '-g <ms>',
      'gap between frames in milliseconds (default 200; 0 as fast as the edge takes them)',
      '200',
    )
    .option('-e', 'extended frame format (29-bit ids)')
    .option('-f', 'CAN FD frames')
    .option('-b', 'with -f: bit rate switch')
    .option('-E', 'with -f: error state indicator')
    .option('-R', 'remote frames')
    .option('-I <mode>', 'ids: r random, i increment, or a hex id', 'r')
    .option('-L <mode>', 'lengths: r random, i increment, or a length', 'r')
    .option('-D <mode>', 'data: r random, i increment (a 64-bit counter), or hex bytes', 'r')
    .option('-n <count>', 'stop after this many frames (default: until Ctrl-C)')
    .option('--edge-id <id>', 'wait for this edge (default: the first that connects)')
    .option('--wait <seconds>', 'how long to wait for the edge', '30')
    .option('--send-timeout <ms>', "how long each frame may wait for the edge's result", '1000')
  addListenOptions(command)
  command.addHelpText(
    'after',
    `
Examples:
  canbridge gen can0                              random frames every 200 ms
  canbridge gen can0 -g 1 -I 123 -L 8 -D i        id 123, 8 bytes counting up, every ms
  canbridge gen pi/can0 -e -I i -n 1000 -g 0      1000 extended frames, ids counting up
  canbridge gen can0 -f -b -L 64 -D 00112233      64-byte FD frames with BRS (data padded)

On the edge: canbridge-edge --server <this host>:29536 --channel can0
Exit status: 0 every frame sent, 1 some could not be sent (the summary says why), 2 bad
command line or no such interface, 3 could not listen or no edge came.`,
  )
  return command.action(async (iface: string, options: Record<string, unknown>) => {
    process.exitCode = await runGen(genSettings(iface, options), {
      stdout: process.stdout,
      stderr: process.stderr,
    })
  })
}

function mode(text: string, option: string, max: number, parse: (t: string) => number): Mode {
  if (text === 'r') return { kind: 'random' }
  if (text === 'i') return { kind: 'increment' }
  const value = parse(text)
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new UsageError(
      `${option} must be r, i or a value up to ${max.toString(option === '-I' ? 16 : 10)}, got ${JSON.stringify(text)}`,
    )
  }
  return { kind: 'fixed', value }
}

const hexNumber = (text: string) =>
  /^[0-9a-fA-F]{1,8}$/.test(text) ? Number.parseInt(text, 16) : Number.NaN
const decimal = (text: string) => (/^\d{1,2}$/.test(text) ? Number(text) : Number.NaN)

/** Checks the command line; throws UsageError. */
export function genSettings(iface: string, o: Record<string, unknown>): GenSettings {
  const fd = o['f'] === true
  if (!fd && (o['b'] === true || o['E'] === true))
    throw new UsageError('-b and -E are CAN FD flags: add -f')
  if (fd && o['R'] === true) throw new UsageError('CAN FD has no remote frames: -R goes without -f')
  const extended = o['e'] === true
  const id = mode(o['I'] as string, '-I', extended ? 0x1fffffff : 0x7ff, hexNumber)
  const length = mode(o['L'] as string, '-L', fd ? 64 : 8, decimal)
  if (
    length.kind === 'fixed' &&
    fd &&
    ![0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64].includes(length.value)
  ) {
    throw new UsageError(
      `-L ${length.value} is not a CAN FD length (0..8, 12, 16, 20, 24, 32, 48, 64)`,
    )
  }
  const dataText = o['D'] as string
  let data: GeneratorSettings['data']
  if (dataText === 'r') data = { kind: 'random' }
  else if (dataText === 'i') data = { kind: 'increment' }
  else if (/^([0-9a-fA-F]{2}){1,64}$/.test(dataText)) {
    data = {
      kind: 'fixed',
      bytes: Uint8Array.from(dataText.match(/../g)!, (h) => Number.parseInt(h, 16)),
    }
  } else
    throw new UsageError(
      `-D must be r, i or hex bytes (like DEADBEEF), got ${JSON.stringify(dataText)}`,
    )
  const count = o['n'] as string | undefined
  return {
    listen: listenSettings(o),
    edgeId: o['edgeId'] as string | undefined,
    waitMs: numberOption(o['wait'] as string, '--wait', false, 86_400) * 1000,
    interface: iface,
    gapMs: numberOption(o['g'] as string, '-g', true, 3_600_000),
    count:
      count === undefined
        ? Number.POSITIVE_INFINITY
        : integerOption(count, '-n', 1, Number.MAX_SAFE_INTEGER),
    generator: {
      id,
      length,
      data,
      extended,
      fd,
      bitrateSwitch: o['b'] === true,
      errorStateIndicator: o['E'] === true,
      remote: o['R'] === true,
    },
    sendTimeoutMs: integerOption(o['sendTimeout'] as string, '--send-timeout', 1, 3_600_000),
  }
}

export function runGen(
  settings: GenSettings,
  out: Output,
  generator = new FrameGenerator(settings.generator),
): Promise<number> {
  const note = (line: string) => say(out, 'canbridge gen', line)
  return withEdge(
    settings,
    { sendTimeoutMs: settings.sendTimeoutMs },
    note,
    async (bus, signal) => {
      let channel: string
      try {
        channel = channelNamed(settings.interface, bus.channels)
      } catch (error) {
        note((error as Error).message)
        return EXIT.USAGE
      }
      let sent = 0
      const failures = new Map<string, number>()
      const inFlight = new Set<Promise<void>>()
      const started = performance.now()
      for (let i = 0; i < settings.count && !signal.aborted; i++) {
        const due = started + i * settings.gapMs
        const wait = due - performance.now()
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
        if (signal.aborted) break
        if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight)
        const sending: Promise<void> = bus.send(generator.next(), { channel }).then(
          () => {
            sent++
          },
          (error: unknown) => {
            const reason = (error as { code?: string }).code ?? (error as Error).message
            failures.set(reason, (failures.get(reason) ?? 0) + 1)
          },
        )
        const tracked = sending.finally(() => inFlight.delete(tracked))
        inFlight.add(tracked)
      }
      await Promise.all(inFlight)
      const failed = [...failures.values()].reduce((a, b) => a + b, 0)
      const reasons = [...failures].map(([reason, n]) => `${n} ${reason}`).join(', ')
      const seconds = (performance.now() - started) / 1000
      note(
        `${sent} frames sent to ${channel}, ${failed} failed${reasons ? ` (${reasons})` : ''} in ${seconds.toFixed(2)} s`,
      )
      return failed > 0 ? EXIT.FAILED : EXIT.OK
    },
  )
}
