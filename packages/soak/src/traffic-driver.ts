// Runs the cangen processes of a traffic plan and keeps the total rate on target: every few
// seconds it compares the frames on the bus (candump's count) with the target and restarts
// the generators with a gap corrected for the per-loop overhead it measured. A generator
// that exits early (cangen exits on ENETDOWN while the interface is down) is restarted once
// the interface is up again.
import type { ChildProcess } from 'node:child_process'
import { exited, type Place, spawnAt, stopChild } from './exec.ts'
import { cangenArgs, type Generator, overheadOf, type Pace, pace } from './traffic.ts'

interface Running {
  generator: Generator
  pace: Pace
  child: ChildProcess | undefined
  /** per-loop overhead measured so far, ms */
  overheadMs: number
}

export interface TrafficDriverOptions {
  place: Place
  iface: string
  generators: readonly Generator[]
  /** frames/s, all generators together */
  rate: number
  /** upper bound of a generator's life over ssh (seconds) */
  limitS: number
  /** frames on the bus with a kernel timestamp in [fromMs, toMs) (for the rate control) */
  countBetween: (fromMs: number, toMs: number) => number
  onMessage?: (text: string) => void
}

/** How often the rate is checked and corrected, over what window, how long ago. */
const CONTROL_MS = 10_000
const WINDOW_MS = 8000
const LAG_MS = 2000
/** Relative error tolerated before the generators are restarted. */
const TOLERANCE = 0.05

export class TrafficDriver {
  readonly #options: TrafficDriverOptions
  readonly #running: Running[]
  #timer: NodeJS.Timeout | undefined
  #stopped = true
  #ifaceDown = false
  /** no rate measurement before this (ms since the epoch): generators were (re)started */
  #settledAt = 0
  /** restarts made to correct the rate */
  corrections = 0
  /** generators that exited on their own and were restarted */
  respawns = 0
  lastError = ''

  constructor(options: TrafficDriverOptions) {
    this.#options = options
    this.#running = options.generators.map((generator) => ({
      generator,
      pace: pace(options.rate * generator.share, generator.burst),
      child: undefined,
      overheadMs: 0,
    }))
  }

  /** The cangen command lines in use. */
  commands(): string[] {
    return this.#running.map((r) =>
      ['cangen', ...cangenArgs(this.#options.iface, r.generator, r.pace)].join(' '),
    )
  }

  start(): void {
    this.#stopped = false
    for (const r of this.#running) this.#spawn(r)
    this.#settledAt = Date.now() + 500
    this.#timer = setInterval(() => void this.#control(), CONTROL_MS)
  }

  /** The interface is going down (generators will exit) or came back up (restart them). */
  setInterfaceDown(down: boolean): void {
    this.#ifaceDown = down
    if (!down && !this.#stopped) {
      for (const r of this.#running) if (r.child === undefined) this.#spawn(r)
      this.#settledAt = Date.now() + 500
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearInterval(this.#timer)
    await Promise.all(
      this.#running.map((r) => (r.child ? stopChild(r.child, 'SIGTERM', 2000) : undefined)),
    )
  }

  #spawn(r: Running): void {
    const { place, iface, limitS } = this.#options
    const child = spawnAt(place, 'cangen', cangenArgs(iface, r.generator, r.pace), limitS, 'ignore')
    r.child = child
    let stderr = ''
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-500)
    })
    child.once('error', (error) => {
      this.lastError = `cangen: ${error.message}`
    })
    void exited(child).then(() => {
      if (r.child !== child) return
      r.child = undefined
      if (this.#stopped) return
      this.lastError = `cangen ${r.generator.name} exited: ${stderr.trim() || `code ${child.exitCode}`}`
      if (!this.#ifaceDown) {
        // exited on its own with the interface up: try again shortly
        setTimeout(() => {
          if (!this.#stopped && r.child === undefined && !this.#ifaceDown) {
            this.respawns++
            this.#spawn(r)
          }
        }, 500)
      }
    })
  }

  async #control(): Promise<void> {
    if (this.#stopped || this.#ifaceDown) return
    const to = Date.now() - LAG_MS
    const from = to - WINDOW_MS
    if (from < this.#settledAt) return
    const achieved = (this.#options.countBetween(from, to) * 1000) / WINDOW_MS
    const target = this.#options.rate
    if (!(achieved > 0) || Math.abs(achieved - target) / target <= TOLERANCE) return
    // every generator is assumed slowed by the same factor
    const factor = achieved / target
    const changed: Running[] = []
    for (const r of this.#running) {
      const share = target * r.generator.share
      // half of the measured change at a time: the measure is noisy on a busy machine
      const measured = overheadOf(r.pace, share * factor)
      r.overheadMs = Math.max(0, r.overheadMs + (measured - r.overheadMs) / 2)
      const next = pace(share, r.generator.burst, r.overheadMs)
      if (next.gapMs !== r.pace.gapMs || next.burst !== r.pace.burst) {
        r.pace = next
        changed.push(r)
      }
    }
    if (changed.length === 0) return
    this.corrections++
    this.#options.onMessage?.(
      `traffic: ${Math.round(achieved)} frames/s against ${target}: cangen re-paced (${changed.map((r) => `${r.generator.name} -g ${r.pace.gapMs} -c ${r.pace.burst}`).join(', ')})`,
    )
    // the new generators start before the old ones stop: no hole in the traffic
    const old = changed.map((r) => r.child)
    for (const r of changed) {
      r.child = undefined
      if (!this.#stopped && !this.#ifaceDown) this.#spawn(r)
    }
    await Promise.all(old.map((child) => (child ? stopChild(child, 'SIGTERM', 2000) : undefined)))
    this.#settledAt = Date.now() + 500
  }
}
