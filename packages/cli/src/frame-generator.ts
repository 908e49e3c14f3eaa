// cangen's frames: identifiers, lengths and payloads each random, incrementing or fixed, as
// can-utils' cangen makes them (incrementing data is a 64-bit little-endian counter).
import { FD_LENGTHS } from '@canbridge/protocol'
import { CanMessage } from '@canbridge/server-bus'

export type Mode = { kind: 'random' } | { kind: 'increment' } | { kind: 'fixed'; value: number }

export interface GeneratorSettings {
  id: Mode
  length: Mode
  /** fixed data: these bytes */
  data: { kind: 'random' } | { kind: 'increment' } | { kind: 'fixed'; bytes: Uint8Array }
  extended: boolean
  fd: boolean
  bitrateSwitch: boolean
  errorStateIndicator: boolean
  remote: boolean
}

const MAX_STANDARD_ID = 0x7ff
const MAX_EXTENDED_ID = 0x1fffffff

export class FrameGenerator {
  readonly settings: GeneratorSettings
  #id = 0
  #lengthIndex = 0
  #counter = 0n
  #random: () => number

  constructor(settings: GeneratorSettings, random: () => number = Math.random) {
    this.settings = settings
    this.#random = random
  }

  /** The lengths a frame may have: 0..8 classic, the FD lengths with -f. */
  get lengths(): readonly number[] {
    return this.settings.fd ? FD_LENGTHS : [0, 1, 2, 3, 4, 5, 6, 7, 8]
  }

  next(): CanMessage {
    const s = this.settings
    const maxId = s.extended ? MAX_EXTENDED_ID : MAX_STANDARD_ID
    let id: number
    if (s.id.kind === 'fixed') id = s.id.value
    else if (s.id.kind === 'increment') {
      id = this.#id
      this.#id = this.#id === maxId ? 0 : this.#id + 1
    } else id = Math.floor(this.#random() * (maxId + 1))
    const lengths = this.lengths
    let length: number
    if (s.length.kind === 'fixed') length = s.length.value
    else if (s.length.kind === 'increment') {
      length = lengths[this.#lengthIndex]!
      this.#lengthIndex = (this.#lengthIndex + 1) % lengths.length
    } else length = lengths[Math.floor(this.#random() * lengths.length)]!
    const data = new Uint8Array(s.remote ? 0 : length)
    if (!s.remote) {
      if (s.data.kind === 'fixed') data.set(s.data.bytes.subarray(0, length))
      else if (s.data.kind === 'increment') {
        const counter = this.#counter
        for (let i = 0; i < Math.min(length, 8); i++)
          data[i] = Number((counter >> BigInt(8 * i)) & 0xffn)
        this.#counter = (counter + 1n) & 0xffff_ffff_ffff_ffffn
      } else for (let i = 0; i < length; i++) data[i] = Math.floor(this.#random() * 256)
    }
    return new CanMessage({
      arbitrationId: id,
      isExtendedId: s.extended,
      isRemoteFrame: s.remote,
      isFd: s.fd,
      bitrateSwitch: s.bitrateSwitch,
      errorStateIndicator: s.errorStateIndicator,
      dlc: length,
      data,
    })
  }
}
