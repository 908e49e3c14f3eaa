// A frame read from the fleet: python-can's message (channel `edgeId/interface`, as TCPBus
// names it) with where it came from and its place in that channel's sequence.
import { FRAME_FLAG, type FrameReader } from '@canbridge/protocol'
import { CanMessage } from '@canbridge/server-bus'

export class FleetFrame extends CanMessage {
  readonly edgeId: string
  /** the edge's sequence number of this frame in its channel */
  readonly seq: number

  constructor(reader: FrameReader, edgeId: string, channel: string) {
    const flags = reader.flags
    super({
      timestampNs: reader.timestampNs(),
      arbitrationId: reader.id,
      isExtendedId: (flags & FRAME_FLAG.EXT) !== 0,
      isRemoteFrame: (flags & FRAME_FLAG.RTR) !== 0,
      isErrorFrame: (flags & FRAME_FLAG.ERR) !== 0,
      isFd: (flags & FRAME_FLAG.FD) !== 0,
      bitrateSwitch: (flags & FRAME_FLAG.BRS) !== 0,
      errorStateIndicator: (flags & FRAME_FLAG.ESI) !== 0,
      isRx: (flags & FRAME_FLAG.TX) === 0,
      dlc: reader.len,
      data: reader.data(),
      channel: `${edgeId}/${channel}`,
    })
    this.edgeId = edgeId
    this.seq = reader.seq
  }
}
