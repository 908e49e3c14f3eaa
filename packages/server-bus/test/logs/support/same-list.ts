// Compares long lists fast (vitest's deep equality takes seconds on 30,000 objects) and shows
// the first element that differs as vitest would.
import { isDeepStrictEqual } from 'node:util'
import { expect } from 'vitest'

export function expectSameList<T>(got: readonly T[], want: readonly T[], label = 'item'): void {
  for (let i = 0; i < Math.min(got.length, want.length); i++) {
    if (!isDeepStrictEqual(got[i], want[i])) expect(got[i], `${label} ${i}`).toEqual(want[i])
  }
  expect(got.length, `${label} count`).toBe(want.length)
}
