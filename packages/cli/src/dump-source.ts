// Where `canbridge dump` reads frames: edges connecting to a TCPBus here (the default), or a
// fleet's stream in NATS JetStream (--nats). Both give batches of messages named `edge/iface`
// and say each frame lost once (a gap the edge explained in a drop report is that one loss).
import { FleetClient, type FrameSelection, LossCounter } from '@canbridge/fleet'
import type { CanFilter, CanMessage, TCPBus } from '@canbridge/server-bus'
import { type ListenSettings, listenForEdges } from './listen-options.ts'

export interface FleetInput {
  nats: string[]
  stream: string
  prefix: string
  selection: Required<Pick<FrameSelection, 'from'>> & Pick<FrameSelection, 'edge' | 'channel'>
}

export type DumpInput = { kind: 'edges'; listen: ListenSettings } | ({ kind: 'fleet' } & FleetInput)

export interface DumpSource {
  /** batches of frames until `signal` aborts or the source ends */
  batches(signal: AbortSignal): AsyncIterable<CanMessage[]>
  close(): Promise<void>
}

/** `lost(channel, count)`: frames of `channel` that will never arrive. */
export type OnLoss = (channel: string, count: number) => void

/** Opens the source; resolves null, having said why, when it cannot. */
export async function openDumpSource(
  input: DumpInput,
  canFilters: readonly CanFilter[] | null,
  note: (line: string) => void,
  lost: OnLoss,
): Promise<DumpSource | null> {
  if (input.kind === 'edges') {
    const bus = await listenForEdges(input.listen, { canFilters }, note)
    if (bus === null) return null
    note('waiting for edges (Ctrl-C stops)')
    return edgesSource(bus, lost)
  }
  return fleetSource(input, note, lost)
}

function edgesSource(bus: TCPBus, lost: OnLoss): DumpSource {
  bus.on('drops', (drops) => lost(drops.channel, drops.newlyLost))
  bus.on('gap', (gap) => lost(gap.channel, gap.newlyLost))
  return {
    batches: (signal) => bus.batches({ signal }),
    close: () => bus.shutdown(),
  }
}

async function fleetSource(
  input: FleetInput,
  note: (line: string) => void,
  lost: OnLoss,
): Promise<DumpSource | null> {
  let fleet: FleetClient
  try {
    fleet = await FleetClient.connect(
      { servers: input.nats, name: 'canbridge-dump' },
      { stream: input.stream, prefix: input.prefix },
    )
  } catch (error) {
    note((error as Error).message)
    return null
  }
  try {
    await fleet.checkStream()
  } catch (error) {
    note((error as Error).message)
    await fleet.close()
    return null
  }
  const losses = new LossCounter()
  fleet.on('gap', (gap) => lost(`${gap.edgeId}/${gap.channel}`, losses.gap(gap)))
  fleet.on('drop', (drop) => lost(`${drop.edgeId}/${drop.channel}`, losses.drop(drop)))
  fleet.on('retention', (r) =>
    note(
      `stream sequence ${r.requested} is gone (retention): the stream starts at ${r.firstAvailable}`,
    ),
  )
  const { edge, channel, from } = input.selection
  const from_ = from instanceof Date ? from.toISOString() : String(from)
  note(
    `reading stream ${input.stream} on ${input.nats.join(', ')}: edges ${edge ?? '*'}, channels ${channel ?? '*'}, from ${from_} (Ctrl-C stops)`,
  )
  return {
    batches: (signal) => {
      // the iteration ends when the client closes
      if (signal.aborted) void fleet.close()
      else signal.addEventListener('abort', () => void fleet.close(), { once: true })
      return fleet.frameBatches(input.selection)
    },
    close: () => fleet.close(),
  }
}
