// Live progress on stderr: one line rewritten in place on a terminal, a plain line every
// `intervalMs` otherwise (CI logs), and messages (faults) on their own lines.

export interface ProgressSample {
  elapsedMs: number
  durationMs: number
  /** frames on the bus so far (candump) */
  sent: number
  /** frames received through the TCPBus */
  received: number
  /** frames/s over the last second, on the bus and received */
  sentRate: number
  receivedRate: number
  /** what is happening now, e.g. `partition #1` or `draining` */
  phase: string
  connected: boolean
}

export interface ProgressOutput {
  isTTY?: boolean | undefined
  columns?: number | undefined
  write(text: string): unknown
}

export function formatSample(s: ProgressSample): string {
  const elapsed = Math.min(s.elapsedMs, s.durationMs)
  const left = Math.max(0, s.durationMs - s.elapsedMs)
  const lag = s.sent - s.received
  return [
    `${clock(elapsed)} / ${clock(s.durationMs)} (${clock(left)} left)`,
    `on bus ${s.sent.toLocaleString('en-US')} @ ${Math.round(s.sentRate)}/s`,
    `received ${s.received.toLocaleString('en-US')} @ ${Math.round(s.receivedRate)}/s`,
    `behind ${lag.toLocaleString('en-US')}`,
    s.connected ? 'edge connected' : 'edge away',
    s.phase,
  ]
    .filter((part) => part !== '')
    .join(' | ')
}

export class Progress {
  readonly #out: ProgressOutput
  readonly #intervalMs: number
  readonly #enabled: boolean
  #lastPrint = Number.NEGATIVE_INFINITY
  #live = false

  constructor(out: ProgressOutput, options: { intervalMs?: number; enabled?: boolean } = {}) {
    this.#out = out
    this.#intervalMs = options.intervalMs ?? 10_000
    this.#enabled = options.enabled ?? true
  }

  get isTTY(): boolean {
    return this.#out.isTTY === true
  }

  /** Shows a sample: always on a terminal, every `intervalMs` otherwise. */
  update(sample: ProgressSample, now = Date.now()): void {
    if (!this.#enabled) return
    const line = formatSample(sample)
    if (this.isTTY) {
      const width = Math.max(20, (this.#out.columns ?? 120) - 1)
      this.#out.write(`\r\x1b[2K${line.slice(0, width)}`)
      this.#live = true
    } else if (now - this.#lastPrint >= this.#intervalMs) {
      this.#lastPrint = now
      this.#out.write(`${line}\n`)
    }
  }

  /** A line of its own (a fault began or ended), above the live line. */
  message(text: string): void {
    if (!this.#enabled) return
    this.#clear()
    this.#out.write(`${text}\n`)
  }

  /** Ends the live line. */
  done(): void {
    this.#clear()
  }

  #clear(): void {
    if (this.#live) {
      this.#out.write('\r\x1b[2K')
      this.#live = false
    }
  }
}

/** `m:ss` or `h:mm:ss`. */
export function clock(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000))
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m)
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(s).padStart(2, '0')}`
}
