// Turns what a soak recorded (ground truth, received frames, fault events, edge samples) into
// its result: the comparison per interface, latency, throughput and edge figures over time,
// each fault's cost, and the verdict. Pure.

import { FRAME_FLAG } from '@canbridge/protocol'
import {
  type BlindWindow,
  type CompareOptions,
  type CompareResult,
  type CorruptField,
  compareFrames,
} from './compare.ts'
import type { EdgeSample } from './edge-runner.ts'
import { DEFAULT_STALL_THRESHOLD_MS, type EventLoopStall } from './event-loop-watch.ts'
import type { FaultEvent } from './faults.ts'
import { FrameTable, frameText } from './frames.ts'
import {
  countPerSecond,
  type HistogramBin,
  type LatencySummary,
  logHistogram,
  perSecond,
  summarize,
} from './latency.ts'

export interface AnalysisInput {
  /** ms since the epoch: traffic started / stopped; the end of the drain */
  startMs: number
  stopMs: number
  endMs: number
  targetRate: number
  minRate: number
  shapes: readonly string[]
  mode: string
  truth: ReadonlyMap<string, FrameTable>
  received: ReadonlyMap<string, FrameTable>
  faults: readonly FaultEvent[]
  blindWindows: readonly BlindWindow[]
  edgeSamples: readonly EdgeSample[]
  /** the edge's counters as last reported over the protocol (STATS), per channel */
  edgeCounters: Record<string, Record<string, number>>
  /**
   * what the TCPBus itself saw: sequence gaps, duplicates it discarded, drops the edge
   * reported, and `lost`, the gaps and drops with each lost frame counted once
   */
  busCounters: {
    gaps: number
    lost: number
    duplicatesDiscarded: number
    edgeDrops: Record<string, number>
  }
  groundTruthDrops: number
  invalidDumpLines: readonly string[]
  invalidDumpCount: number
  compare: CompareOptions
  commands: readonly string[]
  notes: readonly string[]
  /** CPU ms used while the traffic ran, per process kind (this soak, candump, cangen) */
  cpuMs?: Record<string, number> | undefined
  /** moments this process's event loop ran late (frames received then are stamped late) */
  soakStalls?: readonly EventLoopStall[] | undefined
  /** failures the run itself saw (e.g. the edge exited on its own) */
  extraProblems?: readonly string[] | undefined
}

export interface FaultCost extends FaultEvent {
  /** frames put on the bus while the fault lasted */
  framesDuring: number
  /** frames on the bus while no edge ran (edge restarts): not captured by anyone */
  missed: number
  /** truth frames of the window lost anyway (counted in `lost`) */
  lostDuring: number
  /** when the last frame sent during the fault was received (ms since the epoch) */
  drainedAtMs: number
  /** drainedAt − end: how long after the fault was lifted until the backlog was through */
  recoveryMs: number
  /** worst latency of frames sent between the fault's start and the drain */
  maxLatencyMs: number
  /** most bytes in the edge's disk spool meanwhile (null without edge samples) */
  spoolPeakBytes: number | null
}

export interface EdgeFigures {
  /** edge processes started (1 + restarts) */
  instances: number
  rssStartBytes: number | null
  rssEndBytes: number | null
  rssGrowthPct: number | null
  cpuMsPer1000Frames: number | null
  reconnects: number | null
  spoolPeakBytes: number | null
  drops: number | null
  /** which instance the RSS and CPU figures are of (the longest-lived) */
  measuredInstance: number | null
  measuredSeconds: number | null
}

export interface ChannelSummary {
  iface: string
  sent: number
  received: number
  lost: number
  duplicated: number
  reordered: number
  corrupted: number
  missed: number
  timestampMismatches: number
  flagLimitDiffs: number
}

/** What the ground truth held: proof of the traffic's mix. */
export interface TrafficMix {
  standard: number
  extended: number
  remote: number
  error: number
  fd: number
  fdBrs: number
  fdEsi: number
  /** frames per data length (bytes) */
  lengths: Record<string, number>
}

export interface SoakResult {
  ok: boolean
  problems: string[]
  startedAt: string
  mode: string
  shapes: string[]
  durationS: number
  targetRate: number
  achievedRate: number
  sent: number
  received: number
  /** received frames paired with a ground-truth frame */
  compared: number
  lost: number
  duplicated: number
  reordered: number
  corrupted: number
  corruptedFields: Record<CorruptField, number>
  unexpected: number
  missedWhileEdgeDown: number
  timestampMismatches: number
  maxTimestampDiffUs: number
  timestampToleranceUs: number
  flagPolicy: string
  flagLimitDiffs: number
  groundTruthDrops: number
  invalidDumpLines: number
  p50LatencyMs: number
  p99LatencyMs: number
  maxLatencyMs: number
  latency: { all: LatencySummary; steady: LatencySummary }
  faults: FaultCost[]
  edge: EdgeFigures
  edgeCounters: Record<string, Record<string, number>>
  bus: AnalysisInput['busCounters']
  channels: ChannelSummary[]
  traffic: TrafficMix
  /** CPU ms used while the traffic ran, per process (the edge's is in `edge`) */
  cpuMs: Record<string, number>
  /**
   * the edge's CPU per frame over candump's on the same bus (candump reads every frame sent
   * while the traffic ran), or null when either is unknown (candump over ssh, no frames)
   */
  cpuPerFrameVsCandump: number | null
  /** the soak's own event loop ran late this often, ms (from the start to the end of the drain) */
  soakStalls: { count: number; maxMs: number; totalMs: number; thresholdMs: number }
  series: {
    /** seconds since the start of the traffic */
    t: number[]
    sent: number[]
    received: number[]
    latencyP50: number[]
    latencyP99: number[]
    latencyMax: number[]
    /** edge samples: seconds since start, RSS MiB, spool KiB */
    edgeT: number[]
    edgeRssMiB: number[]
    edgeSpoolKiB: number[]
    /** the longest stall of the soak's own event loop that began in each second, ms */
    soakStallMs: number[]
  }
  histogram: HistogramBin[]
  examples: Record<string, string[]>
  commands: string[]
  notes: string[]
}

export function analyze(input: AnalysisInput): SoakResult {
  const comparisons = new Map<string, CompareResult>()
  const latencies: number[] = []
  const latencyTimes: number[] = []
  const receiptTimes: number[] = []
  const sentTimes: number[] = []
  const examples: Record<string, string[]> = {
    lost: [],
    duplicated: [],
    reordered: [],
    corrupted: [],
    timestamp: [],
  }
  const channels: ChannelSummary[] = []
  const ifaces = new Set([...input.truth.keys(), ...input.received.keys()])
  for (const iface of [...ifaces].sort()) {
    const truth = input.truth.get(iface) ?? new FrameTable()
    const received = input.received.get(iface) ?? new FrameTable()
    const result = compareFrames(truth, received, {
      ...input.compare,
      blindWindows: input.blindWindows,
    })
    comparisons.set(iface, result)
    for (let t = 0; t < truth.length; t++) sentTimes.push(truth.tsUs(t) / 1000)
    for (let r = 0; r < received.length; r++) {
      receiptTimes.push(received.atUs(r) / 1000)
      const t = result.matchOf[r]!
      if (t < 0) continue
      latencies.push((received.atUs(r) - truth.tsUs(t)) / 1000)
      latencyTimes.push(truth.tsUs(t) / 1000)
    }
    const show = (table: FrameTable, i: number) =>
      `${(table.tsUs(i) / 1e6).toFixed(6)} ${iface} ${frameText(table.get(i))}`
    for (const t of result.examples.lost) examples['lost']!.push(`lost: ${show(truth, t)}`)
    for (const d of result.examples.duplicated) {
      examples['duplicated']!.push(`received again as #${d.received}: ${show(truth, d.truth)}`)
    }
    for (const r of result.examples.reordered) {
      examples['reordered']!.push(
        `received #${r} out of order: ${show(received, r)} (truth #${result.matchOf[r]})`,
      )
    }
    for (const c of result.examples.corrupted) {
      examples['corrupted']!.push(
        c.truth < 0
          ? `unexpected: ${show(received, c.received)}`
          : `${c.fields.join('+')}: sent ${show(truth, c.truth)}, received ${show(received, c.received)}`,
      )
    }
    for (const x of result.examples.timestamp) {
      examples['timestamp']!.push(
        `${x.diffUs > 0 ? '+' : ''}${x.diffUs} µs: ${show(truth, x.truth)}`,
      )
    }
    channels.push({
      iface,
      sent: truth.length,
      received: received.length,
      lost: result.lost,
      duplicated: result.duplicated,
      reordered: result.reordered,
      corrupted: result.corrupted,
      missed: result.missedBlind,
      timestampMismatches: result.timestampMismatches,
      flagLimitDiffs: result.flagLimitDiffs,
    })
  }
  const total = (pick: (r: CompareResult) => number) =>
    [...comparisons.values()].reduce((n, r) => n + pick(r), 0)

  // faults and what they cost
  const faults: FaultCost[] = input.faults.map((fault) => {
    let framesDuring = 0
    let drainedAtMs = fault.endMs
    let lostDuring = 0
    for (const [iface, result] of comparisons) {
      const truth = input.truth.get(iface)
      const received = input.received.get(iface)
      if (!truth || !received) continue
      for (let t = 0; t < truth.length; t++) {
        const ms = truth.tsUs(t) / 1000
        if (ms < fault.startMs || ms > fault.endMs) continue
        framesDuring++
        const r = result.receivedOf[t]!
        if (r >= 0) drainedAtMs = Math.max(drainedAtMs, received.atUs(r) / 1000)
        else if (
          !input.blindWindows.some(
            (w) => w.label === fault.label && ms * 1000 >= w.startUs && ms * 1000 <= w.endUs,
          )
        )
          lostDuring++
      }
    }
    let maxLatencyMs = 0
    for (let i = 0; i < latencies.length; i++) {
      const at = latencyTimes[i]!
      if (at >= fault.startMs && at <= drainedAtMs)
        maxLatencyMs = Math.max(maxLatencyMs, latencies[i]!)
    }
    const spool = input.edgeSamples.filter(
      (s) => s.atMs >= fault.startMs && s.atMs <= drainedAtMs + 2000,
    )
    return {
      ...fault,
      framesDuring,
      missed: total((r) => r.missedByWindow[fault.label] ?? 0),
      lostDuring,
      drainedAtMs,
      recoveryMs: Math.max(0, drainedAtMs - fault.endMs),
      maxLatencyMs,
      spoolPeakBytes: spool.length === 0 ? null : Math.max(...spool.map((s) => s.spoolBytes)),
    }
  })

  // latency: all, and steady state (frames sent outside any fault and its drain)
  const steady: number[] = []
  for (let i = 0; i < latencies.length; i++) {
    const at = latencyTimes[i]!
    if (!faults.some((f) => at >= f.startMs && at <= f.drainedAtMs)) steady.push(latencies[i]!)
  }
  const all = summarize(latencies)

  const stalls = (input.soakStalls ?? []).filter(
    (s) => s.atMs >= input.startMs && s.atMs <= input.endMs,
  )

  // time series, per second of the run
  const seconds = Math.max(1, Math.ceil((input.endMs - input.startMs) / 1000))
  const lat = perSecond(latencyTimes, latencies, input.startMs, seconds)
  const edgeFirst = input.edgeSamples.filter((s) => s.atMs >= input.startMs - 1000)
  const series: SoakResult['series'] = {
    t: Array.from({ length: seconds }, (_, i) => i),
    sent: countPerSecond(sentTimes, input.startMs, seconds),
    received: countPerSecond(receiptTimes, input.startMs, seconds),
    latencyP50: lat.map((b) => round(b.p50, 3)),
    latencyP99: lat.map((b) => round(b.p99, 3)),
    latencyMax: lat.map((b) => round(b.max, 3)),
    edgeT: edgeFirst.map((s) => round((s.atMs - input.startMs) / 1000, 2)),
    edgeRssMiB: edgeFirst.map((s) => round(s.rssBytes / 1048576, 2)),
    edgeSpoolKiB: edgeFirst.map((s) => round(s.spoolBytes / 1024, 1)),
    soakStallMs: stallsPerSecond(stalls, input.startMs, seconds),
  }

  const sent = total((r) => r.truthFrames)
  const runS = Math.max(0.001, (input.stopMs - input.startMs) / 1000)
  const inRun = sentTimes.filter((ms) => ms >= input.startMs && ms <= input.stopMs).length
  const achievedRate = round(inRun / runS, 1)
  const edge = edgeFigures(input.edgeSamples, input.startMs, input.stopMs)

  const result: SoakResult = {
    ok: false,
    problems: [],
    startedAt: new Date(input.startMs).toISOString(),
    mode: input.mode,
    shapes: [...input.shapes],
    durationS: round(runS, 1),
    targetRate: input.targetRate,
    achievedRate,
    sent,
    received: total((r) => r.receivedFrames),
    compared: total((r) => r.matched),
    lost: total((r) => r.lost),
    duplicated: total((r) => r.duplicated),
    reordered: total((r) => r.reordered),
    corrupted: total((r) => r.corrupted),
    corruptedFields: {
      id: total((r) => r.corruptedFields.id),
      flags: total((r) => r.corruptedFields.flags),
      len: total((r) => r.corruptedFields.len),
      data: total((r) => r.corruptedFields.data),
    },
    unexpected: total((r) => r.unexpected),
    missedWhileEdgeDown: total((r) => r.missedBlind),
    timestampMismatches: total((r) => r.timestampMismatches),
    maxTimestampDiffUs: Math.max(0, ...[...comparisons.values()].map((r) => r.maxTimestampDiffUs)),
    timestampToleranceUs: input.compare.timestampToleranceUs ?? 0,
    flagPolicy: input.compare.flagPolicy ?? 'exact',
    flagLimitDiffs: total((r) => r.flagLimitDiffs),
    groundTruthDrops: input.groundTruthDrops,
    invalidDumpLines: input.invalidDumpCount,
    p50LatencyMs: round(all.p50, 3),
    p99LatencyMs: round(all.p99, 3),
    maxLatencyMs: round(all.max, 3),
    latency: { all: roundSummary(all), steady: roundSummary(summarize(steady)) },
    faults,
    edge,
    edgeCounters: input.edgeCounters,
    bus: input.busCounters,
    channels,
    traffic: trafficMix(input.truth),
    cpuMs: input.cpuMs ?? {},
    cpuPerFrameVsCandump: cpuRatio(edge.cpuMsPer1000Frames, input.cpuMs?.['candump'], inRun),
    soakStalls: {
      count: stalls.length,
      maxMs: stalls.reduce((max, s) => Math.max(max, s.ms), 0),
      totalMs: stalls.reduce((sum, s) => sum + s.ms, 0),
      thresholdMs: DEFAULT_STALL_THRESHOLD_MS,
    },
    series,
    histogram: logHistogram(latencies, 0.1, 10),
    examples,
    commands: [...input.commands],
    notes: [...input.notes],
  }
  result.problems = problemsOf(result, input)
  result.ok = result.problems.length === 0
  return result
}

function problemsOf(r: SoakResult, input: AnalysisInput): string[] {
  const problems: string[] = []
  if (r.sent === 0) problems.push('no frames were put on the bus')
  if (r.lost > 0) problems.push(`${r.lost} frames lost`)
  if (r.duplicated > 0) problems.push(`${r.duplicated} frames duplicated`)
  if (r.reordered > 0) problems.push(`${r.reordered} frames reordered`)
  if (r.corrupted > 0) problems.push(`${r.corrupted} frames corrupted or unexpected`)
  // the edge stamps every frame with the kernel's receive time: any other time is a fault
  if (r.timestampMismatches > 0)
    problems.push(
      `${r.timestampMismatches} frames with a timestamp other than candump's (tolerance ${r.timestampToleranceUs} µs)`,
    )
  if (r.groundTruthDrops > 0)
    problems.push(`candump dropped ${r.groundTruthDrops} frames: the ground truth is incomplete`)
  if (r.invalidDumpLines > 0) {
    problems.push(
      `${r.invalidDumpLines} candump lines could not be parsed (${input.invalidDumpLines[0] ?? ''})`,
    )
  }
  for (const f of r.faults) if (f.error) problems.push(`fault ${f.label} failed: ${f.error}`)
  problems.push(...(input.extraProblems ?? []))
  if (input.minRate > 0 && r.achievedRate < input.minRate) {
    problems.push(`achieved ${r.achievedRate} frames/s, below the required ${input.minRate}`)
  }
  return problems
}

export function trafficMix(truth: ReadonlyMap<string, FrameTable>): TrafficMix {
  const mix: TrafficMix = {
    standard: 0,
    extended: 0,
    remote: 0,
    error: 0,
    fd: 0,
    fdBrs: 0,
    fdEsi: 0,
    lengths: {},
  }
  for (const table of truth.values()) {
    for (let i = 0; i < table.length; i++) {
      const f = table.flags(i)
      if (f & FRAME_FLAG.ERR) mix.error++
      else if (f & FRAME_FLAG.EXT) mix.extended++
      else mix.standard++
      if (f & FRAME_FLAG.RTR) mix.remote++
      if (f & FRAME_FLAG.FD) mix.fd++
      if (f & FRAME_FLAG.BRS) mix.fdBrs++
      if (f & FRAME_FLAG.ESI) mix.fdEsi++
      const len = String(table.len(i))
      mix.lengths[len] = (mix.lengths[len] ?? 0) + 1
    }
  }
  return mix
}

/** The longest stall that began in each second after `startMs`. */
function stallsPerSecond(
  stalls: readonly EventLoopStall[],
  startMs: number,
  seconds: number,
): number[] {
  const out = new Array<number>(seconds).fill(0)
  for (const stall of stalls) {
    const second = Math.floor((stall.atMs - startMs) / 1000)
    if (second >= 0 && second < seconds) out[second] = Math.max(out[second]!, stall.ms)
  }
  return out
}

function edgeFigures(samples: readonly EdgeSample[], startMs: number, stopMs: number): EdgeFigures {
  const none: EdgeFigures = {
    instances: new Set(samples.map((s) => s.instance)).size,
    rssStartBytes: null,
    rssEndBytes: null,
    rssGrowthPct: null,
    cpuMsPer1000Frames: null,
    reconnects: null,
    spoolPeakBytes: null,
    drops: null,
    measuredInstance: null,
    measuredSeconds: null,
  }
  const during = samples.filter((s) => s.atMs >= startMs && s.atMs <= stopMs)
  if (during.length === 0) return none
  // the longest-lived instance during the traffic; its first sample after a warm-up
  const byInstance = new Map<number, EdgeSample[]>()
  for (const s of during) byInstance.set(s.instance, [...(byInstance.get(s.instance) ?? []), s])
  let best: EdgeSample[] = []
  for (const list of byInstance.values()) if (list.length > best.length) best = list
  const warm = Math.min(best.length - 1, Math.max(1, Math.floor(best.length * 0.05)))
  const first = best[warm]!
  const last = best[best.length - 1]!
  const frames = last.framesRead - first.framesRead
  let reconnects = 0
  for (const list of byInstance.values()) reconnects += list[list.length - 1]!.reconnects
  return {
    instances: none.instances,
    rssStartBytes: first.rssBytes,
    rssEndBytes: last.rssBytes,
    rssGrowthPct: round(((last.rssBytes - first.rssBytes) / first.rssBytes) * 100, 1),
    cpuMsPer1000Frames: frames > 0 ? round(((last.cpuMs - first.cpuMs) / frames) * 1000, 2) : null,
    reconnects,
    spoolPeakBytes: Math.max(...during.map((s) => s.spoolBytes)),
    drops: Math.max(...during.map((s) => s.drops)),
    measuredInstance: first.instance,
    measuredSeconds: round((last.atMs - first.atMs) / 1000, 1),
  }
}

function round(x: number, digits: number): number {
  if (!Number.isFinite(x)) return x
  const f = 10 ** digits
  return Math.round(x * f) / f
}

function roundSummary(s: LatencySummary): LatencySummary {
  return {
    count: s.count,
    min: round(s.min, 3),
    mean: round(s.mean, 3),
    p50: round(s.p50, 3),
    p90: round(s.p90, 3),
    p99: round(s.p99, 3),
    p999: round(s.p999, 3),
    max: round(s.max, 3),
  }
}

/** The summary table printed at the end. */
/** The edge's CPU per frame over candump's, from the edge's ms per 1,000 and candump's ms for `frames`. */
function cpuRatio(
  edgeMsPer1000: number | null,
  candumpMs: number | undefined,
  frames: number,
): number | null {
  if (edgeMsPer1000 === null || candumpMs === undefined || candumpMs <= 0 || frames <= 0)
    return null
  return round(edgeMsPer1000 / ((candumpMs / frames) * 1000), 2)
}

export function formatSummary(r: SoakResult): string {
  const rows: [string, string][] = [
    ['verdict', r.ok ? 'PASS' : `FAIL: ${r.problems.join('; ')}`],
    ['mode / shapes', `${r.mode} / ${r.shapes.join(',')}`],
    ['duration', `${r.durationS} s at ${r.achievedRate} frames/s (target ${r.targetRate})`],
    [
      'traffic mix',
      `${n(r.traffic.standard)} standard, ${n(r.traffic.extended)} extended, ${n(r.traffic.fd)} FD (${n(r.traffic.fdBrs)} BRS, ${n(r.traffic.fdEsi)} ESI), ${n(r.traffic.remote)} remote; ${Object.keys(r.traffic.lengths).length} lengths`,
    ],
    ['sent (on the bus)', n(r.sent)],
    ['received', n(r.received)],
    ['compared', n(r.compared)],
    ['lost', n(r.lost)],
    ['duplicated', n(r.duplicated)],
    ['reordered', n(r.reordered)],
    [
      'corrupted',
      `${n(r.corrupted)} (id ${r.corruptedFields.id}, flags ${r.corruptedFields.flags}, len ${r.corruptedFields.len}, data ${r.corruptedFields.data}, unexpected ${r.unexpected})`,
    ],
    ['missed while edge down', n(r.missedWhileEdgeDown)],
    [
      'timestamp mismatches',
      `${n(r.timestampMismatches)} (tolerance ${r.timestampToleranceUs} µs, max |diff| ${n(r.maxTimestampDiffUs)} µs)`,
    ],
    ['flag diffs forgiven (--binding-limits)', `${n(r.flagLimitDiffs)} (policy ${r.flagPolicy})`],
    ['candump drops', n(r.groundTruthDrops)],
    ['latency p50 / p99 / max', `${r.p50LatencyMs} / ${r.p99LatencyMs} / ${r.maxLatencyMs} ms`],
    [
      'steady p50 / p99 / max',
      `${r.latency.steady.p50} / ${r.latency.steady.p99} / ${r.latency.steady.max} ms`,
    ],
    [
      'edge RSS start → end',
      r.edge.rssStartBytes === null
        ? 'n/a'
        : `${mib(r.edge.rssStartBytes)} → ${mib(r.edge.rssEndBytes!)} MiB (${r.edge.rssGrowthPct}%)`,
    ],
    [
      'edge CPU per 1,000 frames',
      r.edge.cpuMsPer1000Frames === null ? 'n/a' : `${r.edge.cpuMsPer1000Frames} ms`,
    ],
    [
      'edge CPU per frame ÷ candump',
      r.cpuPerFrameVsCandump === null
        ? 'n/a'
        : `${r.cpuPerFrameVsCandump} (edge ${r.edge.cpuMsPer1000Frames} ms per 1,000 frames, candump ${n(Math.round(r.cpuMs['candump'] ?? 0))} ms while the traffic ran)`,
    ],
    [
      'edge reconnects / spool peak',
      `${r.edge.reconnects ?? 'n/a'} / ${r.edge.spoolPeakBytes === null ? 'n/a' : `${Math.round(r.edge.spoolPeakBytes / 1024)} KiB`}`,
    ],
    [
      'server-side lost / gaps / dups discarded',
      `${r.bus.lost} / ${r.bus.gaps} / ${r.bus.duplicatesDiscarded}`,
    ],
    [
      `soak stalls >= ${r.soakStalls.thresholdMs} ms`,
      r.soakStalls.count === 0
        ? 'none'
        : `${r.soakStalls.count}, longest ${n(r.soakStalls.maxMs)} ms, ${n(r.soakStalls.totalMs)} ms in all (latency there includes them)`,
    ],
    [
      'CPU while traffic ran',
      Object.keys(r.cpuMs).length === 0
        ? 'n/a'
        : Object.entries(r.cpuMs)
            .map(([k, v]) => `${k} ${n(Math.round(v))} ms`)
            .join(', '),
    ],
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  const lines = rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)
  if (r.faults.length > 0) {
    lines.push('', '  faults:')
    for (const f of r.faults) {
      lines.push(
        `    ${f.label.padEnd(20)} at ${((f.startMs - Date.parse(r.startedAt)) / 1000).toFixed(1)} s, ${((f.endMs - f.startMs) / 1000).toFixed(1)} s long: ${n(f.framesDuring)} frames during, recovered ${(f.recoveryMs / 1000).toFixed(1)} s after, max latency ${Math.round(f.maxLatencyMs)} ms, missed ${f.missed}, lost ${f.lostDuring}${f.spoolPeakBytes ? `, spool ${Math.round(f.spoolPeakBytes / 1024)} KiB` : ''}${f.error ? `, FAILED: ${f.error}` : ''}`,
      )
    }
  }
  return lines.join('\n')
}

const n = (x: number): string => x.toLocaleString('en-US')
const mib = (x: number): string => (x / 1048576).toFixed(1)
