import { FRAME_FLAG } from '@canbridge/protocol'
import { describe, expect, it } from 'vitest'
import type { FrameBatch } from './frame-batch.ts'
import { parseVirtualChannel, VirtualSource } from './virtual-source.ts'

interface Got {
  id: number
  flags: number
  len: number
  n: number
}

function collect(spec: string): {
  source: VirtualSource
  frames: Got[]
  done: (count: number) => Promise<void>
} {
  const source = new VirtualSource(spec)
  const frames: Got[] = []
  const waiters: (() => void)[] = []
  source.open({
    onFrames(batch: FrameBatch) {
      for (let i = 0; i < batch.count; i++) {
        const d = batch.data
        const at = i * 64
        frames.push({
          id: batch.ids[i]!,
          flags: batch.flags[i]!,
          len: batch.lens[i]!,
          n: d[at]! | (d[at + 1]! << 8) | (d[at + 2]! << 16),
        })
      }
      for (const w of waiters) w()
    },
    onLinkState() {},
  })
  const done = (count: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${frames.length} frames`)), 5000)
      const check = () => {
        if (frames.length >= count) {
          clearTimeout(timer)
          resolve()
        }
      }
      waiters.push(check)
      check()
    })
  return { source, frames, done }
}

describe('virtual source', () => {
  it('parses its options and names a bad one', () => {
    expect(parseVirtualChannel('virtual:demo')).toMatchObject({
      name: 'virtual:demo',
      options: { rate: 100, pattern: 'counter', fd: false },
    })
    expect(
      parseVirtualChannel(
        'virtual:x?rate=max&pattern=mixed&count=5&ids=0x10-0x1f&txbusy=2&loopback=1',
      ).options,
    ).toMatchObject({
      rate: Number.POSITIVE_INFINITY,
      pattern: 'mixed',
      fd: true,
      count: 5,
      idBase: 0x10,
      idCount: 16,
      txBusy: 2,
      loopback: true,
    })
    expect(() => parseVirtualChannel('virtual:')).toThrow(/virtual channel name "" must be/)
    expect(() => parseVirtualChannel('virtual:x?pattern=waves')).toThrow(
      /pattern must be counter \| mixed \| fd, got "waves"/,
    )
    expect(() => parseVirtualChannel('virtual:x?ids=5-1')).toThrow(
      /ids must be a standard id range/,
    )
    expect(() => parseVirtualChannel('virtual:x?pattern=fd&fd=0')).toThrow(/pattern=fd needs fd=1/)
  })

  it('generates a counted, numbered stream at its rate', async () => {
    const started = performance.now()
    const { frames, done, source } = collect('virtual:c?rate=2000&count=400')
    await done(400)
    const elapsed = performance.now() - started
    expect(elapsed).toBeGreaterThan(150)
    expect(frames.map((f) => f.n)).toEqual([...Array(400).keys()])
    expect(frames[17]!.id).toBe(0x100 + (17 % 16))
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(frames.length).toBe(400)
    source.close()
  })

  it('mixes standard, extended, remote and FD frames, flat out', async () => {
    const { frames, done, source } = collect('virtual:m?rate=max&pattern=mixed&count=12000')
    await done(12_000)
    source.close()
    expect(frames[1]!.flags).toBe(FRAME_FLAG.EXT)
    expect(frames[2]).toMatchObject({ flags: FRAME_FLAG.RTR, len: 4 })
    expect(frames[3]).toMatchObject({ flags: FRAME_FLAG.FD | FRAME_FLAG.BRS, len: 64 })
    expect(frames[4]!.len).toBe(0)
    expect(frames[5]).toMatchObject({ flags: FRAME_FLAG.FD | FRAME_FLAG.EXT, len: 12 })
  })

  it('filters like python-can and sends with simulated TX-queue-full attempts', async () => {
    const { frames, done, source } = collect('virtual:f?rate=max&count=1600&txbusy=2')
    source.setFilters([{ canId: 0x103, canMask: 0x7ff, extended: false }])
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(frames.length).toBe(100)
    expect(frames.every((f) => f.id === 0x103)).toBe(true)
    const frame = { id: 1, flags: 0, len: 0, data: new Uint8Array() }
    expect(source.send(frame)).toEqual({ ok: false, error: 'tx-queue-full' })
    expect(source.send(frame)).toEqual({ ok: false, error: 'tx-queue-full' })
    expect(source.send(frame)).toEqual({ ok: true })
    expect(
      source.send({ ...frame, flags: FRAME_FLAG.FD, len: 12, data: new Uint8Array(12) }),
    ).toMatchObject({ ok: false, error: 'invalid-frame' })
    expect(source.send({ ...frame, id: 0x800 })).toMatchObject({
      ok: false,
      error: 'invalid-frame',
    })
    source.close()
    expect(source.send(frame)).toEqual({ ok: false, error: 'interface-down' })
    void done
  })
})
