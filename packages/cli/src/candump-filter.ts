// candump's interface arguments, `<interface>[,filter]*`, and the kernel's CAN_RAW filter
// rules they stand for, applied to the bridge's messages:
//   <can_id>:<can_mask>   matches when id & mask == can_id & mask (8 id digits: extended)
//   <can_id>~<can_mask>   matches when id & mask != can_id & mask
//   #<error_mask>         error frames whose class has one of these bits
//   j                     all filters must match (CAN_RAW_JOIN_FILTERS) instead of any
// As in the kernel, a frame's id carries CAN_EFF_FLAG (0x80000000) when extended and
// CAN_RTR_FLAG (0x40000000) when remote, so a mask can select on both.
import { type CanFilter, type CanMessage, MAX_FILTERS } from '@canbridge/server-bus'
import { UsageError } from './exit.ts'

const CAN_EFF_FLAG = 0x80000000
const CAN_RTR_FLAG = 0x40000000
const CAN_ERR_FLAG = 0x20000000
const CAN_EFF_MASK = 0x1fffffff

/** candump's name for every interface */
export const ANY_INTERFACE = 'any'

export interface RawFilter {
  /** can_id, with CAN_EFF_FLAG when written with 8 digits */
  canId: number
  canMask: number
  inverted: boolean
}

export interface InterfaceSpec {
  /** `any`, an interface name (`can0`, on every edge) or a channel (`pi/can0`) */
  name: string
  /** no filter given: every data frame (candump's `0:0`) */
  filters: readonly RawFilter[]
  /** error classes received (0: no error frames) */
  errorMask: number
  join: boolean
}

const FILTER = /^([0-9A-Fa-f]{1,8})([:~])([0-9A-Fa-f]{1,8})$/
const ERROR_MASK = /^#([0-9A-Fa-f]{1,8})$/

/** Parses `can0,123:7FF,#FFFFFFFF`; a UsageError says what is wrong. */
export function parseInterfaceSpec(argument: string): InterfaceSpec {
  const [name = '', ...parts] = argument.split(',')
  if (name === '' || /\s/.test(name)) {
    throw new UsageError(
      `bad interface ${JSON.stringify(argument)}: it must start with an interface name (can0), a channel (pi/can0) or "any"`,
    )
  }
  const filters: RawFilter[] = []
  let errorMask = 0
  let join = false
  for (const part of parts) {
    const filter = FILTER.exec(part)
    if (filter !== null) {
      const [, idText, kind, maskText] = filter as unknown as [string, string, string, string]
      let canId = Number.parseInt(idText, 16)
      // candump: 8 id digits mean an extended id; the mask never selects the error flag
      if (idText.length === 8) canId = (canId | CAN_EFF_FLAG) >>> 0
      const canMask = (Number.parseInt(maskText, 16) & ~CAN_ERR_FLAG) >>> 0
      filters.push({ canId, canMask, inverted: kind === '~' })
    } else if (part === 'j' || part === 'J') {
      join = true
    } else if (ERROR_MASK.test(part)) {
      errorMask = Number.parseInt(part.slice(1), 16) >>> 0
    } else {
      throw new UsageError(
        `bad filter ${JSON.stringify(part)} in ${JSON.stringify(argument)}: expected <can_id>:<can_mask>, <can_id>~<can_mask>, #<error_mask> or j (hex, e.g. can0,123:7FF)`,
      )
    }
  }
  return { name, filters, errorMask, join }
}

/** True when the spec's interface is the message's channel (`can0` matches `pi/can0`). */
export function specMatchesChannel(spec: InterfaceSpec, channel: string | null): boolean {
  if (spec.name === ANY_INTERFACE) return true
  if (channel === null) return false
  if (channel === spec.name) return true
  const slash = channel.lastIndexOf('/')
  return (
    slash !== -1 && channel.length - slash - 1 === spec.name.length && channel.endsWith(spec.name)
  )
}

/** The kernel's verdict for a socket with these filters (channel not checked). */
export function specAccepts(spec: InterfaceSpec, message: CanMessage): boolean {
  if (message.isErrorFrame) return (message.arbitrationId & CAN_EFF_MASK & spec.errorMask) !== 0
  const filters = spec.filters
  if (filters.length === 0) return true
  const id =
    (message.arbitrationId |
      (message.isExtendedId ? CAN_EFF_FLAG : 0) |
      (message.isRemoteFrame ? CAN_RTR_FLAG : 0)) >>>
    0
  for (let i = 0; i < filters.length; i++) {
    const filter = filters[i]!
    const equal = ((id ^ filter.canId) & filter.canMask) === 0
    if (equal !== filter.inverted) {
      if (!spec.join) return true
    } else if (spec.join) {
      return false
    }
  }
  return spec.join
}

/**
 * Bus filters (python-can's rule, sent to the edges' kernels) that pass at least what the
 * specs accept, so the link carries less; null (everything) when they cannot say it:
 * inverted or joined filters, error frames, an interface without filters. The specs are
 * applied exactly here, frame by frame.
 */
export function busFiltersFor(specs: readonly InterfaceSpec[]): CanFilter[] | null {
  const out: CanFilter[] = []
  for (const spec of specs) {
    if (spec.filters.length === 0 || spec.errorMask !== 0 || spec.join) return null
    for (const filter of spec.filters) {
      if (filter.inverted) return null
      const selectsKind = (filter.canMask & CAN_EFF_FLAG) !== 0
      out.push({
        canId: filter.canId & CAN_EFF_MASK,
        canMask: filter.canMask & CAN_EFF_MASK,
        ...(selectsKind ? { extended: (filter.canId & CAN_EFF_FLAG) !== 0 } : {}),
      })
    }
  }
  return out.length > MAX_FILTERS ? null : out
}
