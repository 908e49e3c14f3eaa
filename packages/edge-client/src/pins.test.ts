import { describe, expect, it } from 'vitest'
import { formatPin, parsePin, pinMatches } from './pins.ts'

const HEX = '0325EE495ED1EE6DE65988E7F280FADDE592F16DB436FF1AC69921AA4FC23E12'
const NODE_FORM = HEX.match(/../g)!.join(':')

describe('certificate pins', () => {
  it("takes Node's fingerprint256 form, with or without sha256:, colons or upper case", () => {
    for (const text of [
      `sha256:${NODE_FORM}`,
      NODE_FORM,
      NODE_FORM.toLowerCase(),
      HEX.toLowerCase(),
      `SHA256:${HEX}`,
      ` sha256:${NODE_FORM} `,
    ]) {
      expect(parsePin(text)).toBe(HEX)
    }
    expect(formatPin(HEX)).toBe(`sha256:${NODE_FORM}`)
  })

  it('matches a certificate fingerprint in any of those forms', () => {
    expect(pinMatches(NODE_FORM, [HEX])).toBe(true)
    expect(pinMatches(NODE_FORM.toLowerCase(), ['00'.repeat(32), HEX])).toBe(true)
    expect(pinMatches(NODE_FORM, ['00'.repeat(32)])).toBe(false)
  })

  it('refuses other hashes, wrong lengths and garbage, saying what a pin is', () => {
    expect(() => parsePin(`sha1:${NODE_FORM.slice(0, 59)}`)).toThrow(
      /only sha256 pins are supported/,
    )
    expect(() => parsePin(`sha256:${HEX.slice(2)}`)).toThrow(
      /has 62 hex digits: a SHA-256 fingerprint has 64/,
    )
    expect(() => parsePin('sha256:not-a-fingerprint')).toThrow(
      /is not a SHA-256 fingerprint: expected sha256: and 64 hex digits/,
    )
    expect(() => parsePin('')).toThrow(/has 0 hex digits/)
  })
})
