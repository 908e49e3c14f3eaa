// Accounting by the frames' own counters (the virtual source numbers its payloads): what a
// scripted server holds of channel 0 and the DROPS it was told, each frame exactly once.
import { expect } from 'vitest'
import { frameNumber, type ScriptedServer, type ServerState } from './scripted-server.ts'

/** What the server holds of channel 0, by the frames' own counters and the DROPS ranges. */
export function account(state: ServerState) {
  const delivered = new Set<number>()
  let deliveredTwice = 0
  let mislabelled = 0
  for (const frame of state.channel(0)) {
    const n = frameNumber(frame)
    if (n !== frame.seq) mislabelled++
    if (delivered.has(n)) deliveredTwice++
    delivered.add(n)
  }
  const dropped = new Set<number>()
  let droppedTwice = 0
  let droppedButDelivered = 0
  let reported = 0
  // a range may be reported again after a reconnect, and receivers dedupe it (PROTOCOL.md §5.4)
  const ranges = new Set<string>()
  for (const drops of state.drops) {
    if (drops.channel !== 0 || drops.fromSeq === null) continue
    const range = `${drops.fromSeq}+${drops.count}`
    if (ranges.has(range)) continue
    ranges.add(range)
    reported += drops.count
    for (let seq = drops.fromSeq; seq < drops.fromSeq + drops.count; seq++) {
      if (dropped.has(seq)) droppedTwice++
      if (delivered.has(seq)) droppedButDelivered++
      dropped.add(seq)
    }
  }
  return {
    delivered: delivered.size,
    reported,
    deliveredTwice,
    droppedTwice,
    droppedButDelivered,
    mislabelled,
    duplicatesDiscarded: state.duplicates,
  }
}

/**
 * Waits until the frames delivered and the frames reported dropped make up all `produced`,
 * then checks that no frame was counted twice, delivered and dropped, or mislabelled.
 */
export async function everyFrameAccounted(
  server: ScriptedServer,
  produced: number,
  timeoutMs: number,
) {
  await server.waitFor(
    () => {
      const a = account(server.state)
      return a.delivered + a.reported >= produced
    },
    timeoutMs,
    'every frame delivered or reported dropped',
  )
  const a = account(server.state)
  // on a failure, what the server holds says which rule broke
  const held = JSON.stringify({ account: a, drops: server.state.drops.slice(0, 40) })
  expect(a.delivered + a.reported, held).toBe(produced)
  expect(a, held).toMatchObject({
    deliveredTwice: 0,
    droppedTwice: 0,
    droppedButDelivered: 0,
    mislabelled: 0,
  })
  return a
}

/**
 * A virtual channel of `count` frames whose host was restarted once, so that its generator
 * ran twice: waits for the second run's last frame, then checks that the numbering has no
 * hole, that the first run arrived from 0 up to where it was cut (what the ring held kept,
 * numbered where it was), and that the second run arrived whole. Returns where it starts.
 */
export async function expectTwoRuns(
  server: ScriptedServer,
  count: number,
  timeoutMs: number,
): Promise<number> {
  const lastFrame = () => {
    const frames = server.state.channel(0)
    return frames.length > count ? frameNumber(frames.at(-1)!) : -1
  }
  await server.waitFor(() => lastFrame() === count - 1, timeoutMs, 'both runs of the generator')
  const frames = server.state.channel(0)
  expect(frames.map((f) => f.seq)).toEqual([...frames.keys()])
  const secondRun = frames.findIndex((f, i) => i > 0 && frameNumber(f) === 0)
  expect(secondRun).toBeGreaterThan(0)
  expect(frames.slice(0, secondRun).map(frameNumber)).toEqual([...Array(secondRun).keys()])
  expect(frames.slice(secondRun).map(frameNumber)).toEqual([...Array(count).keys()])
  expect(server.state.gaps).toEqual([])
  return secondRun
}
