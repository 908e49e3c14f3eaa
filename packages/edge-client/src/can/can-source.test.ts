import { describe, expect, it } from 'vitest'
import { busStateOfError, CAN_ERR, CAN_ERR_CRTL } from './bus-state.ts'
import { kernelFilters, matchesFilters } from './can-source.ts'

describe('filters', () => {
  it('match like python-can: id & mask == canId & mask, extended when given', () => {
    const filters = [{ canId: 0x120, canMask: 0x7f0 }]
    expect(matchesFilters(0x123, false, filters)).toBe(true)
    expect(matchesFilters(0x133, false, filters)).toBe(false)
    expect(matchesFilters(0x123, true, filters)).toBe(true)
    expect(
      matchesFilters(0x123, true, [{ canId: 0x123, canMask: 0x1fffffff, extended: false }]),
    ).toBe(false)
    expect(matchesFilters(0x5, false, [])).toBe(true)
  })

  it('become kernel can_filter values with the EFF bit when extended is given', () => {
    expect(kernelFilters([])).toEqual([{ id: 0, mask: 0, invert: false }])
    expect(kernelFilters([{ canId: 0x123, canMask: 0x7ff }])).toEqual([
      { id: 0x123, mask: 0x7ff, invert: false },
    ])
    expect(kernelFilters([{ canId: 0x18da00f1, canMask: 0x1fffffff, extended: true }])).toEqual([
      { id: 0x98da00f1, mask: 0x9fffffff, invert: false },
    ])
    expect(kernelFilters([{ canId: 0x123, canMask: 0x7ff, extended: false }])).toEqual([
      { id: 0x123, mask: 0x800007ff, invert: false },
    ])
  })
})

describe('bus state from error frames', () => {
  it('follows linux/can/error.h', () => {
    expect(busStateOfError(CAN_ERR.BUSOFF, 0)).toBe('bus-off')
    expect(busStateOfError(CAN_ERR.RESTARTED, 0)).toBe('active')
    expect(busStateOfError(CAN_ERR.CRTL, CAN_ERR_CRTL.TX_PASSIVE)).toBe('passive')
    expect(busStateOfError(CAN_ERR.CRTL, CAN_ERR_CRTL.RX_WARNING)).toBe('warning')
    expect(busStateOfError(CAN_ERR.CRTL, CAN_ERR_CRTL.ACTIVE)).toBe('active')
    expect(busStateOfError(CAN_ERR.CRTL, CAN_ERR_CRTL.RX_OVERFLOW)).toBeUndefined()
    expect(busStateOfError(CAN_ERR.ACK | CAN_ERR.PROT, 0)).toBeUndefined()
    expect(busStateOfError(CAN_ERR.BUSOFF | CAN_ERR.CRTL, CAN_ERR_CRTL.TX_PASSIVE)).toBe('bus-off')
  })
})
