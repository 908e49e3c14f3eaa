import { describe, expect, it } from 'vitest'
import { InterfaceLossCounter } from './interface-loss.ts'

/** A fake sysfs of one interface's statistics directory (the real one is read in test:kernel). */
function stats(values: Record<string, number> | undefined) {
  const files = { current: values }
  const read = (path: string): string | undefined => {
    if (files.current === undefined) return undefined
    const name = path.slice(path.lastIndexOf('/') + 1)
    return `${files.current[name] ?? 0}\n`
  }
  return { files, read }
}

describe('InterfaceLossCounter', () => {
  it('reports the increase of rx_dropped, rx_over_errors and rx_fifo_errors since start', () => {
    const { files, read } = stats({ rx_dropped: 5, rx_over_errors: 1, rx_fifo_errors: 0 })
    const counter = new InterfaceLossCounter('can0', read)
    expect(counter.sample()).toBe(0)
    files.current = { rx_dropped: 7, rx_over_errors: 1, rx_fifo_errors: 4, rx_errors: 99 }
    expect(counter.sample()).toBe(6)
    expect(counter.sample()).toBe(0)
  })

  it('reads nothing while the interface is gone, and counts a new one from 0', () => {
    const { files, read } = stats({ rx_dropped: 50 })
    const counter = new InterfaceLossCounter('can0', read)
    files.current = undefined
    expect(counter.sample()).toBe(0)
    files.current = { rx_dropped: 3 }
    expect(counter.sample()).toBe(3)
  })

  it('takes counters that went down as restarted', () => {
    const { files, read } = stats({ rx_fifo_errors: 10 })
    const counter = new InterfaceLossCounter('can0', read)
    files.current = { rx_fifo_errors: 2 }
    expect(counter.sample()).toBe(2)
  })
})
