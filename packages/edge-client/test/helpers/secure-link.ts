// Shared by the TLS, token and transmit-policy tests: a scripted server and the daemon
// started against it, both cleaned up after each test, and the daemon's reasons for closing.
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Hello, TransmitResult } from '@canbridge/protocol'
import { afterAll, afterEach, beforeAll } from 'vitest'
import { createTestPki, type TestPki } from '../../src/testing/certificates.ts'
import { EdgeProcess, type LogLine } from '../../src/testing/edge-process.ts'
import { ScriptedServer, type ScriptedServerOptions } from './scripted-server.ts'

const cleanups: (() => Promise<unknown> | unknown)[] = []

/** Call once at the top of a test file: ends servers and edges after each test. */
export function cleanUpAfterEach(): void {
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })
}

export function onCleanup(cleanup: () => Promise<unknown> | unknown): void {
  cleanups.push(cleanup)
}

export async function serve(options: ScriptedServerOptions = {}): Promise<{
  server: ScriptedServer
  address: string
}> {
  const server = new ScriptedServer(options)
  const port = await server.listen(0)
  cleanups.push(() => server.close())
  return { server, address: `127.0.0.1:${port}` }
}

/** Starts the daemon (not waiting for anything); `--log-level debug` so reasons show. */
export function runEdge(args: string[], env: Record<string, string> = {}): EdgeProcess {
  const edge = new EdgeProcess(['--log-level', 'debug', '--edge-id', 'pi-test', ...args], env)
  cleanups.push(() => edge.stop('SIGKILL'))
  return edge
}

/** The daemon at `address` on a virtual channel with some traffic, with these settings. */
export function edgeAt(
  address: string,
  settings: string[] = [],
  env: Record<string, string> = {},
): EdgeProcess {
  return runEdge(['--server', address, '--channel', 'virtual:link?rate=50', ...settings], env)
}

/** Test certificates (and a token file) for a whole test file: made before, removed after. */
export function pkiForThisFile(token = 'edge-token-0123456789abcdef'): {
  pki: TestPki
  token: string
  tokenFile: string
  /** the edge's settings for all of it: the CA, its client certificate and its token */
  edgeSettings(): string[]
  /** TCPBus options for the same: TLS requiring client certificates, and the token */
  busSecurity(): {
    tls: { certFile: string; keyFile: string; clientCaFile: string }
    auth: { tokens: Record<string, string> }
  }
} {
  const fixture = {
    pki: undefined as unknown as TestPki,
    token,
    tokenFile: '',
    edgeSettings: () => [
      '--tls-ca',
      fixture.pki.ca.cert,
      '--tls-cert',
      fixture.pki.client.cert,
      '--tls-key',
      fixture.pki.client.key,
      '--token-file',
      fixture.tokenFile,
    ],
    busSecurity: () => ({
      tls: {
        certFile: fixture.pki.server.cert,
        keyFile: fixture.pki.server.key,
        clientCaFile: fixture.pki.ca.cert,
      },
      auth: { tokens: { [fixture.pki.edgeId]: token } },
    }),
  }
  beforeAll(() => {
    fixture.pki = createTestPki('pi-test')
    fixture.tokenFile = writeTokenFile(fixture.pki.dir, token)
  })
  afterAll(() => fixture.pki.remove())
  return fixture
}

/** Messages the daemon logs when a connection ends before WELCOME, by what failed. */
export const FAILURE_MESSAGES = {
  tls: 'TLS with the server failed; retrying with backoff',
  auth: 'authentication with the server failed; retrying with backoff',
  refused: 'the server refused the connection; retrying with backoff',
  closed: 'the server closed the connection before WELCOME; retrying with backoff',
  silent: 'the server did not answer; retrying with backoff',
  foreign: 'not a canbridge server; retrying with backoff',
  protocol: 'the server broke the protocol; retrying with backoff',
  other: 'server unreachable; retrying with backoff',
} as const

/** The first failure of `kind` the daemon logs, with its reason. */
export async function failure(
  edge: EdgeProcess,
  kind: keyof typeof FAILURE_MESSAGES,
  timeoutMs = 10_000,
): Promise<LogLine & { reason: string }> {
  const line = await edge.waitForMsg(FAILURE_MESSAGES[kind], timeoutMs)
  return line as LogLine & { reason: string }
}

export function transmitResults(server: ScriptedServer): TransmitResult[] {
  return server.state.messages
    .filter((m) => m.type === 'TRANSMIT_RESULT')
    .map((m) => m.body as TransmitResult)
}

/** A token file as `canbridge keys` writes one: the token on one line, mode 0600. */
export function writeTokenFile(dir: string, token: string, name = 'edge.token'): string {
  const path = join(dir, name)
  writeFileSync(path, `${token}\n`)
  chmodSync(path, 0o600)
  return path
}

/** A HELLO of edge pi-test with one classic channel. */
export const TEST_HELLO: Hello = {
  edgeId: 'pi-test',
  instanceId: 'test',
  software: 'test',
  channels: [{ name: 'can0', fd: false, nextSeq: 0 }],
  capabilities: [],
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
