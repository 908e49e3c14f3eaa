// ASCWriter against can-utils' log2asc: the same candump logs converted by log2asc (TZ=UTC,
// can-utils-output.ts) and written by ASCWriter from the messages LogReader reads.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ASCWriter, CanMessage } from '../../src/index.ts'
import {
  CANDUMP_L,
  LOG2ASC_OF_CANDUMP_L,
  LOG2ASC_OF_TWO_INTERFACES,
  TWO_INTERFACES_LOG,
} from './can-utils-output.ts'
import { collector, lines, readText, tempDir, withTimeZone } from './helpers.ts'

async function asc(log: string, options: ConstructorParameters<typeof ASCWriter>[1] = {}) {
  const out = collector()
  const messages = await readText(log)
  await withTimeZone('UTC', async () => {
    const writer = new ASCWriter(out.stream, options)
    for (const message of messages) await writer.onMessage(message)
    await writer.stop()
  })
  return out.text()
}

describe('ASCWriter (Vector ASC as can-utils log2asc writes it)', () => {
  it('classic, remote, extended, CAN FD with BRS/ESI and error frames: as log2asc, byte for byte', async () => {
    expect(await asc(CANDUMP_L)).toBe(LOG2ASC_OF_CANDUMP_L)
  })

  it("numbers interfaces as log2asc's argument list; times relative to the first frame, an earlier one as is", async () => {
    expect(await asc(TWO_INTERFACES_LOG, { channels: ['vcan0', 'vcan1'] })).toBe(
      LOG2ASC_OF_TWO_INTERFACES,
    )
  })

  it('numbers interfaces it was not told about in the order they appear', async () => {
    const text = await asc(TWO_INTERFACES_LOG, { channels: ['vcan1'] })
    expect(text).toContain('   0.000000 2  123             Rx   d 4 DE AD BE EF\n')
    expect(text).toContain('   0.800000 1  7FF             Rx   d 0\n')
  })

  it('writes Tx for frames this end sent, and a file on disk from the first frame', async () => {
    const path = join(tempDir(), 'out.asc')
    await withTimeZone('UTC', async () => {
      const writer = new ASCWriter(path)
      await writer.onMessage(
        new CanMessage({
          arbitrationId: 0x1abcde,
          data: [1, 2],
          isRx: false,
          channel: 'pi/can0',
          timestampNs: 1_700_000_000_250_000_999n,
        }),
      )
      await writer.stop()
    })
    const header = lines(
      'date Tue Nov 14 22:13:20 2023',
      'base hex  timestamps absolute',
      'no internal events logged',
    )
    expect(readFileSync(path, 'utf8')).toBe(
      `${header}   0.000000 1  1ABCDEx         Tx   d 2 01 02\n`,
    )
  })

  it('an empty capture is an empty file, as log2asc leaves it', async () => {
    expect(await asc('')).toBe('')
  })
})
