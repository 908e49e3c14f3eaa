// The soak run: a TCPBus, the edge, candump as ground truth, cangen traffic, faults on a
// schedule, live progress, then the comparison, the result and the report.
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { FRAME_FLAG } from '@canbridge/protocol'
import { type CanMessage, silentLogger, TCPBus, type TCPBusOptions } from '@canbridge/server-bus'
import { microsecondsOf } from '@canbridge/server-bus/internal'
import { analyze, type SoakResult } from './analyze.ts'
import type { BlindWindow, FlagPolicy } from './compare.ts'
import { EdgeRunner } from './edge-runner.ts'
import { EventLoopWatch } from './event-loop-watch.ts'
import { argvAt, type Place, processCpuMs, run, sleep } from './exec.ts'
import { type FaultEvent, type FaultHost, type FaultSpec, runFault } from './faults.ts'
import { FrameTable, frameText } from './frames.ts'
import { builtEdgeMain } from './locations.ts'
import type { Progress } from './progress.ts'
import { CandumpRecorder } from './recorder.ts'
import { renderReport } from './report-html.ts'
import { generatorsFor, type Shape } from './traffic.ts'
import { TrafficDriver } from './traffic-driver.ts'

export interface SoakOptions {
  durationS: number
  rate: number
  /** fail when the achieved rate is lower (0: no check) */
  minRate: number
  shapes: Shape[]
  iface: string
  faults: FaultSpec[]
  /** TCPBus port (0: any free one; the same port is reused after a server restart) */
  port: number
  listenHost: string
  /** TLS, authentication and allowed peers of the soak's TCPBus (an edge on another machine) */
  security: Pick<TCPBusOptions, 'tls' | 'auth' | 'insecure' | 'allowedPeers'>
  /** `spawn`: the soak runs the edge here; `external`: an edge already pointed at this bus */
  edge: 'spawn' | 'external'
  edgeCommand: string[]
  edgeArgs: string[]
  edgeId: string
  edgeRestartCommand?: string | undefined
  place: Place
  linkDev: string
  timestampToleranceUs: number
  flagPolicy: FlagPolicy
  drainTimeoutS: number
  outDir: string
  reportPath: string
  progress: Progress
  /** how the run was started, for the report */
  commandLine: string
}

export interface SoakRun {
  result: SoakResult
  reportPath: string
  jsonPath: string
  candumpPath: string
  /** every received frame in arrival order, in candump -L notation (diff it with candump.log) */
  receivedPath: string
}

/** The edge CLI of the installed @canbridge/edge-client if built, else canbridge-edge on PATH. */
export function defaultEdgeCommand(): string[] {
  const built = builtEdgeMain()
  return built === undefined ? ['canbridge-edge'] : [process.execPath, built]
}

export async function runSoak(options: SoakOptions): Promise<SoakRun> {
  return new Soak(options).run()
}

class Soak {
  readonly o: SoakOptions
  readonly received = new Map<string, FrameTable>()
  readonly events: FaultEvent[] = []
  readonly blind: BlindWindow[] = []
  readonly notes: string[] = []
  readonly commands: string[] = []
  bus!: TCPBus
  port = 0
  edge: EdgeRunner | undefined
  recorder!: CandumpRecorder
  traffic!: TrafficDriver
  receivedCount = 0
  phase = 'starting'
  busCounters = {
    gaps: 0,
    lost: 0,
    duplicatesDiscarded: 0,
    edgeDrops: {} as Record<string, number>,
  }
  edgeCounters: Record<string, Record<string, number>> = {}
  #consuming = false
  readonly #stopConsuming = new AbortController()
  #consumer: Promise<void> | undefined
  #busReady: Promise<void> = Promise.resolve()

  constructor(options: SoakOptions) {
    this.o = options
  }

  nowUs(): number {
    return Math.round((performance.timeOrigin + performance.now()) * 1000)
  }

  async run(): Promise<SoakRun> {
    const o = this.o
    mkdirSync(o.outDir, { recursive: true })
    const candumpPath = join(o.outDir, 'candump.log')
    const jsonPath = join(o.outDir, 'result.json')
    const receivedPath = join(o.outDir, 'received.log')
    const limitS = o.durationS + o.drainTimeoutS + 120
    let cleanup: (() => Promise<void>)[] = []
    try {
      await this.#checkInterface()
      // 1. the server
      this.bus = await this.#listen(o.port)
      this.port = (this.bus.address as { port: number }).port
      this.commands.push(
        `TCPBus.listen({ port: ${this.port}, host: ${JSON.stringify(o.listenHost)} })`,
      )
      cleanup.push(async () => {
        await this.bus.shutdown()
      })
      // 2. the ground truth
      this.recorder = new CandumpRecorder(o.place, [o.iface], candumpPath, limitS)
      this.commands.push(
        argvAt(o.place, 'candump', [
          '-L',
          '-D',
          '-d',
          '-r',
          '8388608',
          `${o.iface},0:0,#FFFFFFFF`,
        ]).join(' '),
      )
      cleanup.push(() => this.recorder.stop(0))
      await this.recorder.ready()
      // 3. the edge
      if (o.edge === 'spawn') {
        const args = [
          '--server',
          `${o.listenHost === '0.0.0.0' || o.listenHost === '::' ? '127.0.0.1' : o.listenHost}:${this.port}`,
          '--channel',
          o.iface,
          '--edge-id',
          o.edgeId,
          '--stats-interval',
          '1s',
          '--log-level',
          'info',
          '--spool-dir',
          join(o.outDir, 'spool'),
          ...o.edgeArgs,
        ]
        this.edge = new EdgeRunner({ command: o.edgeCommand, args })
        this.commands.push([...o.edgeCommand, ...args].join(' '))
        cleanup.push(async () => {
          await this.edge?.stop(10_000)
        })
        await this.edge.start()
      }
      o.progress.message(`soak: waiting for edge ${o.edgeId} on port ${this.port}`)
      await this.bus.waitForEdge({ edgeId: o.edgeId, timeoutMs: 120_000 })
      this.#consuming = true
      this.#consumer = this.#consume()
      cleanup = [
        async () => {
          this.#consuming = false
          this.#stopConsuming.abort()
          await this.#consumer
        },
        ...cleanup,
      ]
      await sleep(500)

      // 4. traffic and faults
      this.traffic = new TrafficDriver({
        place: o.place,
        iface: o.iface,
        generators: generatorsFor(o.shapes),
        rate: o.rate,
        limitS,
        countBetween: (fromMs, toMs) => this.recorder.countBetween(fromMs * 1000, toMs * 1000),
        onMessage: (text) => o.progress.message(text),
      })
      for (const c of this.traffic.commands())
        this.commands.push(`${c}   (re-paced while running to hold ${o.rate} frames/s)`)
      const cpuAtStart = this.#cpu()
      // frames received while this loop stalls are stamped late: the report says when
      const loopWatch = new EventLoopWatch()
      loopWatch.start()
      cleanup = [async () => loopWatch.stop(), ...cleanup]
      const startMs = Date.now()
      this.traffic.start()
      cleanup = [() => this.traffic.stop(), ...cleanup]
      this.phase = 'traffic'
      const ticker = this.#tick(startMs)
      const faults = this.#runFaults(startMs)
      await sleep(o.durationS * 1000)
      await faults
      await this.traffic.stop()
      const stopMs = Date.now()
      const cpuAtStop = this.#cpu()
      const cpuMs: Record<string, number> = {}
      for (const [k, v] of Object.entries(cpuAtStop)) {
        const before = cpuAtStart[k]
        if (before !== undefined) cpuMs[k] = v - before
      }
      this.phase = 'draining'
      await this.#drain(stopMs)
      const endMs = Date.now()
      await this.recorder.stop()
      this.#consuming = false
      this.#stopConsuming.abort()
      await this.#consumer
      ticker.stop()
      loopWatch.stop()
      o.progress.done()
      this.#collectBusCounters()

      if (this.traffic.lastError)
        this.notes.push(`last traffic generator message: ${this.traffic.lastError}`)
      if (this.traffic.respawns > 0)
        this.notes.push(`cangen restarted ${this.traffic.respawns} times after exiting`)
      if (this.recorder.stderr.trim())
        this.notes.push(
          `candump said: ${this.recorder.stderr.trim().split('\n').slice(-3).join(' / ')}`,
        )
      for (const w of this.edge?.warnings.slice(0, 30) ?? []) this.notes.push(`edge: ${w}`)
      this.notes.push(
        'Timestamps: the edge reads SIOCGSTAMP, candump SO_TIMESTAMP: the same kernel receive time, compared to the µs. The first frame after a CAN socket opens (edge start) carries the time of the first SIOCGSTAMP call instead (a binding limit), so an edge restart shows up as one timestamp mismatch.',
      )
      const result = analyze({
        startMs,
        stopMs,
        endMs,
        targetRate: o.rate,
        minRate: o.minRate,
        shapes: o.shapes,
        mode: this.#mode(),
        truth: this.recorder.tables,
        received: this.received,
        faults: this.events,
        blindWindows: this.blind,
        edgeSamples: this.edge?.samples ?? [],
        edgeCounters: this.edgeCounters,
        busCounters: this.busCounters,
        groundTruthDrops: this.recorder.drops,
        invalidDumpLines: this.recorder.invalid.map((l) => `${l.reason}: ${l.line}`),
        invalidDumpCount: this.recorder.invalidCount,
        compare: { timestampToleranceUs: o.timestampToleranceUs, flagPolicy: o.flagPolicy },
        commands: [o.commandLine, ...this.commands],
        notes: this.notes,
        cpuMs,
        soakStalls: loopWatch.stalls,
        extraProblems:
          (this.edge?.crashes ?? 0) > 0
            ? [
                `the edge exited ${this.edge!.crashes} times on its own: ${this.edge!.stderr.slice(-300)}`,
              ]
            : [],
      })
      this.#writeReceived(receivedPath)
      writeFileSync(jsonPath, `${JSON.stringify(result, null, 2)}\n`)
      writeFileSync(o.reportPath, renderReport(result))
      return { result, reportPath: o.reportPath, jsonPath, candumpPath, receivedPath }
    } finally {
      for (const step of cleanup) {
        try {
          await step()
        } catch {
          // best effort: the run's own outcome matters more
        }
      }
    }
  }

  #writeReceived(path: string): void {
    const fd = openSync(path, 'w')
    try {
      for (const [iface, table] of this.received) {
        let text = ''
        for (let i = 0; i < table.length; i++) {
          const ts = table.tsUs(i)
          const sec = Math.floor(ts / 1e6)
          text += `(${sec}.${String(ts - sec * 1e6).padStart(6, '0')}) ${iface} ${frameText(table.get(i))}\n`
          if (text.length > 1 << 20) {
            writeSync(fd, text)
            text = ''
          }
        }
        writeSync(fd, text)
      }
    } finally {
      closeSync(fd)
    }
  }

  /** CPU ms so far of this process and of candump (when local). */
  #cpu(): Record<string, number> {
    const usage = process.cpuUsage()
    const out: Record<string, number> = { soak: (usage.user + usage.system) / 1000 }
    if (!this.o.place.ssh) {
      const candump = processCpuMs(this.recorder.child.pid)
      if (candump !== null) out['candump'] = candump
    }
    return out
  }

  #mode(): string {
    const kernel = process.env['CANBRIDGE_KERNEL']
    const where = this.o.place.ssh
      ? `ssh ${this.o.place.ssh}`
      : kernel
        ? `kernel harness (${kernel})`
        : 'this machine'
    return `${where}, edge ${this.o.edge}`
  }

  async #checkInterface(): Promise<void> {
    const { iface, place, shapes } = this.o
    let text: string
    try {
      text = await run(argvAt(place, 'ip', ['-details', 'link', 'show', iface]))
    } catch (error) {
      throw new Error(`interface ${iface} is not there: ${(error as Error).message}`)
    }
    const mtu = Number(/ mtu (\d+)/.exec(text)?.[1] ?? 0)
    const needsFd = generatorsFor(shapes).some((g) => g.fd)
    if (needsFd && mtu < 72) {
      throw new Error(
        `${iface} has MTU ${mtu}: CAN FD traffic needs 72 (ip link set ${iface} mtu 72)`,
      )
    }
    if (!/state (UP|UNKNOWN)/.test(text) && !/<[^>]*\bUP\b/.test(text)) {
      throw new Error(`${iface} is down (ip link set ${iface} up)`)
    }
    if (!place.ssh) {
      try {
        const rmem = Number(readFileSync('/proc/sys/net/core/rmem_default', 'utf8'))
        if (rmem < 1_000_000) {
          this.notes.push(
            `net.core.rmem_default is ${rmem}: the edge's CAN socket holds few frames (raise it: sysctl -w net.core.rmem_default=4194304)`,
          )
        }
      } catch {
        // not Linux /proc: nothing to say
      }
    }
  }

  async #listen(port: number): Promise<TCPBus> {
    const bus = await TCPBus.listen({
      port,
      host: this.o.listenHost,
      ...this.o.security,
      logger: silentLogger,
    })
    bus.on('gap', (gap) =>
      this.o.progress.message(`soak: TCPBus saw ${gap.missing} frames missing on ${gap.channel}`),
    )
    bus.on('drops', (drops) =>
      this.o.progress.message(
        `soak: the edge reported ${drops.count} frames dropped (${drops.reason})`,
      ),
    )
    return bus
  }

  #collectBusCounters(): void {
    const stats = this.bus.stats()
    for (const [name, channel] of Object.entries(stats.channels)) {
      this.busCounters.gaps += channel.gaps
      this.busCounters.lost += channel.lost
      this.busCounters.duplicatesDiscarded += channel.duplicates
      for (const [reason, count] of Object.entries(channel.edgeDrops)) {
        this.busCounters.edgeDrops[reason] = (this.busCounters.edgeDrops[reason] ?? 0) + count
      }
      if (Object.keys(channel.edgeCounters).length > 0)
        this.edgeCounters[name] = channel.edgeCounters
    }
  }

  #record(batch: readonly CanMessage[]): void {
    if (batch.length === 0) return
    const at = this.nowUs()
    for (const m of batch) {
      const channel = m.channel ?? ''
      const iface = channel.slice(channel.indexOf('/') + 1)
      let table = this.received.get(iface)
      if (table === undefined) {
        table = new FrameTable()
        this.received.set(iface, table)
      }
      const flags =
        (m.isExtendedId ? FRAME_FLAG.EXT : 0) |
        (m.isRemoteFrame ? FRAME_FLAG.RTR : 0) |
        (m.isErrorFrame ? FRAME_FLAG.ERR : 0) |
        (m.isFd ? FRAME_FLAG.FD : 0) |
        (m.bitrateSwitch ? FRAME_FLAG.BRS : 0) |
        (m.errorStateIndicator ? FRAME_FLAG.ESI : 0)
      // whole µs truncated from the exact ns, as candump prints them (the float timestamp
      // cannot hold nanoseconds: its last µs digit may be off by one)
      table.push(microsecondsOf(m), m.arbitrationId, flags, m.dlc, m.data, at)
    }
    this.receivedCount += batch.length
  }

  async #consume(): Promise<void> {
    while (this.#consuming) {
      await this.#busReady
      const bus = this.bus
      if (bus.isShutdown) {
        await sleep(20)
        continue
      }
      // no timeout: no timer per call; an abort ends the wait at the end of the run
      this.#record(await bus.recvBatch({ maxFrames: 4096, signal: this.#stopConsuming.signal }))
    }
    // whatever is still queued
    if (!this.bus.isShutdown)
      this.#record(await this.bus.recvBatch({ maxFrames: 1 << 30, timeoutMs: 0 }))
  }

  /** Server restart: take every queued frame (they are acknowledged), close, wait, reopen. */
  async #restartServer(downMs: number): Promise<string> {
    const old = this.bus
    let reopened: () => void = () => {}
    this.#busReady = new Promise((resolve) => {
      reopened = resolve
    })
    // recvBatch takes what is queued synchronously, and shutdown closes the queue in the same
    // tick: no acknowledged frame is left behind in the closed queue.
    const drained = old.recvBatch({ maxFrames: 1 << 30, timeoutMs: 0 })
    const closing = old.shutdown()
    const frames = await drained
    this.#record(frames)
    await closing
    this.#collectBusCounters()
    await sleep(downMs)
    this.bus = await this.#listen(this.port)
    reopened()
    const back = Date.now()
    try {
      await this.bus.waitForEdge({ edgeId: this.o.edgeId, timeoutMs: 60_000 })
    } catch {
      return `down ${downMs} ms; the edge did not come back within 60 s`
    }
    return `down ${downMs} ms (${frames.length} queued frames taken first); edge back ${Date.now() - back} ms after reopening`
  }

  async #restartEdge(pauseMs: number, label: string): Promise<string> {
    const startUs = this.nowUs()
    if (this.edge) {
      const code = await this.edge.stop()
      await sleep(pauseMs)
      await this.edge.start()
      this.blind.push({ startUs, endUs: this.nowUs(), label })
      await this.bus.waitForEdge({ edgeId: this.o.edgeId, timeoutMs: 60_000 })
      return `SIGTERM, exit ${code}, restarted after ${pauseMs} ms; no edge read the bus for ${Math.round((this.blind.at(-1)!.endUs - startUs) / 1000)} ms`
    }
    if (!this.o.edgeRestartCommand)
      throw new Error('edge-restart needs --edge-restart-cmd with an external edge')
    const before = new Set(this.bus.edges.map((e) => e.instanceId))
    const connected = new Promise<void>((resolve) => {
      const on = (info: { instanceId: string }) => {
        if (!before.has(info.instanceId)) {
          this.bus.off('edgeConnected', on)
          resolve()
        }
      }
      this.bus.on('edgeConnected', on)
    })
    await run(['sh', '-c', this.o.edgeRestartCommand], 120_000)
    await Promise.race([connected, sleep(120_000)])
    this.blind.push({ startUs, endUs: this.nowUs(), label })
    return `ran ${this.o.edgeRestartCommand}; edge back after ${Math.round((this.nowUs() - startUs) / 1000)} ms`
  }

  async #runFaults(startMs: number): Promise<void> {
    const counts = new Map<string, number>()
    const host: FaultHost = {
      runLocal: async (command, args) => {
        await run([command, ...args])
      },
      runEdgeSide: async (command, args) => {
        await run(argvAt(this.o.place, command, args))
      },
      restartServer: (downMs) => this.#restartServer(downMs),
      restartEdge: (pauseMs) => this.#restartEdge(pauseMs, currentLabel),
      interfaceState: (down) => this.traffic.setInterfaceDown(down),
      iface: this.o.iface,
      linkDev: this.o.linkDev,
      port: this.port,
      sleep,
      now: () => Date.now(),
    }
    let currentLabel = ''
    for (const spec of this.o.faults) {
      const wait = startMs + spec.atMs - Date.now()
      if (wait > 0) await sleep(wait)
      const k = (counts.get(spec.kind) ?? 0) + 1
      counts.set(spec.kind, k)
      currentLabel = `${spec.kind} #${k}`
      this.phase = currentLabel
      this.o.progress.message(
        `soak: ${currentLabel} begins at ${((Date.now() - startMs) / 1000).toFixed(1)} s`,
      )
      const event = await runFault(spec, currentLabel, host)
      this.events.push(event)
      this.o.progress.message(
        `soak: ${currentLabel} over after ${((event.endMs - event.startMs) / 1000).toFixed(1)} s: ${event.error ? `FAILED: ${event.error}` : event.detail}`,
      )
      this.phase = 'traffic'
    }
  }

  #tick(startMs: number): { stop(): void } {
    let lastSent = this.recorder.count
    let lastReceived = this.receivedCount
    let lastAt = performance.now()
    const timer = setInterval(() => {
      const now = performance.now()
      const dt = Math.max(1, now - lastAt) / 1000
      const sent = this.recorder.count
      const received = this.receivedCount
      this.o.progress.update({
        elapsedMs: Date.now() - startMs,
        durationMs: this.o.durationS * 1000,
        sent,
        received,
        sentRate: (sent - lastSent) / dt,
        receivedRate: (received - lastReceived) / dt,
        phase: this.phase,
        connected: !this.bus.isShutdown && this.bus.edges.length > 0,
      })
      lastSent = sent
      lastReceived = received
      lastAt = now
    }, 1000)
    return { stop: () => clearInterval(timer) }
  }

  /** Waits until the edge has handed over everything: nothing new for 2 s and its ring and spool empty. */
  async #drain(stopMs: number): Promise<void> {
    const deadline = stopMs + this.o.drainTimeoutS * 1000
    let last = -1
    let lastTruth = -1
    let stableSince = Date.now()
    await sleep(1000)
    while (Date.now() < deadline) {
      const received = this.receivedCount
      const truth = this.recorder.count
      if (received !== last || truth !== lastTruth) {
        last = received
        lastTruth = truth
        stableSince = Date.now()
      }
      const counters = this.bus.isShutdown ? undefined : Object.values(this.bus.stats().channels)
      const empty =
        counters?.every(
          (c) =>
            c.connected &&
            (c.edgeCounters['ringBytes'] ?? 0) === 0 &&
            (c.edgeCounters['spoolBytes'] ?? 0) === 0,
        ) ?? false
      if (received >= truth && empty) return
      if (Date.now() - stableSince >= 3000 && empty) return
      await sleep(250)
    }
    this.notes.push(
      `the drain did not settle within ${this.o.drainTimeoutS} s after the traffic stopped`,
    )
  }
}
