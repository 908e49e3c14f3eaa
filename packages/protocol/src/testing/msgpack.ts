// Msgpack written by hand for golden vectors, without a msgpack library: the text says
// every byte, with two conveniences that keep it readable.

export interface HandMsgpackOptions {
  /**
   * How `M<n>` (a map of n entries) is written:
   * - `fixmap`: `0x80 + n`, msgpack's preferred form (n < 16);
   * - `map16`: `de 00 0n`, what msgpackr writes for every plain object unless its
   *   `variableMapSize` option is on (it reserves the 16-bit size before counting keys).
   */
  maps: 'fixmap' | 'map16'
}

/**
 * Bytes from hand-written msgpack text. Tokens, separated by spaces:
 * - hex bytes (`a7`, `cd 01 2c`, or a run such as `deadbeef`);
 * - `'text'`: the ASCII bytes of the text only (the string header is written by hand
 *   before it, e.g. `a7 'channel'`);
 * - `M<n>`: a map header for n entries, written as `options.maps` says.
 */
export function handMsgpack(text: string, options: HandMsgpackOptions): Uint8Array {
  const bytes: number[] = []
  const token = /\s*(?:'([^']*)'|M(\d+)|([0-9a-fA-F]+))\s*/y
  let position = 0
  while (position < text.length) {
    token.lastIndex = position
    const match = token.exec(text)
    if (match === null || match[0] === '') {
      throw new Error(`handMsgpack: cannot read ${JSON.stringify(text.slice(position))}`)
    }
    position = token.lastIndex
    const [, ascii, mapSize, hexRun] = match
    if (ascii !== undefined) {
      for (const char of ascii) {
        const code = char.charCodeAt(0)
        if (code > 0x7f) throw new Error(`handMsgpack: ${JSON.stringify(char)} is not ASCII`)
        bytes.push(code)
      }
    } else if (mapSize !== undefined) {
      const n = Number(mapSize)
      if (n > 15) throw new Error('handMsgpack: M<n> is for maps of at most 15 entries')
      if (options.maps === 'fixmap') bytes.push(0x80 + n)
      else bytes.push(0xde, 0x00, n)
    } else if (hexRun !== undefined) {
      if (hexRun.length % 2 !== 0) throw new Error(`handMsgpack: odd hex run ${hexRun}`)
      for (let i = 0; i < hexRun.length; i += 2)
        bytes.push(Number.parseInt(hexRun.slice(i, i + 2), 16))
    }
  }
  return Uint8Array.from(bytes)
}
