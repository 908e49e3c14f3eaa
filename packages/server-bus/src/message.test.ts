import { describe, expect, it } from 'vitest'
import { CanMessage, messageFromRecord } from './message.ts'

describe('CanMessage construction', () => {
  it('defaults like python-can: extended id, rx, empty data, dlc from data', () => {
    const m = new CanMessage()
    expect(m.arbitrationId).toBe(0)
    expect(m.isExtendedId).toBe(true)
    expect(m.isRx).toBe(true)
    expect(m.dlc).toBe(0)
    expect(m.data).toEqual(new Uint8Array(0))
    expect(m.channel).toBeNull()
    expect(m.timestamp).toBe(0)
    expect(m.timestampNs).toBe(0n)
    expect(new CanMessage({ data: [1, 2, 3] }).dlc).toBe(3)
  })

  it('copies the data it is given', () => {
    const data = Uint8Array.of(1, 2, 3)
    const m = new CanMessage({ data })
    data[0] = 99
    expect(m.data[0]).toBe(1)
  })

  it.each([
    [{ arbitrationId: 0x800, isExtendedId: false }, /arbitrationId 0x800 is above 0x7ff/],
    [{ arbitrationId: 0x20000000 }, /arbitrationId 0x20000000 is above 0x1fffffff/],
    [{ arbitrationId: -1 }, /arbitrationId must be a non-negative integer, got -1/],
    [{ arbitrationId: 1.5 }, /arbitrationId must be a non-negative integer, got 1.5/],
    [{ data: [1, 2, 3, 4, 5, 6, 7, 8, 9] }, /dlc 9 is above 8 for a classic CAN frame/],
    [{ isFd: true, data: new Uint8Array(9) }, /dlc 9 is not a CAN FD length/],
    [{ isFd: true, data: new Uint8Array(65) }, /dlc 65 is not a CAN FD length/],
    [{ data: [1, 2], dlc: 3 }, /dlc 3 does not match the 2 bytes of data/],
    [{ dlc: -1 }, /dlc must be a non-negative integer, got -1/],
    [{ bitrateSwitch: true }, /bitrateSwitch is only allowed with isFd/],
    [{ errorStateIndicator: true }, /errorStateIndicator is only allowed with isFd/],
    [{ isRemoteFrame: true, isFd: true }, /isRemoteFrame: CAN FD has no remote frames/],
    [{ isRemoteFrame: true, isErrorFrame: true }, /isRemoteFrame and isErrorFrame/],
    [{ isErrorFrame: true, isFd: true }, /isErrorFrame: an error frame is not CAN FD/],
    [{ isRemoteFrame: true, data: [1] }, /data: a remote frame carries no data/],
    [{ isRemoteFrame: true, dlc: 9 }, /dlc 9 is above 8/],
    [{ data: [256] }, /data\[0\] must be an integer in 0..255, got 256/],
    [{ data: [1, -1] }, /data\[1\] must be an integer in 0..255, got -1/],
    [{ timestamp: -1 }, /timestamp must be a finite number of seconds >= 0, got -1/],
    [{ timestamp: Number.POSITIVE_INFINITY }, /timestamp must be a finite number/],
    [{ timestampNs: -1n }, /timestampNs must be a bigint in 0..2\^64-1, got -1/],
    [{ timestamp: 1, timestampNs: 3_000_000_000n }, /disagree by more than 1 µs/],
  ])('rejects %o naming the field', (options, message) => {
    expect(() => new CanMessage(options)).toThrow(RangeError)
    expect(() => new CanMessage(options)).toThrow(message)
  })

  it.each([
    [{ isExtendedId: 1 }, /isExtendedId must be a boolean, got 1/],
    [{ isFd: 'yes' }, /isFd must be a boolean, got yes/],
    [{ channel: 5 }, /channel must be a string or null, got number/],
    [{ data: 'abc' }, /data must be a Uint8Array or an array of bytes/],
  ])('rejects the wrong type %o with a TypeError', (options, message) => {
    expect(() => new CanMessage(options as never)).toThrow(TypeError)
    expect(() => new CanMessage(options as never)).toThrow(message)
  })

  it('accepts the largest ids, every FD length and a remote frame with a dlc', () => {
    expect(new CanMessage({ arbitrationId: 0x7ff, isExtendedId: false }).arbitrationId).toBe(0x7ff)
    expect(new CanMessage({ arbitrationId: 0x1fffffff }).arbitrationId).toBe(0x1fffffff)
    for (const length of [0, 1, 8, 12, 16, 20, 24, 32, 48, 64]) {
      expect(new CanMessage({ isFd: true, data: new Uint8Array(length) }).dlc).toBe(length)
    }
    const rtr = new CanMessage({ isRemoteFrame: true, dlc: 4 })
    expect(rtr.dlc).toBe(4)
    expect(rtr.data.length).toBe(0)
  })

  it('keeps timestampNs exact and derives timestamp from it', () => {
    const m = new CanMessage({ timestampNs: 1_700_000_000_123_456_789n })
    expect(m.timestampNs).toBe(1_700_000_000_123_456_789n)
    expect(m.timestamp).toBeCloseTo(1_700_000_000.1234567, 6)
    expect(new CanMessage({ timestamp: 12.5 }).timestampNs).toBe(12_500_000_000n)
  })

  it('builds from a record without validation and without keeping the bytes', () => {
    const record = new Uint8Array(64)
    const view = new DataView(record.buffer)
    view.setBigUint64(8, 1_700_000_000_123_456_000n, true)
    view.setUint32(16, 0x1abcdef0, true)
    record[20] = 0x01 | 0x40 // EXT | TX
    record[21] = 8
    record.set([1, 2, 3, 4, 5, 6, 7, 8], 22)
    const m = messageFromRecord(record, 8, 'pi/can0')
    record.fill(0)
    expect(m.arbitrationId).toBe(0x1abcdef0)
    expect(m.isExtendedId).toBe(true)
    expect(m.isRx).toBe(false)
    expect(Array.from(m.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect(m.timestampNs).toBe(1_700_000_000_123_456_000n)
    expect(m.timestamp).toBe(1_700_000_000.123456)
    expect(m.channel).toBe('pi/can0')
  })

  it('converts to a TX frame without the TX flag and with its own copy of the data', () => {
    const m = new CanMessage({ arbitrationId: 0x123, isExtendedId: false, isRx: false, data: [1] })
    const frame = m.toTxFrame()
    expect(frame).toEqual({ id: 0x123, flags: 0, len: 1, data: Uint8Array.of(1) })
    frame.data[0] = 7
    expect(m.data[0]).toBe(1)
  })
})

describe('CanMessage.equals (python-can Message.equals)', () => {
  const base = { arbitrationId: 0x10, data: [1, 2], channel: 'a/can0', timestamp: 10 }

  it('compares every field, channel included', () => {
    expect(new CanMessage(base).equals(new CanMessage(base))).toBe(true)
    expect(new CanMessage(base).equals(new CanMessage({ ...base, data: [1, 3] }))).toBe(false)
    expect(new CanMessage(base).equals(new CanMessage({ ...base, channel: 'b/can0' }))).toBe(false)
    expect(new CanMessage(base).equals(new CanMessage({ ...base, isExtendedId: false }))).toBe(
      false,
    )
    expect(new CanMessage(base).equals(new CanMessage({ ...base, arbitrationId: 0x11 }))).toBe(
      false,
    )
  })

  it('allows 1 µs of timestamp difference by default; null ignores timestamps', () => {
    const a = new CanMessage(base)
    expect(a.equals(new CanMessage({ ...base, timestamp: 10.0000005 }))).toBe(true)
    expect(a.equals(new CanMessage({ ...base, timestamp: 10.00001 }))).toBe(false)
    expect(a.equals(new CanMessage({ ...base, timestamp: 99 }), { timestampDeltaMs: null })).toBe(
      true,
    )
    expect(a.equals(new CanMessage({ ...base, timestamp: 10.5 }), { timestampDeltaMs: 600 })).toBe(
      true,
    )
  })

  it('compares direction unless checkDirection is false', () => {
    const rx = new CanMessage(base)
    const tx = new CanMessage({ ...base, isRx: false })
    expect(rx.equals(tx)).toBe(false)
    expect(rx.equals(tx, { checkDirection: false })).toBe(true)
  })
})

describe('CanMessage.toString (python-can Message.__str__ layout, DLC label)', () => {
  // Each expected line was written by hand from python-can 4.x's __str__: fields joined by 4
  // spaces, timestamp {:>15.6f}, ID rjust(12), flags "X/S Rx/Tx E R F BS EI", "DLC: {:2d}",
  // data ljust(24), the text when every byte is alphanumeric, then the channel; stripped.
  it('formats an extended data frame with a channel', () => {
    const m = new CanMessage({
      timestamp: 1_700_000_000.123456,
      arbitrationId: 0x6fd,
      data: [0xc4, 0x10, 0xff, 0x00, 0x01, 0x02, 0x03, 0x04],
      channel: 'pi-garage/can0',
    })
    expect(m.toString()).toBe(
      'Timestamp: 1700000000.123456    ID: 000006fd    X Rx                DLC:  8    c4 10 ff 00 01 02 03 04     Channel: pi-garage/can0',
    )
  })

  it('formats a standard remote frame without data or channel', () => {
    const m = new CanMessage({
      arbitrationId: 0x123,
      isExtendedId: false,
      isRemoteFrame: true,
      dlc: 3,
    })
    expect(m.toString()).toBe(
      'Timestamp:        0.000000        ID: 0123    S Rx   R            DLC:  3',
    )
  })

  it('formats an FD frame sent by us with alphanumeric data', () => {
    const m = new CanMessage({
      timestamp: 12.5,
      arbitrationId: 0x1234,
      isFd: true,
      bitrateSwitch: true,
      isRx: false,
      data: [0x41, 0x42, 0x43, 0x31],
    })
    expect(m.toString()).toBe(
      "Timestamp:       12.500000    ID: 00001234    X Tx     F BS       DLC:  4    41 42 43 31                 'ABC1'",
    )
  })

  it('formats an error frame and a 12-byte FD frame with ESI', () => {
    const error = new CanMessage({ isErrorFrame: true, arbitrationId: 4, data: [0, 0] })
    expect(error.toString()).toBe(
      'Timestamp:        0.000000    ID: 00000004    X Rx E              DLC:  2    00 00',
    )
    const fd = new CanMessage({
      arbitrationId: 0x7ff,
      isExtendedId: false,
      isFd: true,
      errorStateIndicator: true,
      data: new Uint8Array(12),
    })
    expect(fd.toString()).toBe(
      'Timestamp:        0.000000        ID: 07ff    S Rx     F    EI    DLC: 12    00 00 00 00 00 00 00 00 00 00 00 00',
    )
  })
})

describe('flagOptions', () => {
  it('maps each FRAME_FLAG bit to its option, TX to isRx false', async () => {
    const { flagOptions } = await import('./message.ts')
    expect(flagOptions(0)).toEqual({
      isExtendedId: false,
      isRemoteFrame: false,
      isErrorFrame: false,
      isFd: false,
      bitrateSwitch: false,
      errorStateIndicator: false,
      isRx: true,
    })
    // bits written out from PROTOCOL.md §6.2: EXT 0x01, RTR 0x02, ERR 0x04, FD 0x08, BRS 0x10, ESI 0x20, TX 0x40
    expect(flagOptions(0x01 | 0x08 | 0x10 | 0x20 | 0x40)).toEqual({
      isExtendedId: true,
      isRemoteFrame: false,
      isErrorFrame: false,
      isFd: true,
      bitrateSwitch: true,
      errorStateIndicator: true,
      isRx: false,
    })
    expect(flagOptions(0x02 | 0x04)).toMatchObject({ isRemoteFrame: true, isErrorFrame: true })
  })
})
