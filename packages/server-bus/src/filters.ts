// Receive filters with python-can's rule (BusABC._matches_filters): a frame passes when any
// filter has `id & canMask === canId & canMask` and, if `extended` is given, the same id kind.
import type { CanFilter as WireFilter } from '@canbridge/protocol'
import { MAX_EXTENDED_ID } from '@canbridge/protocol'

export interface CanFilter {
  canId: number
  canMask: number
  /** when given, only frames with this id kind (29-bit or 11-bit) match */
  extended?: boolean | undefined
}

/** Most filters one SET_FILTERS may carry (PROTOCOL.md §5.7). */
export const MAX_FILTERS = 512

/**
 * Checks filters where they enter; returns a frozen copy, or null for "everything"
 * (python-can: `None` or an empty list clears the filters).
 */
export function normalizeFilters(
  filters: readonly CanFilter[] | null | undefined,
): readonly CanFilter[] | null {
  if (filters === null || filters === undefined) return null
  if (!Array.isArray(filters)) {
    throw new TypeError(`filters must be an array or null, got ${typeof filters}`)
  }
  if (filters.length === 0) return null
  if (filters.length > MAX_FILTERS) {
    throw new RangeError(`at most ${MAX_FILTERS} filters are allowed, got ${filters.length}`)
  }
  return Object.freeze(
    filters.map((filter, i): CanFilter => {
      if (typeof filter !== 'object' || filter === null) {
        throw new TypeError(`filters[${i}] must be an object`)
      }
      for (const key of ['canId', 'canMask'] as const) {
        const value = filter[key]
        if (!Number.isInteger(value) || value < 0 || value > MAX_EXTENDED_ID) {
          throw new RangeError(
            `filters[${i}].${key} must be an integer in 0..0x1fffffff, got ${String(value)}`,
          )
        }
      }
      if (filter.extended !== undefined && typeof filter.extended !== 'boolean') {
        throw new TypeError(
          `filters[${i}].extended must be a boolean, got ${String(filter.extended)}`,
        )
      }
      return Object.freeze(
        filter.extended === undefined
          ? { canId: filter.canId, canMask: filter.canMask }
          : { canId: filter.canId, canMask: filter.canMask, extended: filter.extended },
      )
    }),
  )
}

/** python-can's `_matches_filters`: true with no filters; error frames follow the same rule. */
export function matchesFilters(
  filters: readonly CanFilter[] | null,
  id: number,
  isExtended: boolean,
): boolean {
  if (filters === null) return true
  for (let i = 0; i < filters.length; i++) {
    const filter = filters[i]!
    if (filter.extended !== undefined && filter.extended !== isExtended) continue
    if (((filter.canId ^ id) & filter.canMask) === 0) return true
  }
  return false
}

/** The filters as SET_FILTERS carries them (an empty list means everything). */
export function toWireFilters(filters: readonly CanFilter[] | null): WireFilter[] {
  if (filters === null) return []
  return filters.map((f) =>
    f.extended === undefined
      ? { canId: f.canId, canMask: f.canMask }
      : { canId: f.canId, canMask: f.canMask, extended: f.extended },
  )
}
