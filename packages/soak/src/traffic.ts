// Traffic shapes as cangen argument sets, and the rate arithmetic: a rate in frames/s becomes
// cangen's gap (`-g`, milliseconds, fractions allowed) and burst (`-c`). Mixed traffic runs
// several cangen processes at once, one per component.

export const SHAPES = [
  'increment',
  'random',
  'extended',
  'lengths',
  'fd',
  'remote',
  'burst',
  'mixed',
] as const
export type Shape = (typeof SHAPES)[number]

export const SHAPE_HELP: Record<Shape, string> = {
  increment: 'standard ids and payloads counting up (-I i -D i -L 8)',
  random: 'random standard ids, lengths and data (cangen default)',
  extended: 'random 29-bit ids (-e)',
  lengths: 'random lengths 0..8, standard and extended ids',
  fd: 'CAN FD with bit-rate switch, random lengths up to 64 (-f -b; needs MTU 72)',
  remote: 'remote frames with random DLC (-R)',
  burst: 'bursts of 50 frames back to back (-c 50)',
  mixed:
    '90% cangen -m (each frame at random: standard or extended id, random length, classic or CAN FD with or without BRS/ESI, remote) and 10% incrementing (needs MTU 72)',
}

/** One cangen process: its share of the rate and its fixed arguments (no -g/-c/interface). */
export interface Generator {
  name: string
  share: number
  args: string[]
  /** frames per cangen loop iteration (`-c`); bursts use more */
  burst: number
  fd: boolean
}

const BASE: Record<Exclude<Shape, 'mixed'>, Omit<Generator, 'share'>> = {
  increment: { name: 'increment', args: ['-I', 'i', '-D', 'i', '-L', '8'], burst: 1, fd: false },
  random: { name: 'random', args: [], burst: 1, fd: false },
  extended: { name: 'extended', args: ['-e'], burst: 1, fd: false },
  lengths: { name: 'lengths', args: ['-e', '-L', 'r'], burst: 1, fd: false },
  fd: { name: 'fd', args: ['-f', '-b'], burst: 1, fd: true },
  remote: { name: 'remote', args: ['-R'], burst: 1, fd: false },
  burst: { name: 'burst', args: ['-e'], burst: 50, fd: false },
}

const MIX: Omit<Generator, 'share'> = { name: 'mix', args: ['-m'], burst: 1, fd: true }

// One cangen -m does most of the mix (fewer processes: each costs a CPU share and a slow
// fork in the kernel harness); the incrementing part makes gaps easy to read in a dump.
const MIXED: [Omit<Generator, 'share'>, number][] = [
  [MIX, 0.9],
  [BASE.increment, 0.1],
]

/** The generators of a list of shapes; each shape gets an equal part of the rate. */
export function generatorsFor(shapes: readonly Shape[]): Generator[] {
  if (shapes.length === 0) throw new RangeError('no traffic shape given')
  const out: Generator[] = []
  for (const shape of shapes) {
    const part = 1 / shapes.length
    if (shape === 'mixed') {
      for (const [generator, share] of MIXED) out.push({ ...generator, share: share * part })
    } else {
      out.push({ ...BASE[shape], share: part })
    }
  }
  return out
}

export interface Pace {
  /** cangen -g, milliseconds (fractions allowed) */
  gapMs: number
  /** cangen -c */
  burst: number
}

/**
 * Smallest gap used: below it the burst grows instead. Each cangen wakes at most 50 times a
 * second and frames arrive in bursts: every process on the path (cangen, candump, the edge,
 * this soak) then pays its per-wake-up cost once per burst, which is what lets the kernel
 * harness (one CPU, slow system calls) sustain 2,000 frames/s.
 */
export const MIN_GAP_MS = 20

/**
 * The gap and burst that give `rate` frames/s, given `overheadMs` spent per cangen loop
 * besides the sleep (writes, scheduling; measured while running): the smallest burst (at
 * least `burst`) that leaves a gap of MIN_GAP_MS or more.
 */
export function pace(rate: number, burst: number, overheadMs = 0): Pace {
  if (!(rate > 0)) throw new RangeError(`rate must be > 0, got ${rate}`)
  const c = Math.min(
    4096,
    Math.max(Math.max(1, Math.round(burst)), Math.ceil(((MIN_GAP_MS + overheadMs) * rate) / 1000)),
  )
  return { gapMs: Math.max(0.001, round3((c * 1000) / rate - overheadMs)), burst: c }
}

/**
 * The per-loop overhead seen when a generator paced at `p` achieved `achieved` frames/s:
 * each loop took `burst / achieved` seconds, of which `gapMs` was sleep.
 */
export function overheadOf(p: Pace, achieved: number): number {
  if (!(achieved > 0)) return 0
  return Math.max(0, (p.burst * 1000) / achieved - p.gapMs)
}

/** The full cangen command line for one generator. */
export function cangenArgs(iface: string, generator: Generator, p: Pace): string[] {
  return [iface, '-g', String(p.gapMs), '-c', String(p.burst), ...generator.args]
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000
}
