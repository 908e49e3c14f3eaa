// Frame validity (PROTOCOL.md §6.2), frame objects from an API, and timestamp helpers.
import { describe, expect, it } from 'vitest'
import {
  assertValidFrame,
  type CanFrame,
  frameProblem,
  payloadLength,
  timestampNsFromParts,
  timestampSecondsFromNs,
} from './index.ts'

// Flag bits from §6.2, by hand.
const EXT = 0x01
const RTR = 0x02
const ERR = 0x04
const FD = 0x08
const BRS = 0x10
const ESI = 0x20
const TX = 0x40

const FD_LENGTHS_SPEC = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64]

describe('frameProblem', () => {
  it('accepts the valid frames of §6.2', () => {
    const valid: [number, number, number][] = [
      [0, 0, 0],
      [0x7ff, 0, 8],
      [0x7ff, TX, 8],
      [0x1fffffff, EXT, 8],
      [0x1fffffff, EXT | TX, 0],
      [0x7ff, RTR, 0],
      [0x7ff, RTR, 8],
      [0x1fffffff, EXT | RTR | TX, 8],
      [0, ERR, 0],
      [0x1fffffff, ERR, 8], // error class bits, any 29-bit value, EXT or not
      [0x1fffffff, ERR | EXT | TX, 8],
      ...FD_LENGTHS_SPEC.map((len): [number, number, number] => [0x7ff, FD, len]),
      ...FD_LENGTHS_SPEC.map((len): [number, number, number] => [
        0x1fffffff,
        EXT | FD | BRS | ESI | TX,
        len,
      ]),
      [0x123, FD | BRS, 64],
      [0x123, FD | ESI, 12],
    ]
    for (const [id, flags, len] of valid) {
      expect(
        frameProblem(id, flags, len),
        `id 0x${id.toString(16)} flags 0x${flags.toString(16)} len ${len}`,
      ).toBeUndefined()
    }
  })

  it('refuses each invalid case of §6.2 with a reason', () => {
    const invalid: [number, number, number, RegExp][] = [
      [0, 0x80, 0, /reserved/],
      [0, 0x80 | FD, 8, /reserved/],
      [0, 0xff, 0, /reserved/],
      [0x800, 0, 0, /standard id 0x800/],
      [0xffffffff, 0, 0, /standard id/],
      [0x20000000, EXT, 0, /extended id 0x20000000/],
      [0x20000000, ERR, 0, /error class/],
      [0, ERR | RTR, 0, /error frame/],
      [0, ERR | FD, 0, /error frame/],
      [0, ERR, 9, /error frame length 9/],
      [0, RTR | FD, 0, /remote frame marked CAN FD/],
      [0, RTR, 9, /remote frame DLC 9/],
      [0, RTR, 255, /remote frame DLC 255/],
      [0, FD, 9, /CAN FD length 9/],
      [0, FD, 13, /CAN FD length 13/],
      [0, FD, 63, /CAN FD length 63/],
      [0, FD, 65, /CAN FD length 65/],
      [0, FD, 255, /CAN FD length 255/],
      [0, 0, 9, /classic CAN length 9/],
      [0, 0, 64, /classic CAN length 64/],
      [0, BRS, 0, /BRS\/ESI/],
      [0, ESI, 0, /BRS\/ESI/],
      [0, BRS | ERR, 0, /BRS\/ESI/],
      [0, ESI | RTR, 0, /BRS\/ESI/],
    ]
    for (const [id, flags, len, reason] of invalid) {
      expect(
        frameProblem(id, flags, len),
        `id 0x${id.toString(16)} flags 0x${flags.toString(16)} len ${len}`,
      ).toMatch(reason)
    }
  })

  it('every FD length 0..255 is valid exactly when §6.2 lists it', () => {
    for (let len = 0; len < 256; len++) {
      expect(frameProblem(1, FD, len) === undefined, `len ${len}`).toBe(
        FD_LENGTHS_SPEC.includes(len),
      )
      expect(frameProblem(1, 0, len) === undefined, `classic len ${len}`).toBe(len <= 8)
      expect(frameProblem(1, RTR, len) === undefined, `remote len ${len}`).toBe(len <= 8)
      expect(frameProblem(1, ERR, len) === undefined, `error len ${len}`).toBe(len <= 8)
    }
  })

  it('refuses flags that do not fit the u8 field (regression: 0x100 was written as 0)', () => {
    expect(frameProblem(0x123, 0x100, 0)).toMatch(/reserved/)
    expect(frameProblem(0x123, 0x108, 12)).toMatch(/reserved/)
    expect(frameProblem(0x123, 0x1_0000_0000, 0)).toMatch(/reserved/)
  })
})

it('payloadLength: none for a remote frame, len otherwise', () => {
  expect(payloadLength(RTR, 8)).toBe(0)
  expect(payloadLength(RTR | EXT, 5)).toBe(0)
  expect(payloadLength(0, 8)).toBe(8)
  expect(payloadLength(FD, 64)).toBe(64)
  expect(payloadLength(ERR, 8)).toBe(8)
})

describe('assertValidFrame', () => {
  const good: CanFrame = { timestampNs: 1n, id: 0x123, flags: 0, len: 2, data: Uint8Array.of(1, 2) }

  it('accepts valid frames, remote and FD included', () => {
    expect(() => assertValidFrame(good)).not.toThrow()
    expect(() =>
      assertValidFrame({ timestampNs: 0n, id: 0x7ff, flags: RTR, len: 8, data: new Uint8Array(0) }),
    ).not.toThrow()
    expect(() =>
      assertValidFrame({
        timestampNs: 2n ** 64n - 1n,
        id: 0x1fffffff,
        flags: EXT | FD | BRS | ESI | TX,
        len: 64,
        data: new Uint8Array(64),
      }),
    ).not.toThrow()
  })

  it('refuses what is not a frame object with a TypeError', () => {
    expect(() => assertValidFrame(null as unknown as CanFrame)).toThrow(TypeError)
    expect(() => assertValidFrame('frame' as unknown as CanFrame)).toThrow(TypeError)
    expect(() => assertValidFrame({ ...good, data: [1, 2] as unknown as Uint8Array })).toThrow(
      /frame\.data must be a Uint8Array/,
    )
  })

  it('names the bad field in a RangeError', () => {
    const cases: [Partial<Record<keyof CanFrame, unknown>>, RegExp][] = [
      [{ timestampNs: 1 }, /frame\.timestampNs/],
      [{ timestampNs: -1n }, /frame\.timestampNs/],
      [{ timestampNs: 2n ** 64n }, /frame\.timestampNs/],
      [{ id: -1 }, /frame\.id/],
      [{ id: 1.5 }, /frame\.id/],
      [{ id: '1' }, /frame\.id/],
      [{ flags: -1 }, /frame\.flags/],
      [{ flags: Number.NaN }, /frame\.flags/],
      [{ len: 2.5 }, /frame\.len/],
      [{ id: 0x800 }, /frame: standard id 0x800/],
      [{ flags: 0x100 }, /frame: reserved/],
      [{ len: 3 }, /frame\.data has 2 bytes, len says 3/],
      [{ flags: RTR, len: 2 }, /frame\.data has 2 bytes, len says 0/],
    ]
    for (const [patch, message] of cases) {
      const frame = { ...good, ...patch } as CanFrame
      expect(() => assertValidFrame(frame), Object.keys(patch).join()).toThrow(RangeError)
      expect(() => assertValidFrame(frame)).toThrow(message)
    }
  })

  it('uses the name given', () => {
    expect(() => assertValidFrame({ ...good, id: -1 }, 'frames[3]')).toThrow(/^frames\[3\]\.id/)
  })
})

describe('timestamps', () => {
  it('timestampNsFromParts is exact: sec x 10^9 + ns', () => {
    expect(timestampNsFromParts(0, 0)).toBe(0n)
    expect(timestampNsFromParts(1_700_000_000, 123_456_000)).toBe(1_700_000_000_123_456_000n)
    expect(timestampNsFromParts(2 ** 34, 999_999_999)).toBe(17_179_869_184_999_999_999n)
  })

  it('timestampSecondsFromNs', () => {
    expect(timestampSecondsFromNs(0n)).toBe(0)
    expect(timestampSecondsFromNs(1n)).toBe(1e-9)
    expect(timestampSecondsFromNs(1_500_000_000n)).toBe(1.5)
    expect(timestampSecondsFromNs(1_000_000_000n)).toBe(1)
    expect(timestampSecondsFromNs(999_999_999n)).toBe(0.999999999)
    // python-can's float timestamp: exact to a microsecond at today's epoch
    const seconds = timestampSecondsFromNs(1_700_000_000_123_456_000n)
    expect(Math.abs(seconds - 1_700_000_000.123456)).toBeLessThan(1e-6)
    expect(
      Math.abs(timestampSecondsFromNs(1_700_000_000_123_456_789n) - 1_700_000_000.123457),
    ).toBeLessThan(1e-6)
    // the largest u64: 18446744073.709551615 s, to the nearest double
    expect(timestampSecondsFromNs(2n ** 64n - 1n)).toBeCloseTo(18_446_744_073.709553, 5)
  })
})
