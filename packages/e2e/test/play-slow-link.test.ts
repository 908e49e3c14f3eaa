// `canbridge play` through the real edge when the TRANSMITs reach it late (a busy or paused
// edge, a slow link): every TRANSMIT is held 800 ms on its way to the edge, longer than the
// 300 ms send timeout. The edge counts each frame's ttl from when it reads it, so it puts
// every frame on its bus and says so; play must count them sent, not report timeouts.
import { writeFileSync } from 'node:fs'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { CliProcess } from '@canbridge/cli/testing'
import { type EdgeProcess, startEdge } from '@canbridge/edge-client/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir } from './support/helpers.ts'

const HOLD_MS = 800
const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/**
 * A TCP relay to `port`: bytes from the edge pass at once, bytes to the edge are held
 * `holdMs` (in order, each chunk as long as the others). Resolves its own port.
 */
async function slowRelay(port: number, holdMs: number): Promise<number> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((edgeSide) => {
    const busSide = connect({ port, host: '127.0.0.1' })
    for (const socket of [edgeSide, busSide]) {
      sockets.add(socket)
      socket.on('error', () => {})
    }
    edgeSide.pipe(busSide)
    busSide.on('data', (chunk: Buffer) => {
      setTimeout(() => edgeSide.write(chunk), holdMs)
    })
    busSide.on('close', () => setTimeout(() => edgeSide.destroy(), holdMs))
    edgeSide.on('close', () => busSide.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return (server.address() as { port: number }).port
}

describe('canbridge play through a slow link to the real edge', () => {
  it('frames the edge sent after the send timeout count as sent (exit 0), none as timeout', async () => {
    const log = join(tempDir(), 'five.log')
    writeFileSync(
      log,
      `${[1, 2, 3, 4, 5].map((n) => `(1700000000.00000${n}) can0 12${n}#0${n}`).join('\n')}\n`,
    )
    const play = new CliProcess([
      'play',
      log,
      'virtual:slow=can0',
      '-t',
      '--send-timeout',
      '300',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
    ])
    cleanups.push(() => play.kill())
    const relay = await slowRelay(await play.port(), HOLD_MS)
    const edge: EdgeProcess = await startEdge(
      [
        '--server',
        `127.0.0.1:${relay}`,
        '--channel',
        'virtual:slow?rate=0&loopback=1',
        '--edge-id',
        'pi',
      ],
      {},
      'starting',
    )
    cleanups.push(() => edge.stop('SIGKILL'))
    expect(await play.exited).toBe(0)
    expect(play.stderr).toMatch(/5 frames sent, 0 failed from /)
    expect(play.stderr).not.toMatch(/timeout/)
  }, 60_000)
})
