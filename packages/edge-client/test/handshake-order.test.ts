// Nothing but the handshake is acted on before WELCOME (PROTOCOL.md §1): the link itself
// (ServerLink, in this process: what it wrote and what it passed on), and the daemon on a
// virtual channel that loops sent frames back, so a frame that reached the bus would show.
import type { ControlMessage, ControlTypeName } from '@canbridge/protocol'
import { describe, expect, it } from 'vitest'
import { ServerLink } from '../src/link/connection.ts'
import type { LinkProblemKind } from '../src/link/security/link-handshake.ts'
import { PLAIN_LINK } from '../src/link/security/link-security.ts'
import { parsePin } from '../src/pins.ts'
import { opensslFingerprint, pem } from '../src/testing/certificates.ts'
import {
  cleanUpAfterEach,
  failure,
  pkiForThisFile,
  runEdge,
  serve,
  sleep,
  TEST_HELLO,
  transmitResults,
} from './helpers/secure-link.ts'

cleanUpAfterEach()
const f = pkiForThisFile()

const frame = { id: 0x123, flags: 0, len: 1, data: Uint8Array.of(7) }
const EARLY: { type: ControlTypeName; body: unknown }[] = [
  { type: 'TRANSMIT', body: { requestId: 1, channel: 0, frame } },
  { type: 'SET_FILTERS', body: { channel: null, filters: [{ canId: 1, canMask: 0x7ff }] } },
  { type: 'PERIODIC_START', body: { taskId: 1, channel: 0, periodMs: 5, frames: [frame] } },
]

interface Observed {
  link: ServerLink
  closed: Promise<{ reason: string; kind: LinkProblemKind; welcomed: boolean }>
  passedOn: ControlMessage[]
}

function link(address: string, security = PLAIN_LINK): Observed {
  const [host, port] = address.split(':')
  const passedOn: ControlMessage[] = []
  let link!: ServerLink
  const closed = new Promise<{ reason: string; kind: LinkProblemKind; welcomed: boolean }>(
    (resolve) => {
      link = new ServerLink(
        { kind: 'tcp', host: host!, port: Number(port) },
        TEST_HELLO,
        {
          onWelcome: () => {},
          onMessage: (message) => passedOn.push(message),
          onDrain: () => {},
          onClose: (reason, welcomed, kind) => resolve({ reason, kind, welcomed }),
        },
        { handshakeTimeoutMs: 5000, keepAliveMs: 10_000, security },
      )
    },
  )
  return { link, closed, passedOn }
}

describe('before WELCOME', () => {
  for (const early of EARLY) {
    it(`${early.type} before WELCOME closes the link and is passed on to nothing`, async () => {
      const { server, address } = await serve({ beforeWelcome: [early] })
      const observed = link(address)
      expect(await observed.closed).toEqual({
        reason: `protocol error from the server: ${early.type} before WELCOME (nothing is acted on before the handshake completes)`,
        kind: 'protocol',
        welcomed: false,
      })
      expect(observed.passedOn).toEqual([])
      expect(server.state.hellos).toHaveLength(1)
    })
  }

  it('a pin mismatch closes with not one byte handed to the socket', async () => {
    const { server, address } = await serve({
      tls: { cert: pem(f.pki.server.cert), key: pem(f.pki.server.key) },
    })
    const observed = link(address, {
      tls: {
        ca: null,
        caFile: null,
        pins: [parsePin(opensslFingerprint(f.pki.selfSigned.cert))],
        servername: null,
        cert: null,
        key: null,
      },
      token: null,
      insecure: false,
    })
    const closed = await observed.closed
    expect(closed.kind).toBe('tls')
    expect(closed.reason).toMatch(/^the server's certificate does not match a pinned fingerprint/)
    expect(observed.link.bytesWritten).toBe(0)
    expect(server.state.hellos).toEqual([])
  })

  it('the daemon puts no frame on the bus for commands before WELCOME; after a proper WELCOME it does', async () => {
    const { server, address } = await serve({ beforeWelcome: EARLY, capabilities: [] })
    const edge = runEdge(['--server', address, '--channel', 'virtual:bus?rate=0&loopback=1'])
    const { reason } = await failure(edge, 'protocol')
    expect(reason).toBe(
      'protocol error from the server: TRANSMIT before WELCOME (nothing is acted on before the handshake completes)',
    )
    // a few more rounds of the same, then a server that keeps to the protocol
    await sleep(500)
    server.options.beforeWelcome = undefined
    await edge.waitForMsg('connected to the server', 15_000)
    await sleep(300)
    expect(server.state.count(0)).toBe(0)
    expect(transmitResults(server)).toEqual([])
    // the same command after WELCOME reaches the bus (and comes back through the loop)
    server.send('TRANSMIT', { requestId: 2, channel: 0, frame })
    await server.waitFor(
      () => server.state.count(0) === 1 && transmitResults(server).length === 1,
      5000,
      'the looped frame and the result',
    )
    expect(transmitResults(server)).toEqual([{ requestId: 2, ok: true }])
  })
})
