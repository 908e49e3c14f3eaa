// The real daemon on a secured link for the end-to-end tests: certificates (openssl) and a
// token for the whole test file, the daemon started with them, cleanups after each test, and
// the failures the daemon logs.
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  createTestPki,
  EdgeProcess,
  type LogLine,
  type TestPki,
} from '@canbridge/edge-client/testing'
import { afterAll, afterEach, beforeAll } from 'vitest'

const cleanups: (() => Promise<unknown> | unknown)[] = []

/** Call once at the top of a test file: ends buses and edges after each test. */
export function cleanUpAfterEach(): void {
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })
}

export function onCleanup(cleanup: () => Promise<unknown> | unknown): void {
  cleanups.push(cleanup)
}

/** Starts the daemon (not waiting for anything); `--log-level debug` so reasons show. */
export function runEdge(args: string[], env: Record<string, string> = {}): EdgeProcess {
  const edge = new EdgeProcess(['--log-level', 'debug', '--edge-id', 'pi-test', ...args], env)
  cleanups.push(() => edge.stop('SIGKILL'))
  return edge
}

/** Test certificates and a token file (0600, as `canbridge keys` writes it) for a test file. */
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
      ...['--tls-ca', fixture.pki.ca.cert, '--tls-cert', fixture.pki.client.cert],
      ...['--tls-key', fixture.pki.client.key, '--token-file', fixture.tokenFile],
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
    fixture.tokenFile = join(fixture.pki.dir, 'edge.token')
    writeFileSync(fixture.tokenFile, `${token}\n`)
    chmodSync(fixture.tokenFile, 0o600)
  })
  afterAll(() => fixture.pki.remove())
  return fixture
}

/** Messages the daemon logs when a connection ends before WELCOME, by what failed. */
const FAILURE_MESSAGES = {
  tls: 'TLS with the server failed; retrying with backoff',
  auth: 'authentication with the server failed; retrying with backoff',
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
