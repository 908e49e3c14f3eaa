// Vector's Binary Logging Format (.blf), the layout both our writer and reader use. There is
// no public specification: this follows Toby Lorenz's vector_blf library (the reference
// python-can's BLF module is built from) and python-can's own files.
//
//   file header (144 bytes, "LOGG"): statistics, start and stop times
//   objects ("LOBJ"), each padded with objectSize % 4 zero bytes:
//     LOG_CONTAINER: a zlib-deflated (or stored) run of the inner objects below; an inner
//     object may continue in the next container
//     CAN_MESSAGE / CAN_MESSAGE2, CAN_FD_MESSAGE / CAN_FD_MESSAGE_64, CAN_ERROR_EXT

/** Object types (vector_blf ObjectType). */
export const BLF_OBJECT = {
  CAN_MESSAGE: 1,
  LOG_CONTAINER: 10,
  CAN_ERROR_EXT: 73,
  CAN_MESSAGE2: 86,
  CAN_FD_MESSAGE: 100,
  CAN_FD_MESSAGE_64: 101,
} as const

export const FILE_SIGNATURE = 0x47474f4c // "LOGG" little-endian
export const OBJECT_SIGNATURE = 0x4a424f4c // "LOBJ" little-endian
export const FILE_HEADER_SIZE = 144
/** signature, header size, header version, object size, object type */
export const OBJECT_BASE_SIZE = 16
/** base + flags, client index, object version, timestamp (header version 1) */
export const OBJECT_HEADER_V1_SIZE = 32
/** base + flags, timestamp status, reserved, object version, timestamp, original timestamp */
export const OBJECT_HEADER_V2_SIZE = 40
/** compression method (u16), 6 reserved, uncompressed size (u32), 4 reserved */
export const CONTAINER_HEADER_SIZE = 16

export const COMPRESSION = { NONE: 0, ZLIB: 2 } as const

/** Object header flags: the unit of the object's timestamp. */
export const TIME_UNIT = { TEN_MICROSECONDS: 1, ONE_NANOSECOND: 2 } as const

/** The u32 id field: bit 31 marks an extended id. */
export const ID_EXTENDED = 0x80000000
export const ID_MASK = 0x1fffffff

/** CAN_MESSAGE(2) flags byte. */
export const CAN_MSG_FLAG = { TX: 0x01, RTR: 0x80 } as const
/** CAN_FD_MESSAGE fdFlags byte. */
export const CAN_FD_FLAG = { EDL: 0x01, BRS: 0x02, ESI: 0x04 } as const
/** CAN_FD_MESSAGE_64 flags (u32). */
export const CAN_FD64_FLAG = {
  RTR: 0x0010,
  TX_ACK: 0x0040,
  EDL: 0x1000,
  BRS: 0x2000,
  ESI: 0x4000,
} as const

/** Body sizes (after the object header). */
export const CAN_MESSAGE2_BODY = 24 // channel u16, flags, dlc, id u32, data[8], frame length u32, bit count, 3 reserved
export const CAN_FD_MESSAGE_BODY = 84 // channel u16, flags, dlc, id, frame length, bit count, fdFlags, valid bytes, 5 reserved, data[64]
export const CAN_FD64_BODY_HEAD = 40 // up to the data: channel, dlc, valid bytes, tx count, id, ..., dir, ext offset, crc
export const CAN_ERROR_EXT_BODY = 32 // channel u16, length u16, flags u32, ecc, position, dlc, reserved, frame length u32, id u32, flags ext u16, 2 reserved, data[8]

/**
 * The header fields python-can writes after the header size (api number 5, application
 * bytes 2 6 8 1): files with them are known to open in Vector's tools; nothing reads them.
 */
export const HEADER_APPLICATION = Uint8Array.of(5, 0, 0, 0, 2, 6, 8, 1)

/** The statistics of a BLF file header. */
export interface BLFFileHeader {
  /** the file's size in bytes when it was closed (0 if its writer never finished) */
  fileSize: number
  /** header plus every container's header and uncompressed contents */
  uncompressedSize: number
  /** inner objects written */
  objectCount: number
  /** the measurement's start: ms since the epoch (its SYSTEMTIME is local time), 0 if none */
  startMs: number
  /** the last object's time, likewise */
  stopMs: number
}

/** Writes the 144-byte file header into `out` (zeroed by the caller). */
export function writeFileHeader(out: Buffer, header: BLFFileHeader): void {
  out.writeUInt32LE(FILE_SIGNATURE, 0)
  out.writeUInt32LE(FILE_HEADER_SIZE, 4)
  out.set(HEADER_APPLICATION, 8)
  out.writeBigUInt64LE(BigInt(header.fileSize), 16)
  out.writeBigUInt64LE(BigInt(header.uncompressedSize), 24)
  out.writeUInt32LE(header.objectCount, 32)
  writeSystemTime(out, 40, header.startMs)
  writeSystemTime(out, 56, header.stopMs)
}

/** The header's statistics; a string saying what is wrong when it is not a BLF header. */
export function readFileHeader(bytes: Buffer): (BLFFileHeader & { headerSize: number }) | string {
  if (bytes.length < 72) return `${bytes.length} bytes: shorter than a BLF file header`
  if (bytes.readUInt32LE(0) !== FILE_SIGNATURE) return 'no "LOGG" signature: not a BLF file'
  const headerSize = bytes.readUInt32LE(4)
  if (headerSize < 72) return `header size ${headerSize} is below 72`
  if (bytes.length < Math.min(headerSize, FILE_HEADER_SIZE)) {
    return `the file ends inside its header (${bytes.length} of ${headerSize} bytes)`
  }
  return {
    headerSize,
    fileSize: Number(bytes.readBigUInt64LE(16)),
    uncompressedSize: Number(bytes.readBigUInt64LE(24)),
    objectCount: bytes.readUInt32LE(32),
    startMs: readSystemTime(bytes, 40),
    stopMs: readSystemTime(bytes, 56),
  }
}

/** Times before 1990 are not wall-clock times (python-can's rule): no SYSTEMTIME for them. */
export const FIRST_WALL_CLOCK_MS = 631_152_000_000

/**
 * Windows SYSTEMTIME (year, month, day of week, day, hour, minute, second, ms; u16 each) in
 * local time, as Vector's tools and python-can write it; all zeros before 1990.
 */
function writeSystemTime(out: Buffer, at: number, ms: number): void {
  if (ms < FIRST_WALL_CLOCK_MS) return
  const d = new Date(ms)
  const fields = [
    d.getFullYear(),
    d.getMonth() + 1,
    d.getDay(),
    d.getDate(),
    d.getHours(),
    d.getMinutes(),
    d.getSeconds(),
    d.getMilliseconds(),
  ]
  for (let i = 0; i < 8; i++) out.writeUInt16LE(fields[i]!, at + 2 * i)
}

/** ms since the epoch of a SYSTEMTIME in local time; 0 for an empty or impossible one. */
function readSystemTime(bytes: Buffer, at: number): number {
  const year = bytes.readUInt16LE(at)
  const month = bytes.readUInt16LE(at + 2)
  const day = bytes.readUInt16LE(at + 6)
  if (year === 0 || month < 1 || month > 12 || day < 1 || day > 31) return 0
  const ms = new Date(
    year,
    month - 1,
    day,
    bytes.readUInt16LE(at + 8),
    bytes.readUInt16LE(at + 10),
    bytes.readUInt16LE(at + 12),
    bytes.readUInt16LE(at + 14),
  ).getTime()
  return Number.isFinite(ms) ? ms : 0
}

/** CAN FD DLC codes 9..15 as lengths, and back. */
const FD_LENGTH_OF_DLC = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64] as const

export function dlcToLength(dlc: number): number {
  return FD_LENGTH_OF_DLC[dlc & 0xf]!
}

export function lengthToDlc(length: number): number {
  if (length <= 8) return length
  return FD_LENGTH_OF_DLC.indexOf(length as (typeof FD_LENGTH_OF_DLC)[number])
}
