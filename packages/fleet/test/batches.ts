// Batches for tests, built with the protocol's independent fixture builders: frame `seq`
// carries its own sequence number in its payload, so what a consumer gets can be checked
// against what was sent, frame by frame.
import { DataBatch } from '@canbridge/protocol'
import { batchBody, recordBytes } from '@canbridge/protocol/testing'

export function counterPayload(seq: number): number[] {
  return [seq & 0xff, (seq >> 8) & 0xff, (seq >> 16) & 0xff, (seq >> 24) & 0xff]
}

/** A batch of `count` classic frames with id 0x100 + channel, payload = sequence number. */
export function counterBatch(firstSeq: number, count: number, channel = 0): DataBatch {
  const records = Array.from({ length: count }, (_, i) =>
    recordBytes({
      timestampNs: 1_700_000_000_000_000_000n + BigInt(firstSeq + i) * 1000n,
      id: 0x100 + channel,
      data: counterPayload(firstSeq + i),
    }),
  )
  return DataBatch.parse(batchBody(channel, firstSeq, records))
}

/** The sequence number a counter frame carries. */
export function seqOfPayload(data: Uint8Array): number {
  return data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! * 0x1000000)
}
