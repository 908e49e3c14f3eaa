// End to end with the real workstation side, secured: the daemon (virtual backend) and a
// TCPBus with TLS 1.3, client certificates and edge tokens; frames both ways. And what the
// daemon logs when the TCPBus refuses it.
import { CanMessage, TCPBus } from '@canbridge/server-bus'
import { describe, expect, it } from 'vitest'
import {
  cleanUpAfterEach,
  failure,
  onCleanup,
  pkiForThisFile,
  runEdge,
} from './support/secure-edge.ts'

cleanUpAfterEach()
const f = pkiForThisFile()
/** What the bus warns about, kept: its refusals are checked in words. */
function warningsKept(into: string[]) {
  return {
    debug() {},
    info() {},
    warn: (_: unknown, message: string) => into.push(message),
    error() {},
  }
}

async function secureBus(
  tokens: Record<string, string>,
  warnings: string[] = [],
): Promise<{ bus: TCPBus; port: number }> {
  const bus = await TCPBus.listen({
    port: 0,
    host: '127.0.0.1',
    receiveOwnMessages: true,
    logger: warningsKept(warnings),
    tls: f.busSecurity().tls,
    auth: { tokens },
  })
  onCleanup(() => bus.shutdown())
  return { bus, port: (bus.address as { port: number }).port }
}

function secureEdge(port: number, extra: string[] = []) {
  return runEdge([
    '--server',
    `127.0.0.1:${port}`,
    '--channel',
    'virtual:sec?rate=2000&count=500',
    ...f.edgeSettings(),
    ...extra,
  ])
}

describe('edge → TCPBus over TLS with client certificate and token', () => {
  it('delivers every frame in order and sends back', async () => {
    const { bus, port } = await secureBus({ 'pi-test': f.token })
    const edge = secureEdge(port)
    await bus.waitForEdge({ edgeId: 'pi-test', timeoutMs: 15_000 })
    // the counter pattern numbers its frames in the first three data bytes
    const numbers: number[] = []
    for await (const { data } of bus) {
      numbers.push(data[0]! | (data[1]! << 8) | (data[2]! << 16))
      if (numbers.length === 500) break
    }
    expect(numbers).toEqual(Array.from({ length: 500 }, (_, n) => n))
    await bus.send(
      new CanMessage({ arbitrationId: 0x321, data: [1, 2, 3], channel: 'pi-test/virtual:sec' }),
    )
    const echo = await bus.recv(5000)
    expect(echo?.arbitrationId).toBe(0x321)
    expect(echo?.isRx).toBe(false)
    expect(await edge.stop()).toBe(0)
  })

  it('the edge refuses a TCPBus that holds another token for it: no frame reaches the bus, and the bus logs a wrong token', async () => {
    const warnings: string[] = []
    const { bus, port } = await secureBus({ 'pi-test': 'the-bus-has-another-token-0123' }, warnings)
    const edge = secureEdge(port)
    const { reason } = await failure(edge, 'auth', 15_000)
    expect(reason).toMatch(/^the server could not prove it holds this edge's token/)
    expect(bus.channels).toEqual([])
    // the real edge hangs up at the challenge: the bus says why in words
    const deadline = Date.now() + 10_000
    while (!warnings.some((w) => w.includes('wrong token')) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20))
    expect(warnings).toContainEqual(
      expect.stringMatching(
        /^refused connection from 127\.0\.0\.1:\d+: AUTH_FAILED: wrong token: edge "pi-test" closed the connection at the token challenge/,
      ),
    )
    expect(warnings.filter((w) => w.endsWith('the edge closed the connection'))).toEqual([])
  })

  it('a TCPBus that requires client certificates: an edge without one is told to add it', async () => {
    const { bus, port } = await secureBus({ 'pi-test': f.token })
    const edge = runEdge([
      '--server',
      `127.0.0.1:${port}`,
      '--channel',
      'virtual:sec?rate=0',
      '--tls-ca',
      f.pki.ca.cert,
      '--token-file',
      f.tokenFile,
    ])
    const { reason } = await failure(edge, 'tls', 15_000)
    // TCPBus ends the TLS connection after the handshake (TLS 1.3: the edge's side is done)
    expect(reason).toBe(
      'the server closed the TLS connection right after the handshake, before its preamble: it most likely requires a client certificate (give this edge --tls-cert FILE --tls-key FILE), or it refuses this address; see the server log',
    )
    expect(bus.channels).toEqual([])
  })
})
