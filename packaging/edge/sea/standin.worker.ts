// Worker of the stand-in: loads the addon the way the edge's poll worker does, and
// round-trips a control message through the bundled protocol package (msgpackr).
import { createRequire } from 'node:module'
import { parentPort, workerData } from 'node:worker_threads'
import {
  decodeControlBody,
  encodeControl,
  HEADER_BYTES,
  PROTOCOL_VERSION,
} from '@canbridge/protocol'

const require = createRequire(import.meta.url)
const native = require('socketcan/build/Release/can.node') as Record<string, unknown>
const timeMs = Date.now()
const message = encodeControl('HEARTBEAT', { timeMs })
const decoded = decodeControlBody('HEARTBEAT', message.subarray(HEADER_BYTES), HEADER_BYTES)
parentPort!.postMessage({
  workerData,
  addonExports: Object.keys(native).sort(),
  protocolVersion: PROTOCOL_VERSION,
  heartbeatRoundTrip: decoded.timeMs === timeMs,
})
