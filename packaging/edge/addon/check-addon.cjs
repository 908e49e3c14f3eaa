// Checks a build of the patched socketcan addon where AF_CAN may be missing (an arm build
// under qemu-user): it loads, says what it adds, and decodes recvmsg() results into batch
// records right. The control messages are laid out here from the kernel ABI of the running
// architecture (cmsghdr: a size_t length, then level and type; SO_* numbers from
// asm-generic/socket.h), independently of the C code's CMSG macros and structs: a 32-bit
// target (armv7) has a 12-byte cmsghdr and 8-byte _OLD timespecs, and must still read 64-bit
// seconds from the _NEW ones. CommonJS and plain JavaScript: armv7 ships Node 20.
//   node check-addon.cjs <path/to/can.node>     exit 0 and one line "ok ..." when it passes
'use strict'

const assert = require('node:assert/strict')

const SOL_SOCKET = 1
const SO_TIMESTAMPNS_OLD = 35
const SO_TIMESTAMPING_OLD = 37
const SO_RXQ_OVFL = 40
const SO_TIMESTAMPNS_NEW = 64
const SO_TIMESTAMPING_NEW = 65
const MSG_DONTROUTE = 0x4
const MSG_CONFIRM = 0x800
const CANFD_BRS = 0x01
const CANFD_ESI = 0x02
const CAN_EFF_FLAG = 0x80000000

// the record as patches/README.md documents it
const RECORD_BYTES = 88
const FLAG = { FD: 0x01, BRS: 0x02, ESI: 0x04, OWN: 0x08, LOCAL: 0x10, HW: 0x20 }

/** size_t and long: 4 bytes on 32-bit targets, 8 on 64-bit ones. */
const WORD = process.arch === 'arm' || process.arch === 'ia32' ? 4 : 8

const align = (n) => Math.ceil(n / WORD) * WORD

/** One control message: cmsghdr (len, level, type) and its payload, padded (CMSG_SPACE). */
function cmsg(type, payload) {
  const header = WORD + 8
  const out = Buffer.alloc(align(header) + align(payload.length))
  if (WORD === 8) out.writeBigUInt64LE(BigInt(align(header) + payload.length), 0)
  else out.writeUInt32LE(align(header) + payload.length, 0)
  out.writeInt32LE(SOL_SOCKET, WORD)
  out.writeInt32LE(type, WORD + 4)
  payload.copy(out, align(header))
  return out
}

/** struct __kernel_old_timespec: two C longs. */
function oldTimespec(sec, nsec) {
  const out = Buffer.alloc(2 * WORD)
  if (WORD === 8) {
    out.writeBigInt64LE(BigInt(sec), 0)
    out.writeBigInt64LE(BigInt(nsec), 8)
  } else {
    out.writeInt32LE(sec, 0)
    out.writeInt32LE(nsec, 4)
  }
  return out
}

/** struct __kernel_timespec: 64-bit seconds and nanoseconds everywhere. */
function newTimespec(sec, nsec) {
  const out = Buffer.alloc(16)
  out.writeBigInt64LE(BigInt(sec), 0)
  out.writeBigInt64LE(BigInt(nsec), 8)
  return out
}

function u32(value) {
  const out = Buffer.alloc(4)
  out.writeUInt32LE(value, 0)
  return out
}

/** struct can_frame (16 bytes) or struct canfd_frame (72) as read(). */
function frame(fd, canId, data, fdFlags) {
  const out = Buffer.alloc(fd ? 72 : 16)
  out.writeUInt32LE(canId >>> 0, 0)
  out[4] = data.length
  out[5] = fd ? fdFlags : 0
  Buffer.from(data).copy(out, 8)
  return out
}

function decode(addon, frameBytes, control, msgFlags, previousDrops) {
  const record = new Uint8Array(RECORD_BYTES).fill(0xee)
  const drops = addon.decodeReceivedMessage(
    new Uint8Array(frameBytes),
    new Uint8Array(control),
    msgFlags,
    record,
    previousDrops,
  )
  const view = new DataView(record.buffer)
  const len = record[16]
  return {
    returned: drops,
    sec: view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32,
    nsec: view.getUint32(8, true),
    canId: view.getUint32(12, true),
    len,
    flags: record[17],
    reserved: view.getUint16(18, true),
    drops: view.getUint32(20, true),
    data: [...record.subarray(24, 24 + len)],
  }
}

function check(file) {
  const addon = require(file)
  assert.ok(addon.features, 'no `features`: this addon is not the patched build')
  assert.deepEqual(
    { ...addon.features },
    {
      batch: true,
      batchWait: true,
      batchHold: true,
      drops: true,
      fdFlags: true,
      recvOwnMsgs: true,
      rcvbuf: true,
      sendErrno: true,
      timestampNs: true,
      version: 3,
    },
  )
  assert.ok(Object.isFrozen(addon.features), 'features must be frozen')
  assert.equal(addon.BATCH_RECORD_BYTES, RECORD_BYTES)
  assert.equal(typeof addon.RawChannel, 'function')
  for (const method of [
    'startBatch',
    'setBatchWait',
    'readBatch',
    'resumeBatch',
    'readDrops',
    'setRecvOwnMsgs',
    'setReceiveBuffer',
  ]) {
    assert.equal(typeof addon.RawChannel.prototype[method], 'function', method)
  }

  // classic, no control messages: no stamp, the drop counter carried
  assert.deepEqual(decode(addon, frame(false, 0x123, [1, 2, 3]), Buffer.alloc(0), 0, 7), {
    returned: 7,
    sec: 0,
    nsec: 0,
    canId: 0x123,
    len: 3,
    flags: 0,
    reserved: 0,
    drops: 7,
    data: [1, 2, 3],
  })

  // FD of 5 bytes with BRS and ESI, own and local; old-layout stamp and a drop counter
  const fd = decode(
    addon,
    frame(true, (CAN_EFF_FLAG | 0x1abcdef) >>> 0, [9, 8, 7, 6, 5], CANFD_BRS | CANFD_ESI),
    Buffer.concat([
      cmsg(SO_TIMESTAMPNS_OLD, oldTimespec(1_700_000_000, 123_456_789)),
      cmsg(SO_RXQ_OVFL, u32(42)),
    ]),
    MSG_CONFIRM | MSG_DONTROUTE,
    7,
  )
  assert.deepEqual(fd, {
    returned: 42,
    sec: 1_700_000_000,
    nsec: 123_456_789,
    canId: (CAN_EFF_FLAG | 0x1abcdef) >>> 0,
    len: 5,
    flags: FLAG.FD | FLAG.BRS | FLAG.ESI | FLAG.OWN | FLAG.LOCAL,
    reserved: 0,
    drops: 42,
    data: [9, 8, 7, 6, 5],
  })

  // FD without BRS/ESI, 64 bytes; the 64-bit layout with seconds past 2106 (beyond 32 bits)
  const data64 = Array.from({ length: 64 }, (_, i) => i)
  const late = 2 ** 33 + 5
  const wide = decode(
    addon,
    frame(true, 0x7ff, data64, 0),
    cmsg(SO_TIMESTAMPNS_NEW, newTimespec(late, 999_999_999)),
    0,
    0xffffffff,
  )
  assert.deepEqual(
    { sec: wide.sec, nsec: wide.nsec, flags: wide.flags, drops: wide.drops, len: wide.len },
    { sec: late, nsec: 999_999_999, flags: FLAG.FD, drops: 0xffffffff, len: 64 },
  )
  assert.deepEqual(wide.data, data64)

  // the controller's stamp (SO_TIMESTAMPING ts[2]) wins over the software one, either order
  for (const [type, timespec] of [
    [SO_TIMESTAMPING_OLD, oldTimespec],
    [SO_TIMESTAMPING_NEW, newTimespec],
  ]) {
    const hardware = cmsg(
      type,
      Buffer.concat([timespec(0, 0), timespec(0, 0), timespec(1_600_000_000, 5)]),
    )
    const software = cmsg(SO_TIMESTAMPNS_NEW, newTimespec(1_700_000_000, 1))
    for (const control of [
      Buffer.concat([hardware, software]),
      Buffer.concat([software, hardware]),
    ]) {
      const hw = decode(addon, frame(false, 0x1, []), control, 0, 0)
      assert.deepEqual(
        { sec: hw.sec, nsec: hw.nsec, flags: hw.flags },
        { sec: 1_600_000_000, nsec: 5, flags: FLAG.HW },
        `hardware stamp, cmsg type ${type}`,
      )
    }
    // no hardware stamp in it (ts[2] zero): the software stamp stands
    const none = cmsg(type, Buffer.concat([timespec(0, 0), timespec(0, 0), timespec(0, 0)]))
    const sw = decode(addon, frame(false, 0x1, []), Buffer.concat([software, none]), 0, 0)
    assert.deepEqual(
      { sec: sw.sec, nsec: sw.nsec, flags: sw.flags },
      { sec: 1_700_000_000, nsec: 1, flags: 0 },
    )
  }
  // malformed control messages (only a synthetic buffer has them): ignored, nothing read past them
  const truncated = cmsg(SO_RXQ_OVFL, u32(99))
  const lengthAt = (value) => {
    const copy = Buffer.from(truncated)
    if (WORD === 8) copy.writeBigUInt64LE(BigInt(value), 0)
    else copy.writeUInt32LE(value, 0)
    return copy
  }
  for (const control of [lengthAt(0), lengthAt(4096), truncated.subarray(0, WORD + 8)]) {
    const bad = decode(addon, frame(false, 0x2, [1]), control, 0, 3)
    assert.deepEqual(
      { returned: bad.returned, sec: bad.sec, flags: bad.flags },
      { returned: 3, sec: 0, flags: 0 },
    )
  }
  return `ok: patched socketcan addon (features v${addon.features.version}), records decoded for ${process.arch} (${WORD * 8}-bit cmsghdr)`
}

module.exports = { check }

if (require.main === module) {
  const file = process.argv[2]
  if (!file) {
    process.stderr.write('usage: node check-addon.cjs <path/to/can.node>\n')
    process.exit(2)
  }
  process.stdout.write(`${check(require('node:path').resolve(file))}\n`)
}
