// What a SocketcandBus asks socketcand's broadcast manager (BCM mode): cyclic jobs for
// periodic tasks (`add` / `update` / `delete`) and, in BCM mode, subscriptions for filters.
import {
  formatSocketcandClientMessage,
  MAX_EXTENDED_ID,
  MAX_STANDARD_ID,
  type SocketcandInterval,
} from '@canbridge/protocol'
import type { CanFilter } from '../filters.ts'
import type { CanMessage } from '../message.ts'
import type { PeriodicTask } from '../periodic-task.ts'

const MICROSECONDS_PER_SECOND = 1_000_000

/** The BCM job key: socketcand keeps one cyclic job per CAN id (and id kind). */
export function jobKey(id: number, extended: boolean): string {
  return `${extended ? 'x' : 's'}${id}`
}

/** Why socketcand's `add` cannot carry this task, or undefined when it can. */
export function periodicProblem(messages: readonly CanMessage[]): string | undefined {
  if (messages.length !== 1) {
    return `socketcand's BCM 'add' sends one frame per job; give one message per task (got ${messages.length})`
  }
  const message = messages[0]!
  if (message.isRemoteFrame || message.isFd || message.isErrorFrame) {
    return "socketcand's BCM 'add' carries classic data frames only (no remote, CAN FD or error frames)"
  }
  return undefined
}

/** A period in milliseconds as the BCM's seconds + microseconds (at least 1 µs). */
export function intervalOf(periodMs: number): SocketcandInterval {
  const total = Math.max(1, Math.round(periodMs * 1000))
  return {
    seconds: Math.floor(total / MICROSECONDS_PER_SECOND),
    microseconds: total % MICROSECONDS_PER_SECOND,
  }
}

function commandFrame(message: CanMessage) {
  const frame = message.toTxFrame()
  return { timestampNs: 0n, ...frame }
}

export function addCommand(task: PeriodicTask): string {
  return formatSocketcandClientMessage({
    type: 'add',
    interval: intervalOf(task.periodMs),
    frame: commandFrame(task.messages[0]!),
  })
}

export function updateCommand(task: PeriodicTask): string {
  return formatSocketcandClientMessage({ type: 'update', frame: commandFrame(task.messages[0]!) })
}

export function deleteCommand(task: PeriodicTask): string {
  const message = task.messages[0]!
  return formatSocketcandClientMessage({
    type: 'delete',
    id: message.arbitrationId,
    extended: message.isExtendedId,
  })
}

export interface Subscription {
  id: number
  extended: boolean
}

/**
 * The exact ids BCM mode subscribes to for these filters. BCM subscriptions match one id
 * each, so every filter must name one: `extended` given and the full mask of its id kind.
 * Returns a reason string for filters that cannot be expressed.
 */
export function subscriptionsOf(filters: readonly CanFilter[] | null): Subscription[] | string {
  if (filters === null) return []
  const out = new Map<string, Subscription>()
  for (const [i, filter] of filters.entries()) {
    const extended = filter.extended
    const fullMask = extended ? MAX_EXTENDED_ID : MAX_STANDARD_ID
    if (extended === undefined || (filter.canMask & fullMask) !== fullMask) {
      return `filters[${i}]: in BCM mode each filter subscribes to one id, so it needs 'extended' and canMask 0x${extended ? '1fffffff' : '7ff'} (use mode 'raw' for masks)`
    }
    const id = filter.canId & fullMask
    out.set(jobKey(id, extended), { id, extended })
  }
  return [...out.values()]
}

export function subscribeCommand(subscription: Subscription): string {
  return formatSocketcandClientMessage({
    type: 'subscribe',
    interval: { seconds: 0, microseconds: 0 },
    ...subscription,
  })
}

export function unsubscribeCommand(subscription: Subscription): string {
  return formatSocketcandClientMessage({ type: 'unsubscribe', ...subscription })
}
