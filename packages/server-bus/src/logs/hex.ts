// Upper-case hex as can-utils prints it (lib.c hex_asc_upper), from tables: the writers format
// every byte of every frame, so no toString(16)/padStart per byte.

/** `HEX_DIGIT[n]`: one upper-case hex digit for 0..15. */
export const HEX_DIGIT: readonly string[] = Array.from({ length: 16 }, (_, n) =>
  n.toString(16).toUpperCase(),
)

/** `HEX_BYTE[b]`: two upper-case hex digits for 0..255. */
export const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, b) =>
  b.toString(16).toUpperCase().padStart(2, '0'),
)

/** `%03X` of an 11-bit id. */
export function hex3(value: number): string {
  return HEX_DIGIT[(value >>> 8) & 0xf]! + HEX_BYTE[value & 0xff]!
}

/** `%08X` of a 32-bit value. */
export function hex8(value: number): string {
  return (
    HEX_BYTE[(value >>> 24) & 0xff]! +
    HEX_BYTE[(value >>> 16) & 0xff]! +
    HEX_BYTE[(value >>> 8) & 0xff]! +
    HEX_BYTE[value & 0xff]!
  )
}

/** The bytes as contiguous upper-case hex (`DEADBEEF`). */
export function hexBytes(data: Uint8Array): string {
  let text = ''
  for (let i = 0; i < data.length; i++) text += HEX_BYTE[data[i]!]!
  return text
}
