// Decoder fuzzer: `pnpm fuzz [--runs N] [--seed S] [--max-ms MS] [--replay I]`.
//
// Feeds a fresh Decoder, in random chunkings followed by end(), with random bytes and with
// mutations of valid streams (preamble, DATA batches of every frame kind, every control
// type). Fails (exit 1, printing seed, run index and input) when anything but a
// ProtocolError is thrown, when an error breaks the decoder's contract (offset outside the
// input, a failed decoder that recovers), when an unmutated valid stream is refused, or when
// one input takes longer than --max-ms.
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import {
  type DecodedMessage,
  Decoder,
  type DecoderOptions,
  encodePreamble,
  frameProblem,
  PROTOCOL_ERROR_CODE,
  ProtocolError,
  ROLE,
  type Role,
} from '../src/index.ts'
import { concat, toHex } from '../src/testing/index.ts'
import { mutate, randomControlSample, type Sample, validSample } from './inputs.ts'
import { Random } from './random.ts'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000000' },
    seed: { type: 'string' },
    'max-ms': { type: 'string', default: '50' },
    replay: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
})

if (values.help) {
  console.log(`usage: node fuzz/decoder.fuzz.ts [options]
  --runs N     inputs to try (default 1000000)
  --seed S     seed (default: random; printed so a run can be repeated)
  --max-ms MS  slowest one input may be, wall clock (default 50)
  --replay I   run only input I of the seed, and print it`)
  process.exit(0)
}

function integerOption(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback
  const value = Number(text)
  if (!Number.isSafeInteger(value) || value < 0) {
    console.error(`--${name} must be a non-negative integer, got ${text}`)
    process.exit(2)
  }
  return value
}

const runs = integerOption('runs', values.runs, 1_000_000)
const seed = integerOption('seed', values.seed, Math.floor(Math.random() * 0x1_0000_0000)) >>> 0
const maxMs = integerOption('max-ms', values['max-ms'], 50)
const replay = values.replay === undefined ? undefined : integerOption('replay', values.replay, 0)

// ---------------------------------------------------------------------------------------
// The valid streams every mutation starts from, built once from the seed.

const CORPUS_SIZE = 512
const corpusRandom = new Random(seed, -1)
const corpus: Sample[] = Array.from({ length: CORPUS_SIZE }, (_, i) =>
  validSample(corpusRandom, i % 2 === 0 ? ROLE.EDGE : ROLE.SERVER),
)

interface Input {
  kind: string
  role: Role
  bytes: Uint8Array
  chunks: Uint8Array[]
  options: Omit<DecoderOptions, 'peerRole'>
  /** the input is a valid stream: the decoder must accept it */
  mustPass: boolean
}

/** Input `index` of the run: a function of (seed, index) only. */
function makeInput(index: number): Input {
  const r = new Random(seed, index)
  let role: Role = r.chance(0.5) ? ROLE.EDGE : ROLE.SERVER
  let bytes: Uint8Array
  let kind: string
  let mustPass = false
  const roll = r.below(100)
  if (roll < 8) {
    kind = 'random'
    bytes = r.bytes(r.small(0, 300))
  } else if (roll < 16) {
    kind = 'preamble+random'
    bytes = concat(encodePreamble(role), r.bytes(r.small(0, 300)))
  } else if (roll < 28) {
    kind = 'random control'
    const sample = randomControlSample(r, role)
    bytes = r.chance(0.3) ? mutate(r, sample, r.pick(corpus)) : sample.bytes
  } else if (roll < 33) {
    kind = 'valid'
    const sample = r.pick(corpus)
    role = sample.role
    bytes = sample.bytes
    mustPass = true
  } else {
    kind = 'mutated'
    const sample = r.pick(corpus)
    role = r.chance(0.97) ? sample.role : role
    bytes = mutate(r, sample, r.pick(corpus))
  }
  const options: Omit<DecoderOptions, 'peerRole'> = {}
  if (!mustPass && r.chance(0.1)) options.maxMessageBytes = r.range(1, 400)
  if (!mustPass && r.chance(0.1)) options.maxBatchFrames = r.range(1, 12)
  return { kind, role, bytes, chunks: chunk(r, bytes), options, mustPass }
}

function chunk(r: Random, bytes: Uint8Array): Uint8Array[] {
  const how = r.below(100)
  if (how < 30) return [bytes]
  if (how < 45) return Array.from(bytes, (b) => Uint8Array.of(b))
  const cuts = Array.from({ length: r.small(1, 12) }, () => r.below(bytes.length + 1)).sort(
    (a, b) => a - b,
  )
  const chunks: Uint8Array[] = []
  let previous = 0
  for (const cut of cuts) {
    chunks.push(bytes.subarray(previous, cut))
    previous = cut
  }
  chunks.push(bytes.subarray(previous))
  return chunks
}

// ---------------------------------------------------------------------------------------
// One input

class ContractBroken extends Error {
  override readonly name = 'ContractBroken'
}

const ERROR_CODES = new Set<string>(Object.values(PROTOCOL_ERROR_CODE))

/** Reads a delivered message the way a consumer would, checking what the decoder promised. */
function consume(message: DecodedMessage): void {
  if (message.type !== 'DATA') return
  const { batch } = message
  const frames = batch.frames()
  if (frames.length !== batch.count) throw new ContractBroken('frames() length is not count')
  const reader = batch.reader()
  for (let i = 0; i < batch.count; i++) {
    if (!reader.next()) throw new ContractBroken(`reader stopped at ${i} of ${batch.count}`)
    const frame = frames[i]!
    if (reader.seq !== batch.firstSeq + i || reader.id !== frame.id || reader.len !== frame.len)
      throw new ContractBroken(`reader and frames() disagree at ${i}`)
    const problem = frameProblem(frame.id, frame.flags, frame.len)
    if (problem) throw new ContractBroken(`delivered an invalid frame: ${problem}`)
  }
  if (reader.next()) throw new ContractBroken('reader walked past count')
  if (batch.firstSeq + batch.count - 1 > Number.MAX_SAFE_INTEGER)
    throw new ContractBroken('sequence range beyond 2^53 - 1')
}

/** Decodes one input; returns 'ok' or the ProtocolError code. Throws on a finding. */
function runInput(input: Input): string {
  const decoder = new Decoder({ peerRole: input.role, ...input.options })
  try {
    for (const piece of input.chunks) decoder.write(piece, consume)
    decoder.end()
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error
    if (!ERROR_CODES.has(error.code)) throw new ContractBroken(`unknown code ${error.code}`)
    const { offset, typeCode } = error
    if (
      offset === undefined ||
      !Number.isInteger(offset) ||
      offset < 0 ||
      offset > input.bytes.length
    )
      throw new ContractBroken(
        `${error.code} offset ${offset} outside the ${input.bytes.length}-byte input`,
      )
    if (typeCode !== undefined && !(Number.isInteger(typeCode) && typeCode >= 0 && typeCode < 256))
      throw new ContractBroken(`${error.code} typeCode ${typeCode}`)
    let again: unknown
    try {
      decoder.end()
    } catch (second) {
      again = second
    }
    if (again !== error) throw new ContractBroken('the decoder did not stay failed')
    if (input.mustPass) throw new ContractBroken(`a valid stream was refused: ${error.message}`)
    return error.code
  }
  return 'ok'
}

function report(index: number, input: Input, reason: string, error?: unknown): void {
  console.error(`\nFUZZ FAILURE: ${reason}`)
  console.error(
    `  seed ${seed}, run ${index} (replay: node fuzz/decoder.fuzz.ts --seed ${seed} --replay ${index})`,
  )
  console.error(
    `  kind ${input.kind}, peerRole ${input.role}, options ${JSON.stringify(input.options)}`,
  )
  console.error(`  chunks ${input.chunks.map((c) => c.length).join(',')}`)
  console.error(`  input (${input.bytes.length} bytes): ${toHex(input.bytes)}`)
  if (error !== undefined) console.error(error)
}

// ---------------------------------------------------------------------------------------

if (replay !== undefined) {
  const input = makeInput(replay)
  console.log(`seed ${seed}, run ${replay}: ${input.kind}, peerRole ${input.role}`)
  console.log(
    `options ${JSON.stringify(input.options)}, chunks ${input.chunks.map((c) => c.length).join(',')}`,
  )
  console.log(`input (${input.bytes.length} bytes): ${toHex(input.bytes)}`)
  const start = performance.now()
  try {
    console.log(`result: ${runInput(input)} in ${(performance.now() - start).toFixed(3)} ms`)
  } catch (error) {
    console.log('result: FINDING')
    console.log(error)
    process.exitCode = 1
  }
} else {
  main()
}

function main(): void {
  console.log(
    `fuzz: decoder, ${runs} runs, seed ${seed}, max ${maxMs} ms per input, corpus ${corpus.length} valid streams`,
  )
  const counts = new Map<string, number>()
  const started = performance.now()
  let lastReport = started
  let slowest = 0
  let slowestIndex = -1
  let bytesFed = 0
  const progressEvery = 100_000
  for (let index = 0; index < runs; index++) {
    const input = makeInput(index)
    bytesFed += input.bytes.length
    let outcome: string
    const start = performance.now()
    try {
      outcome = runInput(input)
    } catch (error) {
      report(
        index,
        input,
        error instanceof ContractBroken ? error.message : 'not a ProtocolError',
        error,
      )
      process.exitCode = 1
      return
    }
    let elapsed = performance.now() - start
    if (elapsed > maxMs) {
      // a GC pause or a scheduler hiccup is not the input's fault: time it twice more
      for (let retry = 0; retry < 2 && elapsed > maxMs; retry++) {
        const again = performance.now()
        runInput(input)
        elapsed = Math.min(elapsed, performance.now() - again)
      }
      if (elapsed > maxMs) {
        report(index, input, `one input took ${elapsed.toFixed(1)} ms (limit ${maxMs} ms)`)
        process.exitCode = 1
        return
      }
    }
    if (elapsed > slowest) {
      slowest = elapsed
      slowestIndex = index
    }
    counts.set(outcome, (counts.get(outcome) ?? 0) + 1)
    if ((index + 1) % progressEvery === 0 && index + 1 < runs) {
      const now = performance.now()
      const rate = Math.round(progressEvery / ((now - lastReport) / 1000))
      lastReport = now
      console.log(`  ${index + 1} runs, ${rate} runs/s: ${formatCounts(counts)}`)
    }
  }
  const seconds = (performance.now() - started) / 1000
  console.log(
    `fuzz: OK ${runs} runs in ${seconds.toFixed(1)} s (${Math.round(runs / seconds)} runs/s, ` +
      `${(bytesFed / 1e6).toFixed(1)} MB), seed ${seed}, slowest input ${slowest.toFixed(2)} ms ` +
      `(run ${slowestIndex}); ${formatCounts(counts)}`,
  )
}

function formatCounts(counts: Map<string, number>): string {
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => `${code} ${n}`)
    .join(', ')
}
