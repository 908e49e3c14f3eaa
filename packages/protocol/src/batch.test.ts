import { describe, expect, it } from 'vitest'
import { DataBatch } from './batch.ts'
import { FRAME_FLAG } from './constants.ts'
import { batchBody, recordBytes, toHex } from './testing/builders.ts'

// records of every shape: classic, extended, remote (no data bytes), FD 64
const records = [
  recordBytes({ timestampNs: 1n, id: 0x123, data: [1, 2, 3] }),
  recordBytes({ timestampNs: 2n, id: 0x1abcdef, flags: FRAME_FLAG.EXT, data: [] }),
  recordBytes({ timestampNs: 3n, id: 0x7df, flags: FRAME_FLAG.RTR, len: 8 }),
  recordBytes({ timestampNs: 4n, id: 0x10, flags: FRAME_FLAG.FD, data: new Array(64).fill(7) }),
  recordBytes({ timestampNs: 5n, id: 0x11, data: [9] }),
]

describe('DataBatch.tail', () => {
  const batch = DataBatch.parse(batchBody(3, 1000, records))

  it.each([0, 1, 2, 3, 4])(
    'without its first %i frames is the batch the builder makes of the rest',
    (skip) => {
      const tail = batch.tail(skip)
      const expected = batchBody(3, 1000 + skip, records.slice(skip))
      expect(toHex(tail.body)).toBe(toHex(expected))
      expect(tail.firstSeq).toBe(1000 + skip)
      expect(tail.count).toBe(records.length - skip)
      expect(tail.channel).toBe(3)
      // and it is a valid batch of its own
      expect(DataBatch.parse(tail.body).count).toBe(records.length - skip)
    },
  )

  it('refuses to skip every frame or a bad count', () => {
    expect(() => batch.tail(5)).toThrow(RangeError)
    expect(() => batch.tail(-1)).toThrow(RangeError)
    expect(() => batch.tail(1.5)).toThrow(RangeError)
  })
})
