// Frames of every kind for the recording tests: classic standard and extended, remote, error,
// CAN FD of every length with BRS/ESI, both directions, on several channels, with times at
// nanosecond resolution, and random data (a deterministic generator) so compression has work.
import { FD_LENGTHS } from '@canbridge/protocol'
import { CanMessage } from '../../../src/index.ts'

/** 2023-11-14T22:13:20.123456789Z */
export const SAMPLE_T0 = 1_700_000_000_123_456_789n

/** `count` frames, kinds in a fixed rotation, on `channels` in turn. */
export function sampleFrames(count: number, channels: readonly (string | null)[]): CanMessage[] {
  let seed = 0x2545f491
  const random = () => {
    seed ^= seed << 13
    seed ^= seed >>> 17
    seed ^= seed << 5
    return (seed >>> 0) / 0x100000000
  }
  const bytes = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 256))
  const frames: CanMessage[] = []
  for (let i = 0; i < count; i++) {
    const channel = channels[i % channels.length]!
    const timestampNs = SAMPLE_T0 + BigInt(i) * 1_000_037n + BigInt(Math.floor(random() * 1000))
    const isRx = random() < 0.8
    const kind = i % 8
    const std = Math.floor(random() * 0x800)
    const ext = Math.floor(random() * 0x20000000)
    const common = { timestampNs, channel, isRx }
    if (kind === 0 || kind === 1) {
      frames.push(
        new CanMessage({ ...common, arbitrationId: std, isExtendedId: false, data: bytes(i % 9) }),
      )
    } else if (kind === 2) {
      frames.push(
        new CanMessage({ ...common, arbitrationId: ext, isExtendedId: true, data: bytes(8) }),
      )
    } else if (kind === 3) {
      const extended = i % 16 === 3
      frames.push(
        new CanMessage({
          ...common,
          arbitrationId: extended ? ext : std,
          isExtendedId: extended,
          isRemoteFrame: true,
          dlc: i % 9,
        }),
      )
    } else if (kind === 4) {
      // SocketCAN's error frames: the class in the id, details in 8 bytes, received
      frames.push(
        new CanMessage({
          timestampNs,
          channel,
          arbitrationId: 1 << (i % 10),
          isExtendedId: false,
          isErrorFrame: true,
          data: bytes(8),
        }),
      )
    } else {
      const length = FD_LENGTHS[(i >> 3) % FD_LENGTHS.length]!
      const extended = kind === 6
      frames.push(
        new CanMessage({
          ...common,
          arbitrationId: extended ? ext : std,
          isExtendedId: extended,
          isFd: true,
          bitrateSwitch: (i & 16) !== 0,
          errorStateIndicator: (i & 32) !== 0,
          data: bytes(length),
        }),
      )
    }
  }
  return frames
}
