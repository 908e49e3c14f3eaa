// Where the monitor's frames come from: edges connecting to a TCPBus (the default), a
// socketcand server, a log file replayed with its timing, or a fleet in NATS JetStream.
// Each gives batches of messages and says how its link is.
import { type FleetClient, type FrameSelection, LossCounter } from '@canbridge/fleet'
import { type Bus, type CanMessage, LogReader, type TCPBus } from '@canbridge/server-bus'
import type { Health } from './monitor-server.ts'

export type LinkHealth = Omit<Health, 'latencyMs' | 'framesPerSecond'>

export interface MonitorSource {
  /** batches of frames until the source ends or `close()` */
  batches(): AsyncIterable<CanMessage[]>
  health(): LinkHealth
  close(): Promise<void>
}

/** Edges streaming into a TCPBus: sequence gaps, their drop reports and lost frames. */
export class TcpBusSource implements MonitorSource {
  readonly #bus: TCPBus
  readonly #where: string

  constructor(bus: TCPBus, where: string) {
    this.#bus = bus
    this.#where = where
  }

  batches(): AsyncIterable<CanMessage[]> {
    return this.#bus.batches({ maxFrames: 4096 })
  }

  health(): LinkHealth {
    const stats = this.#bus.stats()
    let gaps = 0
    let lost = 0
    const drops: Record<string, number> = {}
    for (const channel of Object.values(stats.channels)) {
      gaps += channel.gaps
      lost += channel.lost
      for (const [reason, count] of Object.entries(channel.edgeDrops)) {
        drops[reason] = (drops[reason] ?? 0) + count
      }
    }
    return {
      source: `edges on ${this.#where}`,
      state: this.#bus.state,
      edges: this.#bus.edges.map((e) => ({ edgeId: e.edgeId, peer: e.peer, channels: e.channels })),
      gaps,
      drops,
      lost,
    }
  }

  close(): Promise<void> {
    return this.#bus.shutdown()
  }
}

/** A socketcand server's channel (no sequence numbers: nothing to count lost). */
export class BusSource implements MonitorSource {
  readonly #bus: Pick<Bus, 'batches' | 'state' | 'shutdown'>
  readonly #describe: string

  constructor(bus: Pick<Bus, 'batches' | 'state' | 'shutdown'>, describe: string) {
    this.#bus = bus
    this.#describe = describe
  }

  batches(): AsyncIterable<CanMessage[]> {
    return this.#bus.batches({ maxFrames: 4096 })
  }

  health(): LinkHealth {
    return {
      source: this.#describe,
      state: this.#bus.state,
      edges: [],
      gaps: 0,
      drops: {},
      lost: 0,
    }
  }

  close(): Promise<void> {
    return this.#bus.shutdown()
  }
}

/** A log file, replayed with the gaps between its frames (divided by `speed`), maybe looped. */
export class LogSource implements MonitorSource {
  readonly #file: string
  readonly #speed: number
  readonly #loop: boolean
  #closed = false
  #state = 'active'
  #wake: (() => void) | undefined

  constructor(file: string, speed: number, loop: boolean) {
    this.#file = file
    this.#speed = speed
    this.#loop = loop
  }

  async *batches(): AsyncGenerator<CanMessage[]> {
    do {
      let first: number | undefined
      const started = performance.now()
      for await (const message of new LogReader(this.#file)) {
        if (this.#closed) return
        first ??= message.timestamp
        const due = started + ((message.timestamp - first) * 1000) / this.#speed
        const wait = due - performance.now()
        if (wait > 1) await this.#sleep(wait)
        if (this.#closed) return
        yield [message]
      }
    } while (this.#loop && !this.#closed)
    this.#state = 'stopped'
  }

  health(): LinkHealth {
    return {
      source: `log ${this.#file}`,
      state: this.#state,
      edges: [],
      gaps: 0,
      drops: {},
      lost: 0,
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#wake?.()
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms)
      this.#wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }
}

/** A fleet: frames of the chosen edges and channels out of JetStream, from now. */
export class FleetSource implements MonitorSource {
  readonly #fleet: FleetClient
  readonly #selection: FrameSelection
  readonly #describe: string
  #gaps = 0
  /** a gap and the drop report for it are one loss, in either order */
  readonly #losses = new LossCounter()
  readonly #drops: Record<string, number> = {}
  readonly #edges = new Set<string>()

  constructor(fleet: FleetClient, selection: FrameSelection, describe: string) {
    this.#fleet = fleet
    this.#selection = selection
    this.#describe = describe
    fleet.on('gap', (gap) => {
      this.#gaps += gap.count
      this.#losses.gap(gap)
    })
    fleet.on('drop', (drop) => {
      this.#drops[drop.reason] = (this.#drops[drop.reason] ?? 0) + drop.count
      this.#losses.drop(drop)
    })
  }

  async *batches(): AsyncGenerator<CanMessage[]> {
    for await (const frames of this.#fleet.frameBatches(this.#selection)) {
      if (frames[0] !== undefined) this.#edges.add(frames[0].edgeId)
      yield frames
    }
  }

  health(): LinkHealth {
    return {
      source: this.#describe,
      state: 'active',
      edges: [...this.#edges].map((edgeId) => ({ edgeId, peer: 'fleet', channels: [] })),
      gaps: this.#gaps,
      drops: { ...this.#drops },
      lost: this.#losses.total,
    }
  }

  close(): Promise<void> {
    return this.#fleet.close()
  }
}
