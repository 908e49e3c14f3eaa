// What the commands that drive a remote bus share: listen for edges, wait for the one asked
// for (Ctrl-C stops the wait), run, and shut the bus down however the run ends; and finding
// the channel a command line names (`can0`: that interface of the edge, `pi/can0`: exact).
import type { TCPBus, TCPBusOptions } from '@canbridge/server-bus'
import { EXIT, UsageError } from './exit.ts'
import { type ListenSettings, listenForEdges } from './listen-options.ts'
import { onStopSignal } from './output.ts'

export interface EdgeWait {
  listen: ListenSettings
  /** wait for this edge; default the first that connects */
  edgeId: string | undefined
  waitMs: number
}

/** Runs `body` once an edge is connected; resolves with its exit status (or why it could not). */
export async function withEdge(
  wait: EdgeWait,
  options: TCPBusOptions,
  note: (line: string) => void,
  body: (bus: TCPBus, signal: AbortSignal) => Promise<number>,
): Promise<number> {
  const bus = await listenForEdges(wait.listen, options, note)
  if (bus === null) return EXIT.ERROR
  const stop = new AbortController()
  const removeSignals = onStopSignal(() => stop.abort())
  try {
    note(
      `waiting ${wait.waitMs / 1000} s for ${wait.edgeId === undefined ? 'an edge' : `edge ${wait.edgeId}`}`,
    )
    try {
      await bus.waitForEdge({ timeoutMs: wait.waitMs, edgeId: wait.edgeId, signal: stop.signal })
    } catch (error) {
      note(stop.signal.aborted ? 'stopped before an edge came' : (error as Error).message)
      return EXIT.ERROR
    }
    return await body(bus, stop.signal)
  } finally {
    removeSignals()
    await bus.shutdown()
  }
}

/** The bus channel `spec` names among `channels`; throws UsageError saying what there is. */
export function channelNamed(spec: string, channels: readonly string[]): string {
  const matches = spec.includes('/')
    ? channels.filter((c) => c === spec)
    : channels.filter((c) => c.endsWith(`/${spec}`))
  if (matches.length === 1) return matches[0]!
  const offered = channels.length === 0 ? 'none' : channels.join(', ')
  if (matches.length === 0)
    throw new UsageError(`no channel ${spec} on the edges here (they offer: ${offered})`)
  throw new UsageError(
    `${spec} is on several edges (${matches.join(', ')}): name one as edge/${spec}`,
  )
}
