// The canbridge command in a child process for the CLI's tests, killed after the test, and a
// scripted edge connected to the bus it listens with.
import { ScriptedEdge, type ScriptedEdgeOptions } from '@canbridge/server-bus/testing'
import { type CliOptions, CliProcess } from '../../src/testing/cli-process.ts'
import { afterTest } from './helpers.ts'

export { type CliOptions, CliProcess }

/** Starts `canbridge <args>`; it is killed after the test if still running. */
export function startCli(args: readonly string[], options: CliOptions = {}): CliProcess {
  const p = new CliProcess(args, options)
  afterTest(() => p.kill())
  return p
}

/** A scripted edge `pi` (one FD channel can0 by default) connected to the command's bus. */
export async function connectEdge(
  p: CliProcess,
  options: ScriptedEdgeOptions = {},
): Promise<ScriptedEdge> {
  const port = await p.port()
  const edge = await ScriptedEdge.start(
    { port, host: '127.0.0.1' },
    { edgeId: 'pi', channels: [{ name: 'can0', fd: true }], ...options },
  )
  afterTest(() => edge.destroy())
  return edge
}
