// A frame read from the fleet: python-can's message (channel `edgeId/interface`, as TCPBus
// names it) with where it came from and its place in that channel's sequence.
import type { FrameReader } from '@canbridge/protocol'
import { CanMessage, flagOptions } from '@canbridge/server-bus'

export class FleetFrame extends CanMessage {
  readonly edgeId: string
  /** the edge's sequence number of this frame in its channel */
  readonly seq: number

  constructor(reader: FrameReader, edgeId: string, channel: string) {
    super({
      timestampNs: reader.timestampNs(),
      arbitrationId: reader.id,
      ...flagOptions(reader.flags),
      dlc: reader.len,
      data: reader.data(),
      channel: `${edgeId}/${channel}`,
    })
    this.edgeId = edgeId
    this.seq = reader.seq
  }
}
