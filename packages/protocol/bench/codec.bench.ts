// Codec throughput in frames/s: our encoder and decoder against msgpackr on the same frames.
// Run: pnpm bench (in packages/protocol). The last line is one JSON object.
import { Packr } from 'msgpackr'
import {
  BatchEncoder,
  type CanFrame,
  Decoder,
  encodePreamble,
  FRAME_FLAG,
  ROLE,
} from '../src/index.ts'

const BATCH_FRAMES = 1024
const BATCHES = 64
const ROUNDS = 7
const ROUND_MS = 150

function makeFrames(kind: 'classic' | 'fd'): CanFrame[] {
  const frames: CanFrame[] = []
  const len = kind === 'classic' ? 8 : 64
  const flags = kind === 'classic' ? FRAME_FLAG.EXT : FRAME_FLAG.FD | FRAME_FLAG.BRS
  for (let i = 0; i < BATCH_FRAMES * BATCHES; i++) {
    const data = new Uint8Array(len)
    for (let j = 0; j < len; j++) data[j] = (i + j) & 0xff
    frames.push({
      timestampNs: 1_700_000_000_000_000_000n + BigInt(i) * 1000n,
      id: i & 0x1fffffff & (kind === 'fd' ? 0x7ff : 0x1fffffff),
      flags,
      len,
      data,
    })
  }
  return frames
}

/**
 * Frames/s of `pass` (which handles `framesPerPass` frames): the best of ROUNDS rounds of
 * ROUND_MS each, since other work on a shared 2-core machine only ever slows a round down.
 */
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

function encodeAll(encoder: BatchEncoder, frames: CanFrame[]): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let b = 0; b < BATCHES; b++) {
    encoder.begin(0, b * BATCH_FRAMES)
    for (let i = b * BATCH_FRAMES; i < (b + 1) * BATCH_FRAMES; i++) encoder.add(frames[i]!)
    out.push(encoder.finish().slice())
  }
  return out
}

let sink = 0

function benchKind(kind: 'classic' | 'fd') {
  const frames = makeFrames(kind)
  const total = frames.length
  const encoder = new BatchEncoder({ maxFrames: BATCH_FRAMES })
  const encoded = encodeAll(encoder, frames)
  const preamble = encodePreamble(ROLE.EDGE)

  const encodeFps = measure(total, () => {
    for (let b = 0; b < BATCHES; b++) {
      encoder.begin(0, b * BATCH_FRAMES)
      for (let i = b * BATCH_FRAMES; i < (b + 1) * BATCH_FRAMES; i++) encoder.add(frames[i]!)
      sink += encoder.finish().length
    }
  })
  const decodeObjectsFps = measure(total, () => {
    const decoder = new Decoder({ peerRole: ROLE.EDGE })
    decoder.push(preamble)
    for (const chunk of encoded) {
      decoder.write(chunk, (m) => {
        if (m.type === 'DATA') sink += m.batch.frames().length
      })
    }
  })
  const decodeZeroCopyFps = measure(total, () => {
    const decoder = new Decoder({ peerRole: ROLE.EDGE })
    decoder.push(preamble)
    for (const chunk of encoded) {
      decoder.write(chunk, (m) => {
        if (m.type !== 'DATA') return
        const reader = m.batch.reader()
        while (reader.next()) sink += reader.id + reader.bytes[reader.dataOffset]!
      })
    }
  })

  // The reference peer: the same frames as plain objects through msgpackr (records on).
  const packr = new Packr()
  const groups = Array.from({ length: BATCHES }, (_, b) =>
    frames.slice(b * BATCH_FRAMES, (b + 1) * BATCH_FRAMES),
  )
  const packed = groups.map((g) => packr.pack(g))
  const msgpackrEncodeFps = measure(total, () => {
    for (const g of groups) sink += packr.pack(g).length
  })
  const msgpackrDecodeFps = measure(total, () => {
    for (const p of packed) sink += (packr.unpack(p) as unknown[]).length
  })
  return { encodeFps, decodeObjectsFps, decodeZeroCopyFps, msgpackrEncodeFps, msgpackrDecodeFps }
}

const fmt = (n: number) => n.toLocaleString('en-US').padStart(13)
const classic = benchKind('classic')
const fd = benchKind('fd')
console.log(
  `frames/s (${BATCHES} batches of ${BATCH_FRAMES}, node ${process.version}, best of ${ROUNDS} × ${ROUND_MS} ms)`,
)
console.log(`${'measure'.padEnd(20)} ${'classic 8 B'.padStart(13)} ${'FD 64 B'.padStart(13)}`)
for (const key of Object.keys(classic) as (keyof typeof classic)[]) {
  console.log(`${key.padEnd(20)} ${fmt(classic[key])} ${fmt(fd[key])}`)
}
console.log(
  `encode / msgpackr encode: ${(classic.encodeFps / classic.msgpackrEncodeFps).toFixed(2)}x classic, ${(fd.encodeFps / fd.msgpackrEncodeFps).toFixed(2)}x FD; ` +
    `decode objects / msgpackr decode: ${(classic.decodeObjectsFps / classic.msgpackrDecodeFps).toFixed(2)}x classic, ${(fd.decodeObjectsFps / fd.msgpackrDecodeFps).toFixed(2)}x FD`,
)
if (sink === 42) console.log('') // keeps the work observable to the optimizer
console.log(JSON.stringify({ ...classic, fd }))
