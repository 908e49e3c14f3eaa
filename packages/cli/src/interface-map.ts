// canplayer's interface assignments, `<write-if>=<log-if>`, for the bridge: which bus channel
// receives the frames a log recorded on an interface. The write side is an interface name
// (can0, when exactly one edge offers it), a channel (pi/can0), or `stdout` (print instead).
// Without assignments each frame goes to the channel named like its log interface; with
// them, frames of other log interfaces are skipped, as canplayer does.
import { UsageError } from './exit.ts'

export interface Assignment {
  /** `stdout`, an interface name or a channel */
  target: string
  logInterface: string
}

export type Route =
  | { kind: 'send'; channel: string }
  | { kind: 'stdout' }
  /** assignments were given and none names this log interface */
  | { kind: 'skip' }

export const STDOUT_TARGET = 'stdout'

/** Parses `can0=vcan0`. */
export function parseAssignment(argument: string): Assignment {
  const at = argument.indexOf('=')
  const target = argument.slice(0, at)
  const logInterface = argument.slice(at + 1)
  if (at === -1 || target === '' || logInterface === '' || logInterface.includes('=')) {
    throw new UsageError(
      `bad assignment ${JSON.stringify(argument)}: expected <channel>=<log interface>, e.g. can0=vcan0 (frames logged on vcan0 go to can0) or stdout=vcan0`,
    )
  }
  return { target, logInterface }
}

/** Log interface → target; a UsageError when a log interface is assigned twice. */
export function assignmentMap(assignments: readonly Assignment[]): Map<string, string> {
  const map = new Map<string, string>()
  for (const { target, logInterface } of assignments) {
    if (map.has(logInterface)) {
      throw new UsageError(`log interface ${logInterface} is assigned twice: give it one channel`)
    }
    map.set(logInterface, target)
  }
  return map
}

export class Router {
  readonly #assignments: Map<string, string>
  readonly #channels: () => readonly string[]
  readonly #routes = new Map<string, Route>()

  /** `channels` lists the bus's channels now (`edgeId/interface`). */
  constructor(assignments: readonly Assignment[], channels: () => readonly string[]) {
    this.#assignments = assignmentMap(assignments)
    this.#channels = channels
  }

  /** Resolves every assignment now, so a wrong one fails before anything is sent. */
  check(): void {
    for (const logInterface of this.#assignments.keys()) this.route(logInterface)
  }

  /** Where frames logged on `logInterface` go; a UsageError when no channel fits. */
  route(logInterface: string): Route {
    let route = this.#routes.get(logInterface)
    if (route === undefined) {
      route = this.#resolve(logInterface)
      this.#routes.set(logInterface, route)
    }
    return route
  }

  #resolve(logInterface: string): Route {
    if (this.#assignments.size > 0) {
      const target = this.#assignments.get(logInterface)
      if (target === undefined) return { kind: 'skip' }
      if (target === STDOUT_TARGET) return { kind: 'stdout' }
      return { kind: 'send', channel: this.#channel(target, `${target}=${logInterface}`) }
    }
    return { kind: 'send', channel: this.#channel(logInterface, undefined) }
  }

  #channel(target: string, assignment: string | undefined): string {
    const channels = this.#channels()
    const matches = target.includes('/')
      ? channels.filter((c) => c === target)
      : channels.filter((c) => c.slice(c.lastIndexOf('/') + 1) === target)
    if (matches.length === 1) return matches[0]!
    const offered = channels.length > 0 ? channels.join(', ') : 'none'
    if (matches.length > 1) {
      throw new UsageError(
        `${target} is on several edges (${matches.join(', ')}): name the channel, e.g. ${matches[0]}=${assignment?.split('=')[1] ?? target}`,
      )
    }
    if (assignment !== undefined) {
      throw new UsageError(
        `assignment ${assignment}: no edge offers ${target} (channels: ${offered})`,
      )
    }
    throw new UsageError(
      `the log's interface ${target} has no channel on the bus (channels: ${offered}); send it to one with <channel>=${target}, e.g. ${channels[0]?.split('/')[1] ?? 'can0'}=${target}`,
    )
  }
}
