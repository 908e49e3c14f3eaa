// Several edges with several channels each, waiting for edges, the connection events, and
// listening on a Unix socket.

import { spawn } from 'node:child_process'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  CanInitializationError,
  CanMessage,
  CanTimeoutError,
  type EdgeInfo,
  TCPBus,
} from '../src/index.ts'
import { ScriptedEdge, sequenceFrame, sequenceOf } from '../src/testing/scripted-edge.ts'
import {
  BUS_MODES,
  capturingLogger,
  listen,
  useBusMode,
  waitUntil,
  withMode,
} from './support/helpers.ts'

let bus: TCPBus | undefined
const edges: ScriptedEdge[] = []

afterEach(async () => {
  for (const edge of edges.splice(0)) edge.destroy()
  await bus?.shutdown()
  bus = undefined
})

describe.each(BUS_MODES)('several edges ($mode)', (mode) => {
  useBusMode(mode)
  it('serves two edges with two channels each, each message naming its channel', async () => {
    ;({ bus } = await listen())
    const connected: EdgeInfo[] = []
    bus.on('edgeConnected', (edge) => connected.push(edge))
    const garage = await ScriptedEdge.start(bus.address, {
      edgeId: 'pi-garage',
      channels: [{ name: 'can0' }, { name: 'can1' }],
    })
    const barn = await ScriptedEdge.start(bus.address, {
      edgeId: 'pi-barn',
      channels: [{ name: 'can0' }, { name: 'vcan9' }],
    })
    edges.push(garage, barn)
    await waitUntil(() => connected.length === 2)
    expect(bus.channels.sort()).toEqual([
      'pi-barn/can0',
      'pi-barn/vcan9',
      'pi-garage/can0',
      'pi-garage/can1',
    ])
    expect(bus.edges.map((e) => e.edgeId).sort()).toEqual(['pi-barn', 'pi-garage'])
    expect(connected[0]?.peer).toMatch(/^127\.0\.0\.1:\d+$/)

    const perChannel = 3000
    await Promise.all([
      garage.stream(0, 0, perChannel, 250),
      garage.stream(1, 0, perChannel, 333),
      barn.stream(0, 0, perChannel, 400),
      barn.stream(1, 0, perChannel, 1000),
    ])
    const seqs = new Map<string, number[]>()
    let total = 0
    while (total < 4 * perChannel) {
      const batch = await bus.recvBatch({ timeoutMs: 2000 })
      if (batch.length === 0) throw new Error(`stalled at ${total}`)
      for (const message of batch) {
        const list = seqs.get(message.channel!) ?? []
        list.push(sequenceOf(message.data))
        seqs.set(message.channel!, list)
        total++
      }
    }
    const expected = Array.from({ length: perChannel }, (_, i) => i)
    for (const channel of bus.channels) expect(seqs.get(channel)).toEqual(expected)
    expect(bus.stats().edges).toBe(2)

    // Sends go to the right edge and channel index.
    await bus.send(newMessage(), { channel: 'pi-barn/vcan9' })
    expect(barn.messages('TRANSMIT').map((t) => t.channel)).toEqual([1])
    expect(garage.messages('TRANSMIT')).toHaveLength(0)
  })

  it('keeps the other edge streaming when one disconnects, and says which went', async () => {
    ;({ bus } = await listen())
    const gone: [EdgeInfo, string][] = []
    bus.on('edgeDisconnected', (edge, reason) => gone.push([edge, reason]))
    const a = await ScriptedEdge.start(bus.address, { edgeId: 'pi-a' })
    const b = await ScriptedEdge.start(bus.address, { edgeId: 'pi-b' })
    edges.push(a, b)
    await waitUntil(() => bus!.edges.length === 2)
    await a.close()
    await waitUntil(() => gone.length === 1)
    expect(gone[0]?.[0].edgeId).toBe('pi-a')
    expect(gone[0]?.[1]).toMatch(/closed/)
    b.sendFrames(0, 0, [sequenceFrame(7)])
    const message = await bus.recv(1000)
    expect(message?.channel).toBe('pi-b/can0')
    expect(bus.stats().channels['pi-a/can0']?.connected).toBe(false)
  })

  it('says which edges count the frames their kernel drops (HELLO kernel-drops), and warns about the others', async () => {
    let logger: ReturnType<typeof capturingLogger>
    ;({ bus, logger } = await listen())
    const counting = await ScriptedEdge.start(bus.address, {
      edgeId: 'pi-new',
      channels: [{ name: 'can0' }],
      capabilities: ['transmit', 'kernel-drops'],
    })
    const older = await ScriptedEdge.start(bus.address, {
      edgeId: 'pi-old',
      channels: [{ name: 'can0' }],
    })
    edges.push(counting, older)
    await waitUntil(() => bus!.edges.length === 2)
    const { channels } = bus.stats()
    expect(channels['pi-new/can0']?.kernelDropsCounted).toBe(true)
    expect(channels['pi-old/can0']?.kernelDropsCounted).toBe(false)
    const warnings = logger.at('warn').map((e) => e.message)
    expect(warnings.filter((m) => /cannot count the frames its kernel drops/.test(m))).toEqual([
      expect.stringMatching(/^edge pi-old cannot count/),
    ])
  })
})

describe.each(BUS_MODES)('waitForEdge ($mode)', (mode) => {
  useBusMode(mode)
  it('rejects with CanTimeoutError when no edge comes in time', async () => {
    ;({ bus } = await listen())
    const started = performance.now()
    const error = await bus.waitForEdge({ timeoutMs: 100 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CanTimeoutError)
    expect((error as Error).message).toBe('no edge connected within 100 ms')
    expect(performance.now() - started).toBeGreaterThanOrEqual(95)
  })

  it('resolves when the edge asked for completes its handshake, at once if it is there', async () => {
    ;({ bus } = await listen())
    const waiting = bus.waitForEdge({ timeoutMs: 2000, edgeId: 'pi-two' })
    edges.push(await ScriptedEdge.start(bus.address, { edgeId: 'pi-one' }))
    edges.push(await ScriptedEdge.start(bus.address, { edgeId: 'pi-two', instanceId: 'x' }))
    const info = await waiting
    expect(info).toMatchObject({ edgeId: 'pi-two', instanceId: 'x', channels: ['pi-two/can0'] })
    expect((await bus.waitForEdge({ timeoutMs: 1 })).edgeId).toMatch(/^pi-/)
  })

  it('does not count a connection that has not finished its handshake', async () => {
    ;({ bus } = await listen())
    const raw = await ScriptedEdge.connect(bus.address)
    edges.push(raw)
    raw.sendPreamble()
    await expect(bus.waitForEdge({ timeoutMs: 100 })).rejects.toBeInstanceOf(CanTimeoutError)
  })
})

describe.each(BUS_MODES)('Unix socket ($mode)', (mode) => {
  useBusMode(mode)
  it('listens on a path, replaces a stale socket file, and streams', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'canbridge-'))
    const path = join(dir, 'bus.sock')
    try {
      await leaveStaleSocket(path)
      expect((await stat(path)).isSocket()).toBe(true)
      const logger = capturingLogger()
      bus = await TCPBus.listen(withMode({ path, logger }))
      expect(logger.at('info').some((e) => e.message.includes('stale'))).toBe(true)
      expect(bus.address).toEqual({ path })
      const edge = await ScriptedEdge.start(bus.address, { edgeId: 'pi-unix' })
      edges.push(edge)
      expect((await bus.waitForEdge({ timeoutMs: 1000 })).peer).toMatch(/^unix:/)
      edge.sendFrames(0, 0, [sequenceFrame(1), sequenceFrame(2)])
      const batch = await bus.recvBatch({ timeoutMs: 1000, maxFrames: 2 })
      expect(batch.map((m) => sequenceOf(m.data))).toEqual([1, 2])
      await bus.send(newMessage())
      expect(edge.messages('TRANSMIT')).toHaveLength(1)
    } finally {
      await bus?.shutdown()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('fails with CanInitializationError when the address is taken', async () => {
    ;({ bus } = await listen())
    const port = (bus.address as { port: number }).port
    const error = await TCPBus.listen(
      withMode({ port, host: '127.0.0.1', logger: capturingLogger() }),
    ).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CanInitializationError)
    expect((error as Error).message).toMatch(/EADDRINUSE/)
    await expect(TCPBus.listen(withMode({}) as never)).rejects.toThrow(/port/)
  })
})

function newMessage(): CanMessage {
  return new CanMessage({ arbitrationId: 1 })
}

/** Leaves a socket file behind the way a crashed process does: listen, then SIGKILL. */
async function leaveStaleSocket(path: string): Promise<void> {
  const child = spawn(process.execPath, [
    '-e',
    "require('net').createServer().listen(process.argv[1], () => console.log('up'))",
    path,
  ])
  await new Promise((resolve) => child.stdout.once('data', resolve))
  child.kill('SIGKILL')
  await new Promise((resolve) => child.once('exit', resolve))
}
