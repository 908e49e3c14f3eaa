// NATS subjects of a fleet: `<prefix>.raw.<edge>.<channel>` carries a channel's DATA
// batches; drops, bus state and statistics have their own kinds. Edge ids and channel
// names become subject tokens through a reversible escape, since NATS forbids `.`, `*`,
// `>` and white space in a token and canbridge edge ids may contain any printable text.
import { FLEET_ERROR, FleetError } from './errors.ts'

export const SUBJECT_KIND = {
  RAW: 'raw',
  DROPS: 'drops',
  STATE: 'state',
  STATS: 'stats',
  /** requests to the gateway that holds an edge (send, filters, periodic tasks) */
  TX: 'tx',
} as const

export type SubjectKind = (typeof SUBJECT_KIND)[keyof typeof SUBJECT_KIND]

/** Longest name accepted: a token stays well inside NATS' limits even fully escaped. */
const MAX_NAME_LENGTH = 128
const SAFE = /^[A-Za-z0-9-]$/
const UTF8 = new TextEncoder()

/** `pi.garage` → `pi_2Egarage`: letters, digits and `-` stay, anything else is `_XX` (UTF-8). */
export function subjectToken(name: string): string {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw new FleetError(
      FLEET_ERROR.BAD_NAME,
      `name ${JSON.stringify(name)} must be 1..${MAX_NAME_LENGTH} characters`,
    )
  }
  let token = ''
  for (const char of name) {
    if (SAFE.test(char)) {
      token += char
      continue
    }
    for (const byte of UTF8.encode(char)) {
      token += `_${byte.toString(16).toUpperCase().padStart(2, '0')}`
    }
  }
  return token
}

/** The inverse of subjectToken; throws on a token it could not have made. */
export function nameOfToken(token: string): string {
  const bytes: number[] = []
  for (let i = 0; i < token.length; i++) {
    const char = token[i]!
    if (char === '_') {
      const hex = token.slice(i + 1, i + 3)
      if (!/^[0-9A-F]{2}$/.test(hex)) {
        throw new FleetError(
          FLEET_ERROR.BAD_NAME,
          `subject token ${token} has a bad escape at ${i}`,
        )
      }
      bytes.push(Number.parseInt(hex, 16))
      i += 2
    } else if (SAFE.test(char)) {
      bytes.push(char.charCodeAt(0))
    } else {
      throw new FleetError(FLEET_ERROR.BAD_NAME, `subject token ${token} has ${char} unescaped`)
    }
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes))
}

/** The subjects under one prefix (default `can`). */
export class FleetSubjects {
  readonly prefix: string

  constructor(prefix = 'can') {
    if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix)) {
      throw new FleetError(
        FLEET_ERROR.BAD_NAME,
        `subject prefix ${JSON.stringify(prefix)} is not a plain subject`,
      )
    }
    this.prefix = prefix
  }

  raw(edgeId: string, channel: string): string {
    return `${this.prefix}.${SUBJECT_KIND.RAW}.${subjectToken(edgeId)}.${subjectToken(channel)}`
  }

  /** Drops, bus state and statistics of one channel. */
  of(kind: 'drops' | 'state' | 'stats', edgeId: string, channel: string): string {
    return `${this.prefix}.${kind}.${subjectToken(edgeId)}.${subjectToken(channel)}`
  }

  tx(edgeId: string): string {
    return `${this.prefix}.${SUBJECT_KIND.TX}.${subjectToken(edgeId)}`
  }

  /**
   * What the stream stores: every `<prefix>.<kind>.<edge>.<channel>`. Requests
   * (`<prefix>.tx.<edge>`, one token fewer) stay outside, and a reader's filter
   * `<prefix>.*.<edge>.<channel>` is a subset of it, as NATS 2.9 requires.
   */
  stored(): string[] {
    return [`${this.prefix}.*.*.*`]
  }

  /** `{ kind, edgeId, channel }` of a stored subject, or undefined for another. */
  parse(subject: string): { kind: string; edgeId: string; channel: string } | undefined {
    const rest = subject.startsWith(`${this.prefix}.`) ? subject.slice(this.prefix.length + 1) : ''
    const parts = rest.split('.')
    if (parts.length !== 3) return undefined
    return { kind: parts[0]!, edgeId: nameOfToken(parts[1]!), channel: nameOfToken(parts[2]!) }
  }
}
