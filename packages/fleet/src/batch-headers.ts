// Headers on every stored batch message: what a consumer needs without decoding the body,
// and what a gateway reads back (last sequence stored) when an edge says HELLO.

export const BATCH_HEADER = {
  EDGE: 'Canbridge-Edge',
  CHANNEL: 'Canbridge-Channel',
  /** the edge process that numbered these frames (HELLO instanceId) */
  INSTANCE: 'Canbridge-Instance',
  FIRST_SEQ: 'Canbridge-First-Seq',
  LAST_SEQ: 'Canbridge-Last-Seq',
  /** the gateway that stored it, for the operator */
  GATEWAY: 'Canbridge-Gateway',
} as const

/** JetStream's dedupe id of a batch: one per channel and first frame. */
export function batchMessageId(edgeId: string, channel: string, firstSeq: number): string {
  return `${edgeId}/${channel}/${firstSeq}`
}
