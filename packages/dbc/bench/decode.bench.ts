// Decode and encode throughput of a typical message (8 bytes, 8 signals, both byte orders,
// scaled), parse speed, and canmatrix's decode speed on the same frames in the same run.
// Run: pnpm bench (in packages/dbc). The last line is one JSON object.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type DecodedFrame, type EncodeValue, parseDbc } from '../src/index.ts'
import { PYTHON, runCanmatrix } from '../test/support/canmatrix.ts'
import { type MessageSpec, writeDbc } from '../test/support/dbc-writer.ts'
import { Random } from '../test/support/random.ts'

const FRAMES = 4096
const ROUNDS = 7
const ROUND_MS = 200
const ORACLE_FRAMES = 2000

const ENGINE: MessageSpec = {
  id: 0x100,
  isExtendedId: false,
  name: 'EngineData',
  length: 8,
  cycleTimeMs: 10,
  signals: [
    {
      name: 'Speed',
      startBit: 0,
      length: 16,
      byteOrder: 'little_endian',
      isSigned: false,
      factor: 0.01,
      unit: 'km/h',
    },
    {
      name: 'Rpm',
      startBit: 23,
      length: 16,
      byteOrder: 'big_endian',
      isSigned: false,
      factor: 0.25,
      unit: 'rpm',
    },
    {
      name: 'CoolantTemp',
      startBit: 32,
      length: 8,
      byteOrder: 'little_endian',
      isSigned: false,
      offset: -40,
      unit: 'degC',
    },
    {
      name: 'Throttle',
      startBit: 40,
      length: 7,
      byteOrder: 'little_endian',
      isSigned: false,
      factor: 0.8,
      unit: '%',
    },
    { name: 'BrakeOn', startBit: 47, length: 1, byteOrder: 'little_endian', isSigned: false },
    {
      name: 'Torque',
      startBit: 55,
      length: 12,
      byteOrder: 'big_endian',
      isSigned: true,
      factor: 0.5,
      unit: 'Nm',
    },
    { name: 'Gear', startBit: 59, length: 2, byteOrder: 'big_endian', isSigned: false },
    { name: 'Counter', startBit: 56, length: 2, byteOrder: 'little_endian', isSigned: false },
  ],
}

/** Frames/s of `pass` over `framesPerPass` frames: the best of ROUNDS rounds of ROUND_MS. */
function measure(framesPerPass: number, pass: () => void): number {
  for (let i = 0; i < 3; i++) pass() // warm-up for the JIT
  let best = 0
  for (let round = 0; round < ROUNDS; round++) {
    let frames = 0
    const start = process.hrtime.bigint()
    let elapsedNs = 0n
    while (elapsedNs < BigInt(ROUND_MS) * 1_000_000n) {
      pass()
      frames += framesPerPass
      elapsedNs = process.hrtime.bigint() - start
    }
    best = Math.max(best, frames / (Number(elapsedNs) / 1e9))
  }
  return Math.round(best)
}

/** A large database for parse speed: many messages in the layout CANdb++ writes. */
function largeDbc(random: Random): string {
  const messages: MessageSpec[] = []
  for (let i = 0; i < 1200; i++) {
    messages.push({
      ...ENGINE,
      id: i,
      name: `Message${i}`,
      signals: ENGINE.signals.map((s) => ({
        ...s,
        name: `${s.name}_${i}`,
        comment: random.chance(0.2) ? `comment for ${s.name}` : undefined,
        choices:
          s.length <= 4
            ? [
                [0, 'Off'],
                [1, 'On'],
                [2, 'Error'],
              ]
            : undefined,
      })),
    })
  }
  return writeDbc(messages)
}

let sink = 0
const random = new Random(20261206)
const db = parseDbc(writeDbc([ENGINE]))
const message = db.getMessage('EngineData')!
const frames = Array.from({ length: FRAMES }, () => ({
  arbitrationId: message.id,
  isExtendedId: false,
  data: random.bytes(8),
}))

// Results are kept (a ring of 1024), so the engine cannot leave the objects unmade.
const kept: DecodedFrame[] = new Array(1024)
const decodeFps = measure(FRAMES, () => {
  for (let i = 0; i < FRAMES; i++) kept[i & 1023] = db.decode(frames[i]!)
  sink += kept[7]!.signals['Speed'] as number
})
const decodeRawFps = measure(FRAMES, () => {
  for (let i = 0; i < FRAMES; i++) kept[i & 1023] = db.decode(frames[i]!, { raw: true })
  sink += kept[7]!.signals['Speed'] as number
})
const values: Record<string, EncodeValue>[] = frames.map((f) => {
  const decoded = db.decode(f).signals
  return Object.fromEntries(Object.entries(decoded).map(([k, v]) => [k, v]))
})
const encodeFps = measure(FRAMES, () => {
  for (let i = 0; i < FRAMES; i++)
    sink += db.encode('EngineData', values[i]!, { checkRange: false })[0]!
})

const text = largeDbc(random)
const megabytes = Buffer.byteLength(text) / 1e6
let bestParseMs = Number.POSITIVE_INFINITY
for (let i = 0; i < 5; i++) {
  const start = process.hrtime.bigint()
  sink += parseDbc(text).messages.length
  bestParseMs = Math.min(bestParseMs, Number(process.hrtime.bigint() - start) / 1e6)
}
const parseMsPerMb = Math.round((bestParseMs / megabytes) * 10) / 10

// The same frames through canmatrix (Python), timed inside its own process.
const work = mkdtempSync(join(tmpdir(), 'canbridge-dbc-bench-'))
let canmatrixDecodeFps: number | null = null
let canmatrixProblem: string | undefined
try {
  const answer = runCanmatrix(work, 'bench', writeDbc([ENGINE]), {
    decode: frames.slice(0, ORACLE_FRAMES).map((f) => ({
      id: f.arbitrationId,
      extended: false,
      data: Buffer.from(f.data).toString('hex'),
    })),
    benchRounds: 3,
  })
  canmatrixDecodeFps = answer.decodeFps === null ? null : Math.round(answer.decodeFps)
} catch (error) {
  canmatrixProblem = error instanceof Error ? error.message.split('\n')[0] : String(error)
} finally {
  rmSync(work, { recursive: true, force: true })
}

const fmt = (n: number) => n.toLocaleString('en-US').padStart(13)
console.log(
  `EngineData (8 bytes, 8 signals), node ${process.version}, best of ${ROUNDS} × ${ROUND_MS} ms`,
)
console.log(`decode frames/s        ${fmt(decodeFps)}`)
console.log(`decode raw frames/s    ${fmt(decodeRawFps)}`)
console.log(`encode frames/s        ${fmt(encodeFps)}`)
console.log(`parse ms per MB        ${fmt(parseMsPerMb)}  (${megabytes.toFixed(2)} MB, best of 5)`)
console.log(
  canmatrixDecodeFps === null
    ? `canmatrix: not measured (${canmatrixProblem ?? 'no figure'}; ${PYTHON} with python3-canmatrix)`
    : `canmatrix decode/s     ${fmt(canmatrixDecodeFps)}  → ours is ${(decodeFps / canmatrixDecodeFps).toFixed(0)}×`,
)
if (sink === 42) console.log('') // keeps the work observable to the optimizer
console.log(
  JSON.stringify({
    decodeFps,
    decodeRawFps,
    encodeFps,
    parseMsPerMb,
    canmatrixDecodeFps,
    speedupOverCanmatrix:
      canmatrixDecodeFps === null ? null : Math.round((decodeFps / canmatrixDecodeFps) * 10) / 10,
    cantoolsDecodeFps: null,
    cantoolsDecodeFpsReason:
      'cantools cannot be installed here (no PyPI); canmatrix, from Debian, is the Python implementation measured',
  }),
)
