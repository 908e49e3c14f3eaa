// Receive filters, the one rule both ends apply (python-can's BusABC._matches_filters; the
// kernel's CAN_RAW_FILTER where the edge can use it): a frame passes when any filter has
// `id & canMask === canId & canMask` and, if `extended` is given, the same id kind.

export interface CanFilter {
  canId: number
  canMask: number
  /** when given, only frames with this id kind (29-bit or 11-bit) match */
  extended?: boolean | undefined
}

/** True when the frame passes: no filters (null or empty) pass everything. Allocation-free. */
export function matchesFilters(
  filters: readonly CanFilter[] | null,
  id: number,
  isExtended: boolean,
): boolean {
  if (filters === null || filters.length === 0) return true
  for (let i = 0; i < filters.length; i++) {
    const filter = filters[i]!
    if (filter.extended !== undefined && filter.extended !== isExtended) continue
    if (((filter.canId ^ id) & filter.canMask) === 0) return true
  }
  return false
}
