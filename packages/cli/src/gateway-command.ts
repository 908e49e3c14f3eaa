// `canbridge gateway`: edges into NATS JetStream. Accepts edges exactly as `canbridge dump`
// listens for them (same options: TLS, tokens, allowed peers) and stores their traffic in a
// stream, acknowledging to each edge only what JetStream stored (@canbridge/fleet).
import { Gateway } from '@canbridge/fleet'
import { stderrLogger } from '@canbridge/server-bus'
import { Command } from 'commander'
import { EXIT, integerOption, numberOption } from './exit.ts'
import { natsUrls, streamName } from './fleet-options.ts'
import {
  addListenOptions,
  describeAddress,
  type ListenSettings,
  listenSettings,
} from './listen-options.ts'
import { type Output, onStopSignal, say } from './output.ts'

export interface GatewaySettings {
  listen: ListenSettings
  nats: string[]
  stream: string
  prefix: string
  replicas: number
  maxAgeMs: number
  gatewayId: string | undefined
}

export function createGatewayCommand(): Command {
  const command = new Command('gateway')
    .description(
      'edges into NATS JetStream: accept canbridge edges and store every frame in a stream, exactly once and in order per channel, acknowledged to the edge only once stored; consumers read it with @canbridge/fleet.',
    )
    .option(
      '--nats <urls>',
      'NATS servers, comma-separated (default nats://127.0.0.1:4222)',
      'nats://127.0.0.1:4222',
    )
    .option(
      '--stream <name>',
      'the JetStream stream (made if missing, checked if present)',
      'CANBRIDGE',
    )
    .option('--prefix <subject>', 'subject prefix: <prefix>.raw.<edge>.<channel>', 'can')
    .option(
      '--replicas <n>',
      'copies of each message when the stream is made (3 in a production cluster)',
      '1',
    )
    .option(
      '--max-age <hours>',
      'when the stream is made: keep this many hours of history (0: no limit)',
      '0',
    )
    .option(
      '--gateway-id <name>',
      "this gateway's name in each stored batch (default: the host name)",
    )
  addListenOptions(command)
  command.addHelpText(
    'after',
    `
Production: a 3-node NATS cluster with JetStream, the stream at --replicas 3, two or more
gateways (edges resume from the stream wherever they connect), retention by --max-age. The
duplicate window (2 min) only needs to outlast a NATS outage a gateway retries through:
exactly-once across gateway restarts comes from resuming at the stream's last stored sequence.
The fleet package's README has the diagram and the rules.

Examples:
  canbridge gateway --nats nats://127.0.0.1:4222
  canbridge gateway --host 0.0.0.0 --pki canbridge-pki --nats nats://n1:4222,nats://n2:4222,nats://n3:4222 --replicas 3

On the edge: canbridge-edge --server <this host>:29536 --channel can0
Exit status: 0 stopped (Ctrl-C), 2 bad command line, 3 NATS unreachable, the stream unfit, or
could not listen.`,
  )
  return command.action(async (options: Record<string, unknown>) => {
    process.exitCode = await runGateway(gatewaySettings(options), {
      stdout: process.stdout,
      stderr: process.stderr,
    })
  })
}

/** Checks the command line; throws UsageError. */
export function gatewaySettings(o: Record<string, unknown>): GatewaySettings {
  return {
    listen: listenSettings(o),
    nats: natsUrls(o['nats'] as string, '--nats'),
    stream: streamName(o['stream'] as string),
    prefix: o['prefix'] as string,
    replicas: integerOption(o['replicas'] as string, '--replicas', 1, 5),
    maxAgeMs: numberOption(o['maxAge'] as string, '--max-age', true, 87_600) * 3_600_000,
    gatewayId: o['gatewayId'] as string | undefined,
  }
}

export async function runGateway(settings: GatewaySettings, out: Output): Promise<number> {
  const note = (line: string) => say(out, 'canbridge gateway', line)
  let gateway: Gateway
  try {
    gateway = await Gateway.start({
      ...settings.listen,
      nats: { servers: settings.nats, name: 'canbridge-gateway' },
      stream: { name: settings.stream, replicas: settings.replicas, maxAgeMs: settings.maxAgeMs },
      prefix: settings.prefix,
      ...(settings.gatewayId === undefined ? {} : { gatewayId: settings.gatewayId }),
      logger: stderrLogger,
    })
  } catch (error) {
    note((error as Error).message)
    return EXIT.ERROR // NATS unreachable, the stream unfit, or the port taken
  }
  gateway.server.on('edgeConnected', (edge) =>
    note(`edge ${edge.edgeId} connected from ${edge.peer}: ${edge.channels.join(', ')}`),
  )
  gateway.server.on('edgeDisconnected', (edge, reason) =>
    note(`edge ${edge.edgeId} left: ${reason}`),
  )
  note(
    `listening on ${describeAddress(gateway.address)}, storing into stream ${gateway.stream} on ${settings.nats.join(', ')}`,
  )
  await new Promise<void>((resolve) => {
    const remove = onStopSignal(() => {
      remove()
      resolve()
    })
  })
  await gateway.close()
  note('stopped')
  return EXIT.OK
}
