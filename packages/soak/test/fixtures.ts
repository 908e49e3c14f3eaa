// A small synthetic soak: ground truth, received frames and faults made by hand, for the
// analysis and report tests (no kernel needed).
import { FRAME_FLAG } from '@canbridge/protocol'
import type { AnalysisInput } from '../src/analyze.ts'
import { FrameTable } from '../src/frames.ts'

export const START_MS = 1_800_000_000_000

/** 30 s at 100 frames/s; a 5 s partition at 10 s (latency rises), one frame lost at 20 s. */
export function syntheticInput(options: { lose?: boolean } = {}): AnalysisInput {
  const truth = new FrameTable()
  const received = new FrameTable()
  for (let i = 0; i < 3000; i++) {
    const tsUs = (START_MS + i * 10) * 1000
    const fd = i % 5 === 0
    const flags = (i % 3 === 0 ? FRAME_FLAG.EXT : 0) | (fd ? FRAME_FLAG.FD | FRAME_FLAG.BRS : 0)
    const len = fd ? 12 : i % 9
    const data = Array.from({ length: len }, (_, k) => (i + k) & 255)
    truth.push(tsUs, i & 0x7ff, flags, len, data)
    if (options.lose && i === 2000) continue
    const inPartition = tsUs >= (START_MS + 10_000) * 1000 && tsUs < (START_MS + 15_000) * 1000
    const delayMs = inPartition ? START_MS + 15_200 - tsUs / 1000 : 2 + (i % 7)
    received.push(tsUs, i & 0x7ff, flags, len, data, tsUs + delayMs * 1000)
  }
  return {
    startMs: START_MS,
    stopMs: START_MS + 30_000,
    endMs: START_MS + 31_000,
    targetRate: 100,
    minRate: 0,
    shapes: ['mixed'],
    mode: 'synthetic',
    truth: new Map([['vcan0', truth]]),
    received: new Map([['vcan0', received]]),
    faults: [
      {
        kind: 'partition',
        label: 'partition #1',
        plannedAtMs: 10_000,
        startMs: START_MS + 10_000,
        endMs: START_MS + 15_000,
        detail: 'lo port 1: netem loss 100% for 5000 ms',
      },
    ],
    blindWindows: [],
    edgeSamples: Array.from({ length: 30 }, (_, s) => ({
      atMs: START_MS + s * 1000,
      instance: 0,
      rssBytes: 50 * 1048576 + s * 10_000,
      cpuMs: s * 200,
      reconnects: s > 15 ? 1 : 0,
      ringBytes: 0,
      spoolBytes: s >= 10 && s < 16 ? 4096 * (s - 9) : 0,
      spoolFrames: 0,
      framesRead: s * 100,
      drops: 0,
    })),
    edgeCounters: {},
    busCounters: { gaps: 0, lost: 0, duplicatesDiscarded: 0, edgeDrops: {} },
    groundTruthDrops: 0,
    invalidDumpLines: [],
    invalidDumpCount: 0,
    compare: {},
    commands: ['canbridge-soak --duration 30'],
    notes: [],
  }
}
