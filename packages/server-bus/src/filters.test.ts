import { describe, expect, it } from 'vitest'
import { matchesFilters, normalizeFilters, toWireFilters } from './filters.ts'

// The cases of python-can's test/test_message_filtering.py, plus the extended rule.
describe('python-can filter matching', () => {
  const example = { id: 0x123, extended: true }
  const highest = { id: 0x1fffffff, extended: true }
  const matches = (filters: Parameters<typeof normalizeFilters>[0], m: typeof example) =>
    matchesFilters(normalizeFilters(filters), m.id, m.extended)

  it('matches everything without filters (null or [])', () => {
    expect(matches(null, example)).toBe(true)
    expect(matches([], highest)).toBe(true)
  })

  it('matches id & mask === canId & mask', () => {
    const matchExample = [{ canId: 0x123, canMask: 0x1fffffff, extended: true }]
    expect(matches(matchExample, example)).toBe(true)
    expect(matches(matchExample, highest)).toBe(false)
    const onlyHighest = [{ canId: 0x1fffffff, canMask: 0x1fffffff, extended: true }]
    expect(matches(onlyHighest, example)).toBe(false)
    expect(matches(onlyHighest, highest)).toBe(true)
    expect(matches([{ canId: 0x100, canMask: 0x700 }], { id: 0x1ff, extended: false })).toBe(true)
    expect(matches([{ canId: 0x100, canMask: 0x700 }], { id: 0x200, extended: false })).toBe(false)
    expect(matches([{ canId: 0, canMask: 0 }], highest)).toBe(true)
  })

  it('checks the id kind only when extended is given', () => {
    const standardOnly = [{ canId: 0x123, canMask: 0x7ff, extended: false }]
    expect(matches(standardOnly, { id: 0x123, extended: false })).toBe(true)
    expect(matches(standardOnly, { id: 0x123, extended: true })).toBe(false)
    const either = [{ canId: 0x123, canMask: 0x7ff }]
    expect(matches(either, { id: 0x123, extended: true })).toBe(true)
    expect(matches(either, { id: 0x123, extended: false })).toBe(true)
  })

  it('matches when any one filter matches', () => {
    const two = [
      { canId: 0x100, canMask: 0x7ff, extended: false },
      { canId: 0x200, canMask: 0x7ff, extended: false },
    ]
    expect(matches(two, { id: 0x200, extended: false })).toBe(true)
    expect(matches(two, { id: 0x300, extended: false })).toBe(false)
  })
})

describe('normalizeFilters', () => {
  it('copies, freezes and drops undefined extended', () => {
    const input = [{ canId: 1, canMask: 2, extended: undefined }]
    const out = normalizeFilters(input)!
    expect(out).toEqual([{ canId: 1, canMask: 2 }])
    expect(Object.isFrozen(out)).toBe(true)
    expect(toWireFilters(out)).toEqual([{ canId: 1, canMask: 2 }])
    expect(toWireFilters(null)).toEqual([])
  })

  it('rejects bad filters naming the field', () => {
    expect(() => normalizeFilters([{ canId: -1, canMask: 0 }])).toThrow(/filters\[0\].canId/)
    expect(() => normalizeFilters([{ canId: 0, canMask: 0x20000000 }])).toThrow(
      /filters\[0\].canMask/,
    )
    expect(() => normalizeFilters([{ canId: 0, canMask: 0, extended: 1 as never }])).toThrow(
      /filters\[0\].extended must be a boolean/,
    )
    expect(() => normalizeFilters({} as never)).toThrow(TypeError)
    expect(() =>
      normalizeFilters(Array.from({ length: 513 }, () => ({ canId: 0, canMask: 0 }))),
    ).toThrow(/at most 512/)
  })
})
