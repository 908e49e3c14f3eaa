// A deterministic kernel drop run on real SocketCAN (vcan), shared by the kernel test
// (test/kernel/kernel-drops.test.ts) and the benchmark (bench/kernel-drops.ts): the built edge
// with a small socket receive buffer, stopped (SIGSTOP: every thread) while cangen sends a
// round of frames numbered in their payload, then resumed. What was lost is known from
// cangen's numbers, not from the edge's.
import { execFileSync } from 'node:child_process'
import type { Drops } from '@canbridge/protocol'
import { DIST_MAIN, type EdgeProcess, startEdge } from '../../src/testing/edge-process.ts'
import { type ReceivedFrame, ScriptedServer } from './scripted-server.ts'

/** frames per round: far more than a 4 KiB queue holds (a handful) */
export const PER_ROUND = 200
/** one CAN id per round, so that a frame's round is known without trusting the edge */
export const FIRST_ID = 0x120

/** The frame's number in the whole run: round × PER_ROUND + cangen's counter (`-D i`). */
export function counterOf(frame: ReceivedFrame): number {
  const d = frame.data
  const counter = new DataView(d.buffer, d.byteOffset, d.byteLength).getUint32(0, true)
  return (frame.id - FIRST_ID) * PER_ROUND + counter
}

export class KernelDropRun {
  readonly server: ScriptedServer
  readonly edge: EdgeProcess
  readonly iface: string
  /** rounds sent so far */
  rounds = 0

  private constructor(server: ScriptedServer, edge: EdgeProcess, iface: string) {
    this.server = server
    this.edge = edge
    this.iface = iface
  }

  /** A scripted server and the built edge reading `iface` into it, connected. */
  static async start(
    extra: string[],
    env: Record<string, string> = {},
    iface = 'vcan0',
  ): Promise<KernelDropRun> {
    const server = new ScriptedServer()
    const port = await server.listen(0)
    const args = [
      '--server',
      `127.0.0.1:${port}`,
      '--channel',
      iface,
      '--log-level',
      'debug',
      '--stats-interval',
      '500ms',
      ...extra,
    ]
    try {
      const edge = await startEdge(args, env, 'connected to the server', DIST_MAIN, 60_000)
      return new KernelDropRun(server, edge, iface)
    } catch (error) {
      await server.close()
      throw error
    }
  }

  /** frames cangen was asked for in the rounds so far */
  get sent(): number {
    return this.rounds * PER_ROUND
  }

  /** Stops the edge (every thread) while `send` runs, then resumes it. */
  whileStopped(send: () => void): void {
    const pid = this.edge.child.pid!
    process.kill(pid, 'SIGSTOP')
    try {
      send()
    } finally {
      process.kill(pid, 'SIGCONT')
    }
  }

  /** Has cangen send the next round (PER_ROUND frames, one id) while the edge is stopped. */
  sendRound(): void {
    const id = (FIRST_ID + this.rounds).toString(16)
    this.whileStopped(() =>
      execFileSync('cangen', [
        this.iface,
        ...['-n', String(PER_ROUND), '-g', '0', '-I', id, '-L', '8', '-D', 'i'],
      ]),
    )
    this.rounds++
  }

  /** the DROPS the edge reported as the kernel's */
  kernelDrops(): Drops[] {
    return this.server.state.drops.filter((d) => d.reason === 'kernel-overflow')
  }

  /** frames the edge reported the kernel dropped */
  reportedLost(): number {
    return this.kernelDrops().reduce((sum, d) => sum + d.count, 0)
  }

  /** the run's frame numbers (counterOf) that reached the server */
  receivedNumbers(): Set<number> {
    return new Set(this.server.state.channel(0).map(counterOf))
  }

  /**
   * true once every frame sent is received or reported lost; false after `timeoutMs`
   * without. Nothing is sent after a round: its last frames were dropped and only the
   * socket's counter, read when it goes idle, can tell of them.
   */
  accountedFor(timeoutMs: number): Promise<boolean> {
    const accounted = () => this.server.state.count(0) + this.reportedLost() >= this.sent
    // waitFor rejects only when its time is up
    return this.server.waitFor(accounted, timeoutMs).then(
      () => true,
      () => false,
    )
  }

  async close(): Promise<void> {
    await this.edge.stop('SIGKILL')
    await this.server.close()
  }
}
