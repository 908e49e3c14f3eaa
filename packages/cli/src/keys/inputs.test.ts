import { describe, expect, it } from 'vitest'
import { KeysError } from './errors.ts'
import { checkEdgeId, checkServerIp, checkServerName, MAX_DAYS, parseDays } from './inputs.ts'

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (error) {
    if (error instanceof KeysError) return error.code
    throw error
  }
}

describe('input checks', () => {
  it('edge ids: 1..64 of A-Z a-z 0-9 . _ -, no leading dot', () => {
    for (const ok of ['a', 'pi-garage', 'Pi_2.lab', '-x', '_', 'a'.repeat(64), 'x..y']) {
      expect(checkEdgeId(ok)).toBe(ok)
    }
    for (const bad of ['', '.', '.a', 'a/b', 'a\\b', 'a b', 'a:b', 'a'.repeat(65), 'ä', 'a\n']) {
      expect(codeOf(() => checkEdgeId(bad))).toBe('BAD_EDGE_ID')
    }
  })

  it('days: whole numbers 1..MAX_DAYS, as numbers or text', () => {
    expect(parseDays(1)).toBe(1)
    expect(parseDays('825')).toBe(825)
    expect(parseDays(MAX_DAYS)).toBe(MAX_DAYS)
    for (const bad of [0, -1, 1.5, Number.NaN, MAX_DAYS + 1, '0', '01x', '+5', '', '1e2', ' 1']) {
      expect(codeOf(() => parseDays(bad))).toBe('BAD_DAYS')
    }
  })

  it('server names: DNS names, an optional leading wildcard, no addresses', () => {
    for (const ok of ['localhost', 'ws.local', '*.example.org', 'a-b.c', 'x'.repeat(63)]) {
      expect(checkServerName(ok)).toBe(ok)
    }
    for (const bad of [
      '',
      '10.0.0.1',
      '::1',
      'a_b',
      '-a',
      'a-',
      'a..b',
      'a.*.b',
      'x'.repeat(64),
      `${'a.'.repeat(127)}ab`,
    ]) {
      expect(codeOf(() => checkServerName(bad))).toBe('BAD_SERVER_NAME')
    }
  })

  it('server addresses: IPv4 and IPv6 without brackets or zone', () => {
    for (const ok of ['127.0.0.1', '::1', 'fd00::10', '::ffff:10.0.0.1'])
      expect(checkServerIp(ok)).toBe(ok)
    for (const bad of ['', '256.0.0.1', '[::1]', 'fe80::1%eth0', 'localhost', '1.2.3']) {
      expect(codeOf(() => checkServerIp(bad))).toBe('BAD_SERVER_IP')
    }
  })
})
