import { describe, expect, it } from 'vitest'
import {
  ASSUMED_BITRATE,
  autoReceiveBuffer,
  bufferForBitrate,
  receiveBufferShortfall,
} from './receive-buffer.ts'

describe('receive buffer', () => {
  it('auto: one second of the shortest frames at the bitrate, 1 KiB each', () => {
    // 500 kbit/s / 47 bits = 10,639 frames
    expect(bufferForBitrate(500_000)).toBe(10_639 * 1024)
    expect(autoReceiveBuffer('can0', 500_000)).toEqual({
      bytes: 10_639 * 1024,
      basis: 'one second at 500000 bit/s (10639 frames)',
    })
  })

  it('auto without a bitrate (vcan) assumes 1 Mbit/s and says so', () => {
    const plan = autoReceiveBuffer('vcan0', undefined)
    expect(plan.bytes).toBe(bufferForBitrate(ASSUMED_BITRATE))
    expect(plan.basis).toMatch(/vcan0 reports no bitrate/)
  })

  it('a buffer below the plan is a warning naming the sysctl and the value to set', () => {
    const plan = { bytes: 4_000_000, basis: 'test' }
    expect(receiveBufferShortfall('can0', plan, 4_000_000, 212_992)).toBeUndefined()
    const warning = receiveBufferShortfall('can0', plan, 425_984, 212_992)
    expect(warning).toMatch(/can0 is 425984 bytes, not the 4000000 wanted \(test\)/)
    expect(warning).toMatch(/net\.core\.rmem_max \(212992, doubled\)/)
    expect(warning).toMatch(/sysctl -w net\.core\.rmem_max=2000000/)
    expect(warning).toMatch(/CAP_NET_ADMIN/)
  })
})
