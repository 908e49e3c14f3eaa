// The socket-write side disposed of while it is still starting (its spools opening): nothing
// of it goes on afterwards. The spool is real, on a temporary directory; no server listens.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MessageChannel } from 'node:worker_threads'
import { afterEach, describe, expect, it } from 'vitest'
import { PLAIN_LINK } from './link/security/link-security.ts'
import type { WriteWorkerData } from './messages.ts'
import { createDoorbell, createRing, MIN_RING_BYTES } from './ring.ts'
import { SocketWriteSide } from './socket-write-side.ts'
import { createRefusalCounters } from './tx-policy/refusal-counters.ts'

const cleanups: (() => void)[] = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup()
})

describe('SocketWriteSide', () => {
  it('disposed of while its spools open: it never says ready, connects or reports afterwards', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'canbridge-side-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const data: WriteWorkerData = {
      servers: [{ kind: 'tcp', host: '127.0.0.1', port: 1 }],
      edgeId: 'pi-test',
      instanceId: 'i-1',
      software: 'test',
      channels: [
        {
          name: 'can0',
          fd: false,
          kernelDrops: true,
          interfaceDrops: true,
          fdFlags: true,
          kernelEcho: true,
        },
      ],
      rings: [createRing(MIN_RING_BYTES)],
      doorbell: createDoorbell(),
      spool: { dir, maxBytes: 1024 * 1024 },
      dropPolicy: 'drop-newest',
      listenOnly: false,
      security: PLAIN_LINK,
      txRefusals: createRefusalCounters(1),
      statsIntervalMs: 10,
      highWater: 0.5,
      reconnectMinMs: 10,
      reconnectMaxMs: 100,
      handshakeTimeoutMs: 1000,
      heartbeatMs: 1000,
      channelHost: null,
    }
    const { port1, port2 } = new MessageChannel()
    cleanups.push(() => port1.close())
    const heard: unknown[] = []
    port1.on('message', (message: { type: string }) => {
      if (message.type !== 'log') heard.push(message.type)
    })
    const failures: unknown[] = []
    const side = new SocketWriteSide({
      port: port2,
      data,
      inProcess: true,
      fail: (error) => failures.push(error),
    })
    await side.dispose()
    // long enough for stats (every 10 ms) and a reconnect (10 ms) to have shown
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(heard).toEqual([])
    expect(failures).toEqual([])
  })
})
