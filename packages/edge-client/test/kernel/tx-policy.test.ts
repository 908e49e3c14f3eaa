// The transmit policy on real SocketCAN (vcan0), with candump as the witness of what reached
// the interface: listen-only puts nothing on it; --tx-allow and --tx-rate-limit let exactly
// the allowed frames through. Run by `pnpm test:kernel` inside scripts/kernel-harness.sh.
import type { TxFrame } from '@canbridge/protocol'
import { describe, expect, it } from 'vitest'
import { CandumpLog } from '../../src/testing/candump.ts'
import { DIST_MAIN, startEdge } from '../../src/testing/edge-process.ts'
import { ScriptedServer } from '../helpers/scripted-server.ts'
import { cleanUpAfterEach, onCleanup, sleep, transmitResults } from '../helpers/secure-link.ts'

const inKernel = process.env['CANBRIDGE_KERNEL'] !== undefined
cleanUpAfterEach()

const frame = (id: number, byte: number): TxFrame => ({
  id,
  flags: 0,
  len: 1,
  data: Uint8Array.of(byte),
})

async function edgeOnVcan(settings: string[]): Promise<ScriptedServer> {
  const server = new ScriptedServer()
  const port = await server.listen(0)
  onCleanup(() => server.close())
  const edge = await startEdge(
    ['--server', `127.0.0.1:${port}`, '--channel', 'vcan0', ...settings],
    {},
    'connected to the server',
    DIST_MAIN,
    60_000,
  )
  onCleanup(() => edge.stop('SIGKILL'))
  return server
}

const untimed = (lines: string[]): string[] => lines.map((l) => l.replace(/^\(\d+\.\d+\) /, ''))

// Needs real SocketCAN: collected only by vitest.kernel.config.ts inside the kernel harness.
describe.skipIf(!inKernel)('transmit policy on vcan (kernel tests)', () => {
  it('listen-only: neither TRANSMIT nor a periodic task puts a frame on the interface', async () => {
    const server = await edgeOnVcan(['--listen-only'])
    const dump = new CandumpLog('vcan0')
    await dump.listening()
    server.send('TRANSMIT', { requestId: 1, channel: 0, frame: frame(0x123, 1) })
    server.send('PERIODIC_START', {
      taskId: 1,
      channel: 0,
      periodMs: 10,
      frames: [frame(0x124, 2)],
    })
    await server.waitFor(() => transmitResults(server).length === 1, 10_000, 'the result')
    await sleep(300)
    expect(transmitResults(server)[0]).toMatchObject({ ok: false, error: 'listen-only' })
    expect(await dump.stop()).toEqual([])
  })

  it('--tx-allow and --tx-rate-limit: exactly the allowed frames within the burst reach the interface', async () => {
    const server = await edgeOnVcan([
      '--tx-allow',
      '100-1FF',
      '--tx-rate-limit',
      '1',
      '--tx-burst',
      '2',
    ])
    const dump = new CandumpLog('vcan0')
    await dump.listening()
    const ids = [0x123, 0x7e0, 0x124, 0x125]
    ids.forEach((id, i) => {
      server.send('TRANSMIT', { requestId: i + 1, channel: 0, frame: frame(id, i + 1) })
    })
    await server.waitFor(() => transmitResults(server).length === 4, 10_000, 'four results')
    expect(transmitResults(server).map((r) => [r.requestId, r.ok ? 'ok' : r.error])).toEqual([
      [1, 'ok'],
      [2, 'not-allowed'],
      [3, 'ok'],
      [4, 'rate-limited'],
    ])
    expect(untimed(await dump.stop())).toEqual(['vcan0 123#01', 'vcan0 124#03'])
  })
})
