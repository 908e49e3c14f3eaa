// The interface name a log line carries for a message: candump prints the kernel's name
// (`can0`), a bus channel is `edgeId/can0`.

/**
 * `interface`: the part after the last `/` (`pi/can0` → `can0`), what candump on the edge
 * prints; `channel`: the whole channel name, distinct when several edges have a `can0`.
 */
export type InterfaceNaming = 'interface' | 'channel'

export const INTERFACE_NAMINGS: readonly InterfaceNaming[] = ['interface', 'channel']

/** Maps channels to log interface names, validating each once (names repeat every frame). */
export class InterfaceNames {
  readonly #naming: InterfaceNaming
  readonly #fallback: string
  readonly #names = new Map<string, string>()

  /** `fallback` names messages without a channel (python-can's default: `vcan0`). */
  constructor(naming: InterfaceNaming = 'interface', fallback = 'vcan0') {
    if (!INTERFACE_NAMINGS.includes(naming)) {
      throw new RangeError(
        `interface naming must be one of ${INTERFACE_NAMINGS.join(', ')}, got ${JSON.stringify(naming)}`,
      )
    }
    this.#naming = naming
    this.#fallback = checkName(fallback, 'the default interface name')
  }

  of(channel: string | null): string {
    if (channel === null) return this.#fallback
    let name = this.#names.get(channel)
    if (name === undefined) {
      const raw = this.#naming === 'channel' ? channel : channel.slice(channel.lastIndexOf('/') + 1)
      name = checkName(raw, `channel ${JSON.stringify(channel)}`)
      this.#names.set(channel, name)
    }
    return name
  }
}

/** A log line is split at spaces: a name must be one non-empty word. */
function checkName(name: string, what: string): string {
  if (name === '' || /\s/.test(name)) {
    throw new RangeError(
      `${what} gives the interface name ${JSON.stringify(name)}, which a candump log cannot carry (it must be one word without spaces)`,
    )
  }
  return name
}
