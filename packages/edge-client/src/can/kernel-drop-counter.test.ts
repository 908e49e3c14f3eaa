import { describe, expect, it } from 'vitest'
import { KernelDropCounter } from './kernel-drop-counter.ts'

describe('KernelDropCounter', () => {
  it('turns successive counter values into frames lost, from 0', () => {
    const counter = new KernelDropCounter()
    expect(counter.advance(0)).toBe(0)
    expect(counter.advance(3)).toBe(3)
    expect(counter.advance(3)).toBe(0)
    expect(counter.advance(10)).toBe(7)
  })

  it('counts across the uint32 wrap', () => {
    const counter = new KernelDropCounter()
    expect(counter.advance(0x7fff_0000)).toBe(0x7fff_0000)
    expect(counter.advance(0xf000_0000)).toBe(0x7001_0000)
    expect(counter.advance(5)).toBe(0x1000_0005)
  })

  it('ignores a value behind one already counted (an idle read raced a frame)', () => {
    const counter = new KernelDropCounter()
    expect(counter.advance(8)).toBe(8) // read at idle
    expect(counter.advance(5)).toBe(0) // a frame queued before those drops
    expect(counter.behind).toBe(1)
    expect(counter.advance(9)).toBe(1)
  })

  it('starts again at 0 for a new socket', () => {
    const counter = new KernelDropCounter()
    counter.advance(100)
    counter.reset()
    expect(counter.advance(2)).toBe(2)
  })
})
