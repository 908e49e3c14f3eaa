// Token authentication on the server (PROTOCOL.md §5.13) over real sockets: the right proof
// gets WELCOME, anything else gets a fatal ERROR before a single frame is accepted.
import { chmod, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CanInitializationError, type TCPBus, TCPBus as TCPBusClass } from '../../src/index.ts'
import { ScriptedEdge, sequenceFrame } from '../../src/testing/scripted-edge.ts'
import {
  BUS_MODES,
  type CapturingLogger,
  capturingLogger,
  listen,
  sleep,
  useBusMode,
  withMode,
} from '../support/helpers.ts'

const TOKEN = 'pi-a-token-0123456789abcdef'
let bus: TCPBus | undefined
let logger: CapturingLogger
const edges: ScriptedEdge[] = []

afterEach(async () => {
  for (const edge of edges.splice(0)) edge.destroy()
  await bus?.shutdown()
  bus = undefined
})

async function tokenBus(): Promise<TCPBus> {
  ;({ bus, logger } = await listen({ auth: { tokens: { 'pi-a': TOKEN } } }))
  return bus
}

async function connect(
  options: ConstructorParameters<typeof Object>[0] = {},
): Promise<ScriptedEdge> {
  const edge = await ScriptedEdge.connect(bus!.address, { edgeId: 'pi-a', ...options })
  edges.push(edge)
  return edge
}

describe.each(BUS_MODES)('token authentication ($mode)', (mode) => {
  useBusMode(mode)
  it('the right token: the server proves it too, WELCOME follows, frames flow', async () => {
    await tokenBus()
    const edge = await connect({ token: TOKEN })
    await edge.handshake()
    expect(edge.serverProofOk).toBe(true)
    edge.sendFrames(0, 0, [sequenceFrame(0), sequenceFrame(1)])
    const got = await bus!.recvBatch({ timeoutMs: 1000 })
    expect(got.map((m) => m.arbitrationId)).toEqual([0, 1])
    expect(bus!.edges.map((e) => e.edgeId)).toEqual(['pi-a'])
  })

  it('an edge that hangs up at the challenge, as canbridge-edge does with another token, is logged as a wrong token', async () => {
    await tokenBus()
    for (const edgeId of ['pi-a', 'pi-z']) {
      const edge = await connect({ edgeId, token: 'not-the-right-token-at-all' })
      edge.sendPreamble()
      edge.sendHello()
      await edge.waitFor('AUTH_CHALLENGE')
      // canbridge-edge checks the server's proof first and leaves without answering
      await edge.close()
    }
    const refused = () =>
      logger.at('warn').filter((e) => e.message.startsWith('refused connection from'))
    const deadline = Date.now() + 5000
    while (refused().length < 2 && Date.now() < deadline) await sleep(10)
    const [wrong, unknown] = refused().map((e) => e.message)
    expect(wrong).toMatch(
      /: wrong token: edge "pi-a" closed the connection at the token challenge, so the token it holds is not the one this bus has for "pi-a" /,
    )
    expect(unknown).toMatch(
      /: unknown edge: this bus has no token for edge "pi-z", and the edge closed the connection at the token challenge: add it to the bus's tokens \(canbridge keys add-edge pi-z\)$/,
    )
    expect(refused().some((e) => /the edge closed the connection$/.test(e.message))).toBe(false)
    expect(bus!.stats().refused['AUTH_FAILED']).toBe(2)
  })

  it('a wrong token: ERROR AUTH_FAILED, closed, no edge, no frame accepted', async () => {
    await tokenBus()
    const edge = await connect({ token: 'not-the-right-token-at-all' })
    edge.sendPreamble()
    edge.sendHello()
    const challenge = await edge.waitFor('AUTH_CHALLENGE')
    edge.answerChallenge(challenge)
    // the server's proof was made with the real token: the edge can tell it is not its own
    expect(edge.serverProofOk).toBe(false)
    edge.sendFrames(0, 0, [sequenceFrame(0)])
    const error = await edge.waitFor('ERROR')
    expect(error).toMatchObject({ code: 'AUTH_FAILED', fatal: true })
    await edge.closed
    expect(edge.messages('WELCOME')).toEqual([])
    expect(await bus!.recv(50)).toBeNull()
    expect(bus!.edges).toEqual([])
    expect(bus!.stats().refused['AUTH_FAILED']).toBe(1)
  })

  it('an unknown edge id fails exactly like a wrong token (nothing tells them apart)', async () => {
    await tokenBus()
    const edge = await connect({ edgeId: 'pi-stranger', token: TOKEN })
    edge.sendPreamble()
    edge.sendHello()
    edge.answerChallenge(await edge.waitFor('AUTH_CHALLENGE'))
    const error = await edge.waitFor('ERROR')
    expect(error.code).toBe('AUTH_FAILED')
    expect(edge.serverProofOk).toBe(false)
  })

  it('a HELLO without authNonce: ERROR AUTH_REQUIRED that says what to give the edge', async () => {
    await tokenBus()
    const edge = await connect()
    edge.sendPreamble()
    edge.sendHello()
    const error = await edge.waitFor('ERROR')
    expect(error.code).toBe('AUTH_REQUIRED')
    expect(error.message).toMatch(/--token-file/)
    await edge.closed
  })

  it('DATA before AUTH_RESPONSE closes the connection and delivers nothing', async () => {
    await tokenBus()
    const edge = await connect({ token: TOKEN })
    edge.sendPreamble()
    edge.sendHello()
    await edge.waitFor('AUTH_CHALLENGE')
    edge.sendFrames(0, 0, [sequenceFrame(0)])
    await edge.closed
    expect(await bus!.recv(50)).toBeNull()
    const warning = logger.at('warn').find((e) => e.fields['code'] === 'UNEXPECTED_MESSAGE')
    expect(warning?.message).toMatch(/DATA before AUTH_RESPONSE/)
  })

  it('a proof replayed from another connection fails (fresh nonces)', async () => {
    await tokenBus()
    const first = await connect({ token: TOKEN })
    first.sendPreamble()
    first.sendHello()
    await first.waitFor('AUTH_CHALLENGE')
    // the edge's proof of the first connection, captured, then sent on a second one
    const recorded: Uint8Array[] = []
    const original = first.sendControl.bind(first)
    first.sendControl = ((type, body) => {
      if (type === 'AUTH_RESPONSE') recorded.push((body as { proof: Uint8Array }).proof)
      return original(type, body)
    }) as typeof first.sendControl
    first.answerChallenge(first.received.find((m) => m.type === 'AUTH_CHALLENGE')!.body as never)
    await first.waitFor('WELCOME')
    const second = await connect({ token: TOKEN })
    second.sendPreamble()
    second.sendHello({ ...first.hello, instanceId: 'replay' })
    await second.waitFor('AUTH_CHALLENGE')
    second.sendControl('AUTH_RESPONSE', { proof: recorded[0]! })
    expect((await second.waitFor('ERROR')).code).toBe('AUTH_FAILED')
  })
})

describe.each(BUS_MODES)('tokens from edge-tokens.json ($mode)', (mode) => {
  useBusMode(mode)
  async function tokensFile(text: string, mode: number): Promise<string> {
    const path = join(await mkdtemp(join(tmpdir(), 'canbridge-tokens-')), 'edge-tokens.json')
    await writeFile(path, text)
    await chmod(path, mode)
    return path
  }
  const good = JSON.stringify({ version: 1, edges: { 'pi-a': TOKEN } })

  it('reads a private file and authenticates with it', async () => {
    const tokensFile = await tokensFileFor(good)
    ;({ bus, logger } = await listen({ auth: { tokensFile } }))
    const edge = await connect({ token: TOKEN })
    await edge.handshake()
    expect(edge.serverProofOk).toBe(true)
  })

  async function tokensFileFor(text: string): Promise<string> {
    return tokensFile(text, 0o600)
  }

  it('refuses a file other users can read, saying how to fix it', async () => {
    const path = await tokensFile(good, 0o644)
    await expect(
      TCPBusClass.listen(withMode({ port: 0, auth: { tokensFile: path } })),
    ).rejects.toThrow(/readable by other users \(mode 644\): run "chmod 600 .*edge-tokens\.json"/)
  })

  it('refuses broken tables and weak tokens, naming the file and the problem', async () => {
    const cases: [string, RegExp][] = [
      ['{', /not a canbridge token table \(invalid JSON/],
      [JSON.stringify({ version: 2, edges: {} }), /version 2, not 1/],
      [
        JSON.stringify({ version: 1, edges: { 'pi-a': 'short' } }),
        /edge "pi-a": a token must have at least 16 characters \(got 5\)/,
      ],
      [
        JSON.stringify({ version: 1, edges: {} }),
        /lists no edge: add one with "canbridge keys add-edge ID"/,
      ],
    ]
    for (const [text, message] of cases) {
      const path = await tokensFileFor(text)
      const attempt = TCPBusClass.listen(withMode({ port: 0, auth: { tokensFile: path } }))
      await expect(attempt).rejects.toThrow(CanInitializationError)
      await expect(attempt).rejects.toThrow(message)
    }
    await expect(
      TCPBusClass.listen(
        withMode({
          port: 0,
          auth: { tokensFile: join(tmpdir(), 'no-such-dir', 'x.json') },
        }),
      ),
    ).rejects.toThrow(/cannot read the tokens file .*x\.json: ENOENT/)
  })
})

describe.each(BUS_MODES)('who may listen where ($mode)', (mode) => {
  useBusMode(mode)
  it('binds 127.0.0.1 by default', async () => {
    ;({ bus, logger } = await listen({ host: undefined }))
    expect(bus.address).toMatchObject({ host: '127.0.0.1' })
  })

  it('refuses an address other machines reach without authentication, saying what to add', async () => {
    const attempt = TCPBusClass.listen(
      withMode({ port: 0, host: '0.0.0.0', logger: capturingLogger() }),
    )
    await expect(attempt).rejects.toThrow(CanInitializationError)
    await expect(attempt).rejects.toThrow(
      /listening on 0\.0\.0\.0 without authentication .* give auth \(edge tokens\) and\/or tls\.clientCaFile .* or insecure: true/,
    )
  })

  it('insecure: true opens it, loudly, at listen and at every edge connect', async () => {
    ;({ bus, logger } = await listen({ host: '0.0.0.0', insecure: true }))
    expect(
      logger.at('warn').some((e) => /^INSECURE: listening on 0\.0\.0\.0/.test(e.message)),
    ).toBe(true)
    const edge = await connect()
    await edge.handshake()
    await sleep(10)
    expect(logger.at('warn').some((e) => /^INSECURE: edge pi-a connected/.test(e.message))).toBe(
      true,
    )
  })

  it('tokens without TLS on a reachable address work, with a warning about the open link', async () => {
    ;({ bus, logger } = await listen({ host: '0.0.0.0', auth: { tokens: { 'pi-a': TOKEN } } }))
    expect(logger.at('warn').some((e) => /not encrypted \(no tls\)/.test(e.message))).toBe(true)
    const edge = await connect({ token: TOKEN })
    await edge.handshake()
  })
})
