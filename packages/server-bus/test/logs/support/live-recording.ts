// A live recording for the writer tests: a scripted edge streams sequence frames into a
// TCPBus, a Notifier hands them to a log writer, and LogReader must give them all back.
import { expect } from 'vitest'
import { LogReader, type LogReaderOptions, type LogWriter, Notifier } from '../../../src/index.ts'
import { sequenceFrame } from '../../../src/testing/scripted-edge.ts'
import { waitUntil } from '../../support/helpers.ts'
import { busWithEdge } from '../helpers.ts'

/** Records `count` frames from edge `pi`'s can0 with `writer`, stops it, reads the file back. */
export async function recordAndReadBack(
  writer: LogWriter,
  count: number,
  readerOptions: LogReaderOptions = {},
): Promise<void> {
  const { bus, edge } = await busWithEdge()
  const notifier = new Notifier(bus, [writer])
  await edge.stream(0, 0, count, 500)
  await waitUntil(() => writer.count === count, 20_000, 'every frame handed to the writer')
  await notifier.stop()
  let i = 0
  for await (const m of new LogReader(writer.name, readerOptions)) {
    const want = sequenceFrame(i)
    expect([m.arbitrationId, [...m.data], m.channel], `frame ${i}`).toEqual([
      want.id,
      want.data,
      'pi/can0',
    ])
    i++
  }
  expect(i).toBe(count)
}
