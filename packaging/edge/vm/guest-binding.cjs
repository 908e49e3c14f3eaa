// In the arm test VM (vm-test.sh, init.sh): the socketcan addon the executable unpacked,
// loaded by the same architecture's Node, on the VM's real kernel. Checks the batch reader
// where armv7's 32-bit time_t makes the control messages differ: every kept frame equal to
// candump -L's line for it (id, data, kernel timestamp to the µs), and the frames the kernel
// dropped from a small queue counted exactly (cangen's counter payload says which). Also the
// synthetic decoding check of the build (../addon/check-addon.cjs).
//   node guest-binding.cjs <can.node> <candump -L log> <frames> <sent-marker file>
// Prints "BINDING ready" once its socket (with the smallest receive queue) is bound; send the
// frames then (cangen -I 321 -L 8 -D i), stop candump, create the marker file: only then
// does it start reading, so the queue holds the first frames and the kernel drops the rest.
'use strict'

const assert = require('node:assert/strict')
const { existsSync, readFileSync } = require('node:fs')
const { check } = require('./check-addon.cjs')

const [file, dumpLog, sentText, marker] = process.argv.slice(2)
const sent = Number(sentText)
const addon = require(file)
console.log(`BINDING ${check(file)}`)

const channel = new addon.RawChannel('vcan0', true, 1, false)
channel.setReceiveBuffer(1, false)
console.log('BINDING ready')
const records = new Uint8Array(64 * addon.BATCH_RECORD_BYTES)
const view = new DataView(records.buffer)
const lines = []
let lastDrops = 0
function start() {
  channel.startBatch(records, (count) => {
    for (let i = 0; i < count; i++) {
      const at = i * 88
      const sec = view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32
      const usec = Math.floor(view.getUint32(at + 8, true) / 1000)
      const id = view.getUint32(at + 12, true)
      const data = Buffer.from(records.subarray(at + 24, at + 24 + records[at + 16]))
      lastDrops = view.getUint32(at + 20, true)
      const idText = id.toString(16).toUpperCase().padStart(3, '0')
      lines.push(
        `(${String(sec).padStart(10, '0')}.${String(usec).padStart(6, '0')}) vcan0 ${idText}#${data.toString('hex').toUpperCase()}`,
      )
    }
  })
}

// read once the frames are sent, until the queue stays empty
let quiet = 0
let seen = -1
let reading = false
const timer = setInterval(() => {
  if (!reading) {
    reading = existsSync(marker)
    if (reading) start()
    return
  }
  quiet = lines.length === seen ? quiet + 1 : 0
  seen = lines.length
  if (quiet < 5) return
  clearInterval(timer)
  channel.stop()
  const want = readFileSync(dumpLog, 'utf8').trim().split('\n')
  assert.equal(want.length, sent, `candump saw ${want.length} of ${sent} frames`)
  assert.ok(lines.length > 0 && lines.length < sent, `kept ${lines.length} of ${sent}`)
  assert.deepEqual(lines, want.slice(0, lines.length))
  assert.equal(lastDrops, 0, 'frames queued before the first drop carry no drops')
  const drops = channel.readDrops()
  assert.equal(lines.length + drops, sent)
  console.log(
    `BINDING ok on ${process.arch}: kept ${lines.length} frames equal to candump -L (kernel stamps to the µs), ${drops} dropped counted by readDrops(), ${lines.length} + ${drops} == ${sent}`,
  )
}, 200)
