// `canbridge vcan`: the remote bus as a local SocketCAN interface of this workstation, both
// ways (what cannelloni offers), so Wireshark, SavvyCAN, candump, python-can's socketcan
// interface and cantools work unchanged. Frames from the edge go onto the local interface;
// frames local programs write there go to the edge, each confirmed. What cannot be passed on
// (a full local queue, a send the edge refused) is counted and said.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { CanMessage, TCPBus } from '@canbridge/server-bus'
import { Command } from 'commander'
import { EXIT, integerOption, numberOption, UsageError } from '../exit.ts'
import { addListenOptions, listenSettings } from '../listen-options.ts'
import { type Output, say } from '../output.ts'
import { channelNamed, type EdgeWait, withEdge } from '../remote-edge.ts'
import { LocalCan, LocalCanError } from './local-can.ts'

const run = promisify(execFile)
/** Sends to the edge awaiting its answer at once. */
const IN_FLIGHT = 256
const PROGRESS_MS = 10_000
const INTERFACE_NAME = /^[A-Za-z0-9_.-]{1,15}$/

export interface VcanSettings extends EdgeWait {
  /** the edge's channel (can0 or pi/can0); default the only one */
  channel: string | undefined
  local: string
  create: boolean
  fd: boolean
  sendTimeoutMs: number
}

export function createVcanCommand(): Command {
  const command = new Command('vcan')
    .description(
      "the remote bus as a local SocketCAN interface: frames from the edge appear on it, frames written to it go to the edge (Wireshark, candump, python-can's socketcan interface, cantools work unchanged).",
    )
    .argument('[channel]', "the edge's channel: can0 or pi/can0 (default: the only one)")
    .option(
      '--create <name>',
      'create this vcan interface (needs root or CAP_NET_ADMIN) and delete it at the end',
    )
    .option('--interface <name>', 'use this existing local interface instead')
    .option('--fd', 'with --create: a CAN FD interface (MTU 72)')
    .option('--edge-id <id>', 'wait for this edge (default: the first that connects)')
    .option('--wait <seconds>', 'how long to wait for the edge', '30')
    .option(
      '--send-timeout <ms>',
      "how long a frame to the edge may wait for the edge's result",
      '1000',
    )
  addListenOptions(command)
  command.addHelpText(
    'after',
    `
Examples:
  sudo canbridge vcan --create vcan-pi --fd        the first edge's only channel as vcan-pi
  canbridge vcan pi/can1 --interface vcan0         into an interface that exists already
  candump vcan-pi                                  then, in another terminal
  cansend vcan-pi 123#DEADBEEF                     goes onto the edge's bus

On the edge: canbridge-edge --server <this host>:29536 --channel can0
Exit status: 0 stopped (Ctrl-C), 1 frames were lost on the way (the summary counts them),
2 bad command line or no such channel, 3 could not listen, create or open the interface.`,
  )
  return command.action(async (channel: string | undefined, options: Record<string, unknown>) => {
    process.exitCode = await runVcan(vcanSettings(channel, options), {
      stdout: process.stdout,
      stderr: process.stderr,
    })
  })
}

/** Checks the command line; throws UsageError. */
export function vcanSettings(
  channel: string | undefined,
  o: Record<string, unknown>,
): VcanSettings {
  const create = o['create'] as string | undefined
  const existing = o['interface'] as string | undefined
  if ((create === undefined) === (existing === undefined)) {
    throw new UsageError(
      'give --create <name> (a new vcan interface) or --interface <name> (one that exists)',
    )
  }
  const local = (create ?? existing)!
  if (!INTERFACE_NAME.test(local))
    throw new UsageError(
      `interface name ${JSON.stringify(local)} must be 1..15 of A-Z a-z 0-9 _ . -`,
    )
  if (o['fd'] === true && create === undefined)
    throw new UsageError('--fd goes with --create (an existing interface has its MTU)')
  return {
    listen: listenSettings(o),
    edgeId: o['edgeId'] as string | undefined,
    waitMs: numberOption(o['wait'] as string, '--wait', false, 86_400) * 1000,
    channel,
    local,
    create: create !== undefined,
    fd: o['fd'] === true,
    sendTimeoutMs: integerOption(o['sendTimeout'] as string, '--send-timeout', 1, 3_600_000),
  }
}

/** The two directions' counts. */
class BridgeCounts {
  toLocal = 0
  localFull = 0
  localDown = 0
  localError = 0
  toEdge = 0
  edgeFailed = new Map<string, number>()

  get edgeFailures(): number {
    return [...this.edgeFailed.values()].reduce((a, b) => a + b, 0)
  }

  get lost(): number {
    return this.localFull + this.localDown + this.localError + this.edgeFailures
  }

  text(local: string, channel: string, edgeLost: number): string {
    const refused = [...this.edgeFailed].map(([reason, n]) => `${n} ${reason}`).join(', ')
    return [
      `${this.toLocal} frames onto ${local}`,
      `${this.localFull} lost to its full queue`,
      ...(this.localDown + this.localError > 0
        ? [`${this.localDown} while it was down, ${this.localError} refused`]
        : []),
      `${this.toEdge} frames to ${channel}`,
      `${this.edgeFailures} not sent${refused ? ` (${refused})` : ''}`,
      `${edgeLost} lost before they reached this workstation`,
    ].join(', ')
  }
}

async function createInterface(name: string, fd: boolean): Promise<void> {
  const ip = async (...args: string[]) => {
    try {
      await run('ip', args)
    } catch (error) {
      const stderr = String(
        (error as { stderr?: string }).stderr ?? (error as Error).message,
      ).trim()
      if (/File exists/.test(stderr))
        throw new LocalCanError(`${name} exists already: use --interface ${name}`)
      if (/Operation not permitted/.test(stderr)) {
        throw new LocalCanError(
          `creating ${name} needs root or CAP_NET_ADMIN (sudo), or create it yourself: ip link add dev ${name} type vcan`,
        )
      }
      if (/Unknown device type|not supported/i.test(stderr)) {
        throw new LocalCanError(
          `this kernel has no vcan: modprobe vcan (package linux-modules-extra on Ubuntu)`,
        )
      }
      throw new LocalCanError(`ip ${args.join(' ')}: ${stderr}`)
    }
  }
  await ip('link', 'add', 'dev', name, 'type', 'vcan')
  if (fd) await ip('link', 'set', name, 'mtu', '72')
  await ip('link', 'set', name, 'up')
}

export async function runVcan(settings: VcanSettings, out: Output): Promise<number> {
  const note = (line: string) => say(out, 'canbridge vcan', line)
  if (settings.create) {
    try {
      await createInterface(settings.local, settings.fd)
    } catch (error) {
      note((error as Error).message)
      return EXIT.ERROR
    }
    note(`created ${settings.local}${settings.fd ? ' (CAN FD, MTU 72)' : ''}`)
  }
  try {
    return await withEdge(
      settings,
      { sendTimeoutMs: settings.sendTimeoutMs },
      note,
      (bus, signal) => bridge(bus, settings, note, signal),
    )
  } finally {
    if (settings.create) {
      await run('ip', ['link', 'del', settings.local]).catch((error: unknown) =>
        note(`could not delete ${settings.local}: ${(error as Error).message}`),
      )
    }
  }
}

async function bridge(
  bus: TCPBus,
  settings: VcanSettings,
  note: (line: string) => void,
  signal: AbortSignal,
): Promise<number> {
  let channel: string
  try {
    if (settings.channel !== undefined) channel = channelNamed(settings.channel, bus.channels)
    else if (bus.channels.length === 1) channel = bus.channels[0]!
    else
      throw new UsageError(
        `the edges offer ${bus.channels.join(', ')}: name one (canbridge vcan pi/can0 ...)`,
      )
  } catch (error) {
    note((error as Error).message)
    return EXIT.USAGE
  }
  const counts = new BridgeCounts()
  const inFlight = new Set<Promise<void>>()
  let stopBridge: () => void = () => {}
  const stopped = new Promise<void>((resolve) => {
    stopBridge = resolve
  })
  signal.addEventListener('abort', () => stopBridge(), { once: true })
  const toEdge = (messages: CanMessage[]): void => {
    for (const message of messages) {
      if (inFlight.size >= IN_FLIGHT) {
        // local programs write faster than the edge confirms: counted, not queued without bound
        counts.edgeFailed.set('backlog', (counts.edgeFailed.get('backlog') ?? 0) + 1)
        continue
      }
      const sending: Promise<void> = bus.send(message, { channel }).then(
        () => {
          counts.toEdge++
        },
        (error: unknown) => {
          const reason = (error as { reason?: string }).reason ?? (error as Error).message
          counts.edgeFailed.set(reason, (counts.edgeFailed.get(reason) ?? 0) + 1)
        },
      )
      const tracked = sending.finally(() => inFlight.delete(tracked))
      inFlight.add(tracked)
    }
  }
  let local: LocalCan
  try {
    local = new LocalCan(settings.local, toEdge, () => {
      note(`${settings.local} went away`)
      stopBridge()
    })
  } catch (error) {
    note((error as Error).message)
    return EXIT.ERROR
  }
  note(`bridging ${channel} <-> ${settings.local}`)
  const edgeLost = () => bus.stats().channels[channel]?.lost ?? 0
  const progress = setInterval(
    () => note(counts.text(settings.local, channel, edgeLost())),
    PROGRESS_MS,
  )
  const forwarding = (async () => {
    for await (const batch of bus.batches({ maxFrames: 4096 })) {
      for (const message of batch as CanMessage[]) {
        if (message.channel !== channel) continue
        const result = local.send(message)
        if (result === 'sent') counts.toLocal++
        else if (result === 'full') counts.localFull++
        else if (result === 'down') counts.localDown++
        else counts.localError++
      }
    }
  })()
  await Promise.race([stopped, forwarding])
  clearInterval(progress)
  local.close()
  await Promise.all(inFlight)
  note(counts.text(settings.local, channel, edgeLost()))
  return counts.lost + edgeLost() > 0 ? EXIT.FAILED : EXIT.OK
}
