// `canbridge send`: cansend over the bridge. Waits for an edge, puts one frame in can-utils'
// notation onto the named interface, and says what the edge answered.
import { FRAME_FLAG } from '@canbridge/protocol'
import { CanMessage, flagOptions, parseCandumpFrame } from '@canbridge/server-bus'
import { Command } from 'commander'
import { EXIT, integerOption, numberOption, UsageError } from './exit.ts'
import { addListenOptions, listenSettings } from './listen-options.ts'
import { type Output, say } from './output.ts'
import { channelNamed, type EdgeWait, withEdge } from './remote-edge.ts'

export interface SendSettings extends EdgeWait {
  interface: string
  message: CanMessage
  sendTimeoutMs: number
}

export function createSendCommand(): Command {
  const command = new Command('send')
    .description(
      "cansend over the bridge: wait for a canbridge edge and put one frame on its bus, in can-utils' notation; exit status 0 once the edge says the frame is on the bus.",
    )
    .argument('<interface>', 'where: can0 (that interface of the edge) or pi/can0 (edge/interface)')
    .argument(
      '<frame>',
      '<can_id>#<data>, <can_id>#R[<len>] or <can_id>##<flags><data> (see below)',
    )
    .option('--edge-id <id>', 'wait for this edge (default: the first that connects)')
    .option('--wait <seconds>', 'how long to wait for the edge', '30')
    .option('--send-timeout <ms>', "how long to wait for the edge's result", '1000')
  addListenOptions(command)
  command.addHelpText(
    'after',
    `
Frames (as cansend):
  <can_id>#{data}            classic: 3 hex digits standard, 8 extended; up to 8 bytes
  <can_id>#R{len}            remote frame, len 0..8
  <can_id>##<flags>{data}    CAN FD: flags one hex digit (1 BRS, 2 ESI), up to 64 bytes
  data: hex bytes, optionally separated by dots (11.22.33)

Examples:
  canbridge send can0 123#DEADBEEF
  canbridge send pi-garage/can0 1F334455#1122334455667788
  canbridge send can0 5A1#R
  canbridge send can0 123##1DEADBEEFCAFE     FD with bit rate switch

On the edge: canbridge-edge --server <this host>:29536 --channel can0
Exit status: 0 sent, 1 the edge could not send it (the reason is printed), 2 bad command
line or no such interface, 3 could not listen or no edge came.`,
  )
  return command.action(async (iface: string, frame: string, options: Record<string, unknown>) => {
    process.exitCode = await runSend(sendSettings(iface, frame, options), {
      stdout: process.stdout,
      stderr: process.stderr,
    })
  })
}

/** A frame in can-utils' notation as a message to send; throws UsageError naming what is wrong. */
export function messageOfNotation(text: string): CanMessage {
  const frame = parseCandumpFrame(text)
  if (typeof frame === 'string') throw new UsageError(`bad frame ${JSON.stringify(text)}: ${frame}`)
  if (frame.flags & FRAME_FLAG.ERR)
    throw new UsageError(
      `${text} is an error frame: those come from controllers, they cannot be sent`,
    )
  const options = flagOptions(frame.flags)
  return new CanMessage({
    arbitrationId: frame.id,
    ...options,
    dlc: frame.len,
    data: options.isRemoteFrame ? [] : frame.data,
  })
}

/** Checks the command line; throws UsageError. */
export function sendSettings(
  iface: string,
  frame: string,
  o: Record<string, unknown>,
): SendSettings {
  return {
    listen: listenSettings(o),
    edgeId: o['edgeId'] as string | undefined,
    waitMs: numberOption(o['wait'] as string, '--wait', false, 86_400) * 1000,
    interface: iface,
    message: messageOfNotation(frame),
    sendTimeoutMs: integerOption(o['sendTimeout'] as string, '--send-timeout', 1, 3_600_000),
  }
}

export function runSend(settings: SendSettings, out: Output): Promise<number> {
  const note = (line: string) => say(out, 'canbridge send', line)
  return withEdge(settings, { sendTimeoutMs: settings.sendTimeoutMs }, note, async (bus) => {
    let channel: string
    try {
      channel = channelNamed(settings.interface, bus.channels)
    } catch (error) {
      note((error as Error).message)
      return EXIT.USAGE
    }
    try {
      await bus.send(settings.message, { channel })
    } catch (error) {
      note(`not sent to ${channel}: ${(error as Error).message}`)
      return EXIT.FAILED
    }
    note(`sent to ${channel}`)
    return EXIT.OK
  })
}
