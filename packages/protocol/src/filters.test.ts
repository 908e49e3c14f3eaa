import { describe, expect, it } from 'vitest'
import { type CanFilter, matchesFilters } from './filters.ts'

describe('matchesFilters (python-can: id & mask == can_id & mask, and the id kind if given)', () => {
  const only7e8: CanFilter[] = [{ canId: 0x7e8, canMask: 0x7f8 }]

  it('passes everything without filters: null or an empty list', () => {
    expect(matchesFilters(null, 0x123, false)).toBe(true)
    expect(matchesFilters([], 0x1fffffff, true)).toBe(true)
  })

  it('compares the masked bits only', () => {
    expect(matchesFilters(only7e8, 0x7e8, false)).toBe(true)
    expect(matchesFilters(only7e8, 0x7ef, false)).toBe(true)
    expect(matchesFilters(only7e8, 0x7f0, false)).toBe(false)
  })

  it('without `extended`, an extended id with the same masked bits passes too', () => {
    expect(matchesFilters(only7e8, 0x7e8, true)).toBe(true)
    expect(matchesFilters(only7e8, 0x100007e8, true)).toBe(true)
  })

  it('with `extended`, only that id kind passes', () => {
    const standard: CanFilter[] = [{ canId: 0x7e8, canMask: 0x7f8, extended: false }]
    expect(matchesFilters(standard, 0x7e8, true)).toBe(false)
    expect(matchesFilters(standard, 0x7e8, false)).toBe(true)
  })

  it('any one filter suffices', () => {
    const two: CanFilter[] = [
      { canId: 0x100, canMask: 0x7ff },
      { canId: 0x200, canMask: 0x7ff },
    ]
    expect([0x100, 0x200, 0x300].map((id) => matchesFilters(two, id, false))).toEqual([
      true,
      true,
      false,
    ])
  })
})
