import { describe, expect, it } from 'vitest'
import { ConfigError } from './config.ts'
import { availableMemory, checkRingMemory, formatBytes, HEADROOM_BYTES } from './ring-memory.ts'

const G = 1024 ** 3
const M = 1024 ** 2

describe('the rings against the memory available', () => {
  it('pass when rings and headroom fit', () => {
    expect(() => checkRingMemory(8 * M, 4, 32 * M + HEADROOM_BYTES)).not.toThrow()
  })

  it('refuse naming --ring-bytes, the total, the memory available and a size that fits', () => {
    let error: unknown
    try {
      checkRingMemory(1 * G, 8, 2 * G)
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as Error).message).toBe(
      "the rings do not fit in memory: --ring-bytes 1G × 8 channels = 8G, and 96M for the rest of the edge, but this host has 2G available (free memory, or the service's memory limit); lower --ring-bytes to at most 244M per channel, or give the edge more memory",
    )
  })

  it('when not even the smallest ring fits, say fewer channels', () => {
    expect(() => checkRingMemory(16 * 1024, 256, HEADROOM_BYTES + 1024)).toThrow(
      /; use fewer channels, or give the edge more memory$/,
    )
  })

  it('formats sizes in the units --ring-bytes takes', () => {
    expect(formatBytes(8 * G)).toBe('8G')
    expect(formatBytes(1.5 * G)).toBe('1.5G')
    expect(formatBytes(256 * M)).toBe('256M')
    expect(formatBytes(16 * 1024)).toBe('16K')
    expect(formatBytes(100)).toBe('100')
  })
})

describe('availableMemory', () => {
  it("the runtime's figure where it has one (cgroup limits included), else free memory (Node 20.11)", () => {
    expect(availableMemory({ availableMemory: () => 123 }, () => 456)).toBe(123)
    expect(availableMemory({}, () => 456)).toBe(456)
    // this process, with the host's own calls: a figure either way
    expect(availableMemory()).toBeGreaterThan(0)
    expect(availableMemory({})).toBeGreaterThan(0)
  })
})
