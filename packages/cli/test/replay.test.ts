// replay's schedule against a fake clock: when each frame goes out, exactly, with the log's
// timing scaled, skipped pauses, back-to-back gaps, and a slow send that must not push the
// frames after it back (the schedule does not drift). No wall clock, so no load can fail it.
import { CanMessage } from '@canbridge/server-bus'
import { describe, expect, it } from 'vitest'
import { type Clock, type ReplayTiming, replay } from '../src/replay.ts'

class FakeClock implements Clock {
  t = 0
  now(): number {
    return this.t
  }
  async pause(ms: number): Promise<void> {
    this.t += ms
  }
}

function frames(times: number[]): CanMessage[] {
  return times.map(
    (seconds, i) =>
      new CanMessage({ arbitrationId: i, timestamp: 1_700_000_000 + seconds, channel: 'can0' }),
  )
}

/** When (fake ms) each frame was handed to the bus; `slowMs` is how long each send takes. */
async function sendTimes(times: number[], timing: ReplayTiming, slowMs = 0): Promise<number[]> {
  const clock = new FakeClock()
  const sent: number[] = []
  const messages = frames(times)
  await replay(
    {
      open: async function* () {
        yield* messages
      },
      line: 0,
    },
    {
      route: () => ({ kind: 'send', channel: 'pi/can0' }),
      send: async () => {
        sent.push(clock.t)
        clock.t += slowMs // the link takes this long before the next frame can be looked at
      },
      print: () => {},
    },
    { timing, loops: 1, window: 1, clock },
  )
  return sent
}

describe('replay timing', () => {
  it('sends each frame at its log time', async () => {
    expect(await sendTimes([0, 0.2, 0.5], { mode: 'original', speed: 1 })).toEqual([0, 200, 500])
  })

  it('--speed 10 plays ten times faster', async () => {
    expect(await sendTimes([0, 0.2, 0.5], { mode: 'original', speed: 10 })).toEqual([0, 20, 50])
  })

  it('a slow send does not push the later frames back', async () => {
    expect(await sendTimes([0, 0.2, 0.5], { mode: 'original', speed: 10 }, 15)).toEqual([0, 20, 50])
    // slower than the gaps: the frames go as soon as they can, then the schedule holds again
    expect(await sendTimes([0, 0.01, 0.02, 0.5], { mode: 'original', speed: 1 }, 30)).toEqual([
      0, 30, 60, 500,
    ])
  })

  it('-s skips pauses longer than the limit, and restarts the count there', async () => {
    expect(
      await sendTimes([0, 0.1, 5.1, 5.2], { mode: 'original', speed: 1, skipGapUs: 1_000_000 }),
    ).toEqual([0, 100, 100, 200])
  })

  it('-t sends back to back, -g apart', async () => {
    expect(await sendTimes([0, 9, 99], { mode: 'fast', gapMs: 0 })).toEqual([0, 0, 0])
    expect(await sendTimes([0, 9, 99], { mode: 'fast', gapMs: 7 })).toEqual([0, 7, 14])
  })
})
