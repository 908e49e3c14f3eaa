// `canbridge dump` beyond this machine: it refuses a reachable address without
// authentication, and with --pki it is a TLS server that admits only certified edges.

import { ScriptedEdge } from '@canbridge/server-bus/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCli } from './support/cli-session.ts'
import { makePki, type TestPki } from './support/pki.ts'

let pki: TestPki
beforeAll(async () => {
  pki = await makePki(['pi'])
})
afterAll(() => pki.remove())

describe('canbridge dump and the network', () => {
  it('refuses 0.0.0.0 without authentication as bad usage (exit 2), naming its own flags', async () => {
    const p = startCli(['dump', '--host', '0.0.0.0', '--port', '0'])
    expect(await p.exited).toBe(2)
    expect(p.stderr).toMatch(
      /--host 0\.0\.0\.0 lets other machines connect, and nothing would prove who they are: add --pki DIR .*--tokens-file FILE .*--insecure/,
    )
    // the command's flags, not TCPBus's option names
    expect(p.stderr).not.toMatch(/clientCaFile|insecure: true|auth \(/)
  })

  it('--host beyond loopback with --insecure is no usage error', async () => {
    const p = startCli(['dump', '--host', '0.0.0.0', '--port', '0', '--insecure'])
    // it listens (and says INSECURE) instead of stopping with a usage error
    await p.waitForStderr(/listening on 0\.0\.0\.0:\d+/)
    expect(p.stderr).not.toMatch(/lets other machines connect/)
    p.kill()
  })

  it('--pki: TLS, and an edge with its certificate gets through', async () => {
    const p = startCli([
      'dump',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--pki',
      pki.layout.dir,
      '-n',
      '1',
    ])
    const port = await p.port()
    const files = await pki.edge('pi')
    const edge = await ScriptedEdge.start(
      { port, host: '127.0.0.1' },
      {
        edgeId: 'pi',
        tls: { ca: pki.ca, cert: files.cert, key: files.key, servername: 'localhost' },
      },
    )
    edge.sendFrames(0, 0, [{ id: 0x123, data: [1, 2] }])
    expect(await p.exited).toBe(0)
    expect(p.stdout).toBe('  can0  123   [2]  01 02\n')
    edge.destroy()
  })

  it('usage errors for half-given TLS settings', async () => {
    for (const [args, message] of [
      [['--tls-cert', 'a.crt'], /--tls-cert and --tls-key go together/],
      [['--client-ca', 'ca.crt'], /--client-ca needs TLS/],
      [['--pki', 'x', '--tls-key', 'k'], /--pki already names the certificate and key/],
    ] as const) {
      const p = startCli(['dump', '--port', '0', ...args])
      expect(await p.exited).toBe(2)
      expect(p.stderr).toMatch(message)
    }
  })
})
