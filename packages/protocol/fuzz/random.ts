// A small seeded PRNG (sfc32, seeded through splitmix32) so that every fuzz run can be
// replayed from (seed, run index) alone.

function splitmix32(state: number): () => number {
  let s = state >>> 0
  return () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    return (z ^ (z >>> 16)) >>> 0
  }
}

export class Random {
  #a: number
  #b: number
  #c: number
  #d: number

  /** A generator for `seed`, or for run `stream` of that seed. */
  constructor(seed: number, stream = 0) {
    const init = splitmix32((seed ^ Math.imul(stream + 1, 0x632be5ab)) >>> 0)
    init()
    this.#a = init()
    this.#b = init()
    this.#c = init()
    this.#d = init() | 1
    for (let i = 0; i < 12; i++) this.u32()
  }

  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0
    this.#d = (this.#d + 1) | 0
    this.#a = this.#b ^ (this.#b >>> 9)
    this.#b = (this.#c + (this.#c << 3)) | 0
    this.#c = (this.#c << 21) | (this.#c >>> 11)
    this.#c = (this.#c + t) | 0
    return t >>> 0
  }

  /** An integer in 0..n-1 (n ≤ 2^32). */
  below(n: number): number {
    return Math.floor((this.u32() / 0x1_0000_0000) * n)
  }

  /** An integer in min..max, both included. */
  range(min: number, max: number): number {
    return min + this.below(max - min + 1)
  }

  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff
    return out
  }

  /** A small size, most often tiny: min + geometric-ish up to max. */
  small(min: number, max: number): number {
    const span = max - min
    const roll = this.u32() / 0x1_0000_0000
    return min + Math.floor(span * roll * roll * roll)
  }
}
