// The TLS and token settings checked together, on real files made by openssl: every bad file
// and every bad combination stops the start with a message that says what to fix.
import { chmodSync, copyFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../config.ts'
import { parsePin } from '../../pins.ts'
import { createTestPki, opensslFingerprint, type TestPki } from '../../testing/certificates.ts'
import {
  describeLinkSecurity,
  isLoopback,
  resolveLinkSecurity,
  type SecuritySettings,
} from './link-security.ts'

let pki: TestPki
beforeAll(() => {
  pki = createTestPki('pi-test')
})
afterAll(() => pki.remove())

const none = {
  tlsCa: null,
  tlsPins: [],
  tlsServername: null,
  tlsCert: null,
  tlsKey: null,
  tokenFile: null,
  insecure: false,
}

function settings(overrides: Partial<SecuritySettings>): SecuritySettings {
  return {
    server: [{ kind: 'tcp', host: '192.168.1.10', port: 29536 }],
    edgeId: 'pi-test',
    ...none,
    ...overrides,
  }
}

function refusal(overrides: Partial<SecuritySettings>): string {
  try {
    resolveLinkSecurity(settings(overrides))
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as Error).message
  }
  throw new Error('expected a ConfigError')
}

function file(name: string, content: string, mode = 0o600): string {
  const path = join(pki.dir, name)
  writeFileSync(path, content)
  chmodSync(path, mode)
  return path
}

describe('link security settings', () => {
  it('knows loopback hosts', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', 'LOCALHOST'])
      expect(isLoopback(host)).toBe(true)
    for (const host of ['192.168.1.10', '128.0.0.1', 'pi.local', '::2'])
      expect(isLoopback(host)).toBe(false)
  })

  it('refuses plain TCP past this host without TLS, token or --insecure, saying what to add', () => {
    expect(refusal({})).toBe(
      'plain TCP to 192.168.1.10 without authentication: anyone on that network could read the bus and put frames on it. Add TLS (--tls-ca FILE or --tls-pin sha256:…, with --tls-cert/--tls-key or --token-file), or a token (--token-file FILE), or, on a lab network only, --insecure',
    )
    const insecure = resolveLinkSecurity(settings({ insecure: true }))
    expect(insecure.security).toEqual({ tls: null, token: null, insecure: true })
    expect(describeLinkSecurity(insecure.security)).toBe('no TLS, no token, INSECURE (--insecure)')
    // loopback and Unix sockets never leave the host
    const local = resolveLinkSecurity(
      settings({ server: [{ kind: 'tcp', host: '127.0.0.1', port: 1 }] }),
    )
    expect(local).toEqual({ security: { tls: null, token: null, insecure: false }, warnings: [] })
    const unix = resolveLinkSecurity(settings({ server: [{ kind: 'unix', path: '/run/c.sock' }] }))
    expect(unix.security.insecure).toBe(false)
    expect(
      resolveLinkSecurity(
        settings({ server: [{ kind: 'tcp', host: 'localhost', port: 1 }], insecure: true }),
      ).warnings,
    ).toEqual(['--insecure has no effect: the link is protected or stays on this host'])
  })

  it('several servers: one setting for all, each server checked against it', () => {
    const loopback = { kind: 'tcp', host: '127.0.0.1', port: 1 } as const
    const remote = { kind: 'tcp', host: '192.168.1.11', port: 1 } as const
    const unix = { kind: 'unix', path: '/run/c.sock' } as const
    // one remote server in the list is enough to need protection
    expect(refusal({ server: [loopback, remote] })).toMatch(
      /^plain TCP to 192\.168\.1\.11 without authentication/,
    )
    expect(refusal({ server: [{ kind: 'tcp', host: '192.168.1.10', port: 1 }, remote] })).toMatch(
      /^plain TCP to 192\.168\.1\.10, 192\.168\.1\.11 without authentication/,
    )
    expect(resolveLinkSecurity(settings({ server: [loopback, unix] })).security.insecure).toBe(
      false,
    )
    // TLS applies to every server: a Unix socket among them refuses it
    expect(refusal({ server: [loopback, unix], tlsCa: pki.ca.cert })).toBe(
      "TLS does not apply to a Unix socket server (unix:/run/c.sock): remove --tls-ca (the TLS settings apply to every --server); the socket file's owner and mode protect it (--token-file still works)",
    )
    const tls = resolveLinkSecurity(settings({ server: [loopback, remote], tlsCa: pki.ca.cert }))
    expect(tls.warnings).toEqual([])
    // one --tls-servername for servers of different hosts: each certificate must carry it
    const named = resolveLinkSecurity(
      settings({ server: [loopback, remote], tlsCa: pki.ca.cert, tlsServername: 'gw.lab' }),
    )
    expect(named.warnings).toEqual([
      '--tls-servername gw.lab is checked at every server (127.0.0.1, 192.168.1.11): each server certificate must carry that name; without --tls-servername each server is checked by its own host name',
    ])
  })

  it('reads a CA and a client certificate with its key; checks the pair and the edge id', () => {
    const { security, warnings } = resolveLinkSecurity(
      settings({ tlsCa: pki.ca.cert, tlsCert: pki.client.cert, tlsKey: pki.client.key }),
    )
    expect(warnings).toEqual([])
    expect(security.tls?.ca).toContain('-----BEGIN CERTIFICATE-----')
    expect(security.tls?.cert).toContain('-----BEGIN CERTIFICATE-----')
    expect(security.tls?.key).toContain('PRIVATE KEY-----')
    expect(security.token).toBeNull()
    expect(describeLinkSecurity(security)).toBe(
      `TLS 1.3, server verified by CA ${pki.ca.cert}, client certificate, no token`,
    )
    expect(refusal({ tlsCa: pki.ca.cert, tlsCert: pki.client.cert, tlsKey: pki.server.key })).toBe(
      `--tls-key ${pki.server.key} does not belong to --tls-cert ${pki.client.cert} (another key pair): give the key made with that certificate`,
    )
    expect(
      refusal({
        edgeId: 'pi-other',
        tlsCa: pki.ca.cert,
        tlsCert: pki.client.cert,
        tlsKey: pki.client.key,
      }),
    ).toMatch(/is made for edge "pi-test", but this edge is "pi-other"/)
  })

  it('verifies by pin alone: the pins are kept, no CA', () => {
    const pin = parsePin(opensslFingerprint(pki.selfSigned.cert))
    const { security } = resolveLinkSecurity(settings({ tlsPins: [pin] }))
    expect(security.tls).toMatchObject({ ca: null, pins: [pin], cert: null })
    expect(describeLinkSecurity(security)).toBe(
      `TLS 1.3, server verified by pin sha256:${opensslFingerprint(pki.selfSigned.cert)}, no token`,
    )
  })

  it('refuses TLS settings that cannot work together', () => {
    expect(refusal({ server: [{ kind: 'unix', path: '/run/c.sock' }], tlsCa: pki.ca.cert })).toBe(
      "TLS does not apply to a Unix socket server (unix:/run/c.sock): remove --tls-ca; the socket file's owner and mode protect it (--token-file still works)",
    )
    expect(refusal({ tlsCert: pki.client.cert, tlsKey: pki.client.key })).toMatch(
      /^TLS without a way to verify the server: add --tls-ca FILE .* or --tls-pin sha256:…/,
    )
    expect(refusal({ tlsCa: pki.ca.cert, tlsCert: pki.client.cert })).toBe(
      "--tls-cert without --tls-key: give the certificate's private key too (--tls-key FILE)",
    )
    expect(refusal({ tlsCa: pki.ca.cert, tlsKey: pki.client.key })).toMatch(
      /^--tls-key without --tls-cert/,
    )
  })

  it('refuses unreadable files and files that are not what they should be', () => {
    expect(refusal({ tlsCa: join(pki.dir, 'missing.crt') })).toBe(
      `--tls-ca ${join(pki.dir, 'missing.crt')}: no such file: copy it to this device (made by "canbridge keys" on the workstation) or correct the path`,
    )
    expect(refusal({ tlsCa: pki.ca.key })).toBe(
      `--tls-ca ${pki.ca.key} holds a private key, not a certificate: give the certificate file (.crt)`,
    )
    const garbage = file('garbage.crt', 'hello\n', 0o644)
    expect(refusal({ tlsCa: garbage })).toMatch(
      /holds no PEM certificate \(-----BEGIN CERTIFICATE-----\)/,
    )
    const damaged = file(
      'damaged.crt',
      '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
      0o644,
    )
    expect(refusal({ tlsCa: damaged })).toMatch(/certificate 1 is damaged/)
    const notKey = file('not.key', 'nope\n')
    expect(refusal({ tlsCa: pki.ca.cert, tlsCert: pki.client.cert, tlsKey: notKey })).toMatch(
      /--tls-key .*not\.key is not a PEM private key/,
    )
  })

  it('refuses a key or token file other users can read, like ssh', () => {
    const open = join(pki.dir, 'open.key')
    copyFileSync(pki.client.key, open)
    chmodSync(open, 0o644)
    expect(refusal({ tlsCa: pki.ca.cert, tlsCert: pki.client.cert, tlsKey: open })).toBe(
      `--tls-key ${open} is accessible by other users (mode 0644): it holds a secret; run chmod 600 ${open} and make it owned by the user the edge runs as`,
    )
    const token = file('group.token', 'a-token-of-24-characters\n', 0o640)
    expect(refusal({ tokenFile: token })).toMatch(/accessible by other users \(mode 0640\)/)
  })

  it('reads the token: one line, long enough, no whitespace', () => {
    const good = file('good.token', 'a-token-of-24-characters\n')
    const resolved = resolveLinkSecurity(settings({ tokenFile: good }))
    expect(resolved.security.token).toBe('a-token-of-24-characters')
    // a token alone past this host is allowed, with a warning: it is not encrypted
    expect(resolved.warnings).toEqual([
      'the token authenticates both ends, but without TLS the link is not encrypted and a man-in-the-middle can relay it: add --tls-ca or --tls-pin',
    ])
    expect(
      resolveLinkSecurity(
        settings({ tokenFile: file('crlf.token', 'a-token-of-24-characters\r\n') }),
      ).security.token,
    ).toBe('a-token-of-24-characters')
    expect(refusal({ tokenFile: file('short.token', 'short\n') })).toBe(
      `--token-file ${join(pki.dir, 'short.token')}: a token must have at least 16 characters (got 5); create one with "canbridge keys add-edge"`,
    )
    expect(refusal({ tokenFile: file('two.token', 'a-token-of-24-characters\nsecond\n') })).toMatch(
      /holds 2 lines: it must hold the edge's token alone, on one line/,
    )
    expect(refusal({ tokenFile: file('empty.token', '') })).toMatch(/is empty/)
    expect(refusal({ tokenFile: file('space.token', 'a token with spaces in it\n') })).toMatch(
      /may not contain whitespace/,
    )
  })

  it('warns about an expired client certificate without refusing it (the clock may be wrong)', () => {
    const client = createTestPki('pi-test')
    try {
      const { warnings } = resolveLinkSecurity(
        settings({
          tlsCa: client.ca.cert,
          tlsCert: client.expired.cert,
          tlsKey: client.expired.key,
          edgeId: 'server',
        }),
      )
      expect(warnings).toEqual([
        expect.stringMatching(/^the client certificate .*expired\.crt expired on /),
      ])
    } finally {
      client.remove()
    }
  })
})
