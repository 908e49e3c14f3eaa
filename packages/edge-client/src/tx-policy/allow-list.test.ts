import { describe, expect, it } from 'vitest'
import { describeId, parseAllowList, TxAllowList } from './allow-list.ts'

function problem(text: string): string {
  try {
    parseAllowList(text)
  } catch (error) {
    expect(error).toBeInstanceOf(RangeError)
    return (error as Error).message
  }
  throw new Error(`expected ${JSON.stringify(text)} to be refused`)
}

describe('transmit allow-list', () => {
  it('reads ids and ranges; the digit count says standard (1-3) or extended (8)', () => {
    expect(parseAllowList('123, 200-2FF ,18daf100-18DAF1FF,7')).toEqual([
      { extended: false, low: 0x123, high: 0x123 },
      { extended: false, low: 0x200, high: 0x2ff },
      { extended: true, low: 0x18daf100, high: 0x18daf1ff },
      { extended: false, low: 7, high: 7 },
    ])
    expect(parseAllowList('00000123')).toEqual([{ extended: true, low: 0x123, high: 0x123 }])
  })

  it('matches by kind: 123 standard is not 00000123 extended', () => {
    const list = new TxAllowList(parseAllowList('123,200-2FF,18DAF100-18DAF1FF'))
    expect(list.allows(0x123, false)).toBe(true)
    expect(list.allows(0x123, true)).toBe(false)
    expect(list.allows(0x200, false)).toBe(true)
    expect(list.allows(0x2ff, false)).toBe(true)
    expect(list.allows(0x300, false)).toBe(false)
    expect(list.allows(0x1ff, false)).toBe(false)
    expect(list.allows(0x18daf1ff, true)).toBe(true)
    expect(list.allows(0x18daf200, true)).toBe(false)
    expect(String(list)).toBe('123,200-2FF,18DAF100-18DAF1FF')
  })

  it('names ids the way the list writes them', () => {
    expect(describeId(0x7e0, false)).toBe('7E0 (standard)')
    expect(describeId(0x123, true)).toBe('00000123 (extended)')
  })

  it('refuses garbage, wrong digit counts, out-of-range ids, overlaps, with what to write', () => {
    expect(problem('')).toMatch(/the list is empty.*--listen-only/)
    expect(problem('123,,200')).toMatch(/an empty entry/)
    expect(problem('12G')).toMatch(/"12G" is not a hex id or range/)
    expect(problem('0x123')).toMatch(/without 0x \(123\)/)
    expect(problem('1234')).toMatch(
      /"1234" has 4 hex digits: write a standard \(11-bit\) id with 1 to 3 hex digits/,
    )
    expect(problem('123456789')).toMatch(/has 9 hex digits/)
    expect(problem('800')).toBe('"800" is above 7FF, the largest standard id')
    expect(problem('20000000')).toBe('"20000000" is above 1FFFFFFF, the largest extended id')
    expect(problem('100-18DAF1FF')).toMatch(/mixes a standard and an extended id/)
    expect(problem('1FF-100')).toBe('"1FF-100": the low end is above the high end')
    expect(problem('1-2-3')).toMatch(/a range has one "-"/)
    expect(problem('100-1FF,180')).toBe(
      '"180" overlaps "100-1FF" (both standard ids): list each id once',
    )
    // an id inside a range is an overlap too (the list would say it twice)
    expect(problem('123,100-1FF')).toBe(
      '"100-1FF" overlaps "123" (both standard ids): list each id once',
    )
    // the same numbers as different kinds do not overlap
    expect(() => parseAllowList('100-1FF,00000100-000001FF')).not.toThrow()
  })
})
