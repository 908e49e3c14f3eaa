// The security and transmit-policy settings from the command line, the environment and the
// config file: every misconfiguration stops the daemon with exit code 2 and a message that
// says what to fix; --insecure starts it, warning at every connection.
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { networkInterfaces, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { MAIN } from '../src/testing/edge-process.ts'
import { ScriptedServer } from './helpers/scripted-server.ts'
import { cleanUpAfterEach, runEdge } from './helpers/secure-link.ts'

cleanUpAfterEach()
const dir = mkdtempSync(join(tmpdir(), 'canbridge-security-config-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function run(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '', ...env },
    timeout: 15_000,
  })
  return { code: result.status, err: result.stderr }
}

function file(name: string, content: string, mode: number): string {
  const path = join(dir, name)
  writeFileSync(path, content)
  chmodSync(path, mode)
  return path
}

const remote = ['--server', '192.0.2.10:29536', '--channel', 'virtual:x']

describe('security settings at startup', () => {
  it('refuses plain TCP to another host without TLS, token or --insecure (exit 2)', () => {
    const r = run(remote)
    expect(r.code).toBe(2)
    expect(r.err).toBe(
      'canbridge-edge: plain TCP to 192.0.2.10 without authentication: anyone on that network could read the bus and put frames on it. Add TLS (--tls-ca FILE or --tls-pin sha256:…, with --tls-cert/--tls-key or --token-file), or a token (--token-file FILE), or, on a lab network only, --insecure\n',
    )
  })

  it('refuses a token file other users can read, and a short token', () => {
    const open = file('open.token', 'a-token-of-24-characters\n', 0o644)
    let r = run([...remote, '--token-file', open])
    expect(r.code).toBe(2)
    expect(r.err).toBe(
      `canbridge-edge: --token-file ${open} is accessible by other users (mode 0644): it holds a secret; run chmod 600 ${open} and make it owned by the user the edge runs as\n`,
    )
    const short = file('short.token', 'abc\n', 0o600)
    r = run(remote, { CANBRIDGE_TOKEN_FILE: short })
    expect(r.code).toBe(2)
    expect(r.err).toMatch(
      /--token-file .*short\.token: a token must have at least 16 characters \(got 3\)/,
    )
  })

  it('names the setting and its source for a bad pin, allow-list, rate or server name', () => {
    let r = run(remote, { CANBRIDGE_TLS_PINS: 'sha256:12:34' })
    expect(r.code).toBe(2)
    expect(r.err).toBe(
      'canbridge-edge: bad tls-pin "sha256:12:34" (from CANBRIDGE_TLS_PINS): "sha256:12:34" has 4 hex digits: a SHA-256 fingerprint has 64 (32 bytes)\n',
    )
    const config = file(
      'edge.json',
      JSON.stringify({ server: '127.0.0.1:1', channels: ['virtual:x'], txAllow: ['123', '1234'] }),
      0o644,
    )
    r = run(['--config', config])
    expect(r.code).toBe(2)
    expect(r.err).toMatch(
      /^canbridge-edge: bad tx-allow \["123","1234"\] \(from "txAllow" in .*edge\.json\): "1234" has 4 hex digits: write a standard \(11-bit\) id with 1 to 3 hex digits/,
    )
    r = run(['--server', '127.0.0.1:1', '--channel', 'virtual:x', '--tx-allow', '100-1FF,150'])
    expect(r.err).toMatch(/"150" overlaps "100-1FF" \(both standard ids\): list each id once/)
    r = run(['--server', '127.0.0.1:1', '--channel', 'virtual:x', '--tx-rate-limit', 'fast'])
    expect(r.code).toBe(2)
    expect(r.err).toMatch(
      /bad tx-rate-limit "fast" \(from --tx-rate-limit\): expected an integer from 1 to 1000000/,
    )
    r = run(['--server', '127.0.0.1:1', '--channel', 'virtual:x', '--tx-burst', '5'])
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/tx-burst 5 without a rate limit: .*give --tx-rate-limit N/)
    r = run([...remote, '--tls-pin', `${'ab'.repeat(32)}`, '--tls-servername', '10.0.0.1'])
    expect(r.code).toBe(2)
    expect(r.err).toMatch(
      /bad tls-servername "10\.0\.0\.1" .*an IP address: leave tls-servername out/,
    )
  })

  it('refuses TLS settings for a Unix socket server', () => {
    const r = run([
      '--server',
      'unix:/run/canbridge.sock',
      '--channel',
      'virtual:x',
      '--tls-pin',
      'ab'.repeat(32),
    ])
    expect(r.code).toBe(2)
    expect(r.err).toMatch(
      /TLS does not apply to a Unix socket server \(unix:\/run\/canbridge\.sock\): remove --tls-pin/,
    )
  })

  const outside = Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && !a.internal && a.family === 'IPv4')?.address
  // needs an address of this host that is not loopback, for a server the policy counts as remote
  it.skipIf(outside === undefined)(
    '--insecure starts plain TCP to a non-loopback server and warns once, not at every reconnect',
    async () => {
      const server = new ScriptedServer()
      const port = await server.listen(0, outside!)
      const edge = runEdge([
        '--server',
        `${outside}:${port}`,
        '--channel',
        'virtual:x?rate=0',
        '--insecure',
      ])
      try {
        await edge.waitForMsg('connected to the server')
        await server.close()
        // a second connection: the server comes back on the same port
        const again = new ScriptedServer()
        await again.listen(port, outside!)
        try {
          await edge.waitForLog(
            (line) =>
              line.msg === 'connected to the server' &&
              edge.logs.filter((l) => l.msg === 'connected to the server').length >= 2,
            15_000,
            'a second connection',
          )
        } finally {
          await again.close()
        }
        const warnings = edge.logs.filter((line) => line.msg.startsWith('INSECURE: plain TCP'))
        expect(warnings).toHaveLength(1)
        expect(warnings[0]).toMatchObject({ level: 40, server: `${outside}:${port}` })
      } finally {
        await server.close().catch(() => {})
      }
    },
  )
})
