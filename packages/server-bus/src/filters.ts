// Receive filters as the bus takes them: checked where they enter, frozen, and sent to the edge.
// The type and the matching rule (python-can's) are the protocol's, shared with the edge.
import { type CanFilter, MAX_EXTENDED_ID, matchesFilters } from '@canbridge/protocol'

export { type CanFilter, matchesFilters }

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

/** The filters as SET_FILTERS carries them (an empty list means everything). */
export function toWireFilters(filters: readonly CanFilter[] | null): CanFilter[] {
  if (filters === null) return []
  return filters.map((f) =>
    f.extended === undefined
      ? { canId: f.canId, canMask: f.canMask }
      : { canId: f.canId, canMask: f.canMask, extended: f.extended },
  )
}
