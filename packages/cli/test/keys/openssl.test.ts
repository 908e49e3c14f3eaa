// The generated files checked by openssl, an implementation independent of ours: chains,
// purposes, key/certificate pairs, and fingerprints.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { argv, keys, keysOk, openssl, useTempDir } from './support.ts'

const tempDir = useTempDir()

describe('openssl agrees', () => {
  let dir = ''
  beforeAll(async () => {
    // One PKI for the read-only checks below (useTempDir cleans after each test).
    dir = await mkdtemp(join(tmpdir(), 'canbridge-keys-openssl-'))
    await keysOk(...argv`init --dir ${dir} --server-name ws.local --edge pi-1 --edge pi-2`)
    await keysOk('add-edge', 'pi-3', '--dir', dir)
    return () => rm(dir, { recursive: true, force: true })
  })

  it('openssl verify -CAfile ca.crt: the server and every edge certificate are OK', async () => {
    for (const cert of ['server.crt', 'edges/pi-1.crt', 'edges/pi-2.crt', 'edges/pi-3.crt']) {
      const path = join(dir, cert)
      const result = await openssl('verify', '-CAfile', join(dir, 'ca.crt'), path)
      expect(result).toEqual({ code: 0, stdout: `${path}: OK\n`, stderr: '' })
    }
  })

  it('openssl verify -purpose: server.crt is for TLS servers only, edge certificates for clients only', async () => {
    const ca = join(dir, 'ca.crt')
    const server = join(dir, 'server.crt')
    const edge = join(dir, 'edges/pi-1.crt')
    expect((await openssl('verify', '-purpose', 'sslserver', '-CAfile', ca, server)).stdout).toBe(
      `${server}: OK\n`,
    )
    expect((await openssl('verify', '-purpose', 'sslclient', '-CAfile', ca, edge)).stdout).toBe(
      `${edge}: OK\n`,
    )
    const wrongServer = await openssl('verify', '-purpose', 'sslclient', '-CAfile', ca, server)
    expect(wrongServer.code).not.toBe(0)
    // X509_V_ERR_INVALID_PURPOSE (26) on the leaf
    expect(wrongServer.stderr).toMatch(/error 26 at 0 depth lookup: \w+ certificate purpose/)
    const wrongEdge = await openssl('verify', '-purpose', 'sslserver', '-CAfile', ca, edge)
    expect(wrongEdge.code).not.toBe(0)
    expect(wrongEdge.stderr).toMatch(/error 26 at 0 depth lookup: \w+ certificate purpose/)
  })

  it('each .key is the private key of its .crt', async () => {
    for (const name of ['ca', 'server', 'edges/pi-1', 'edges/pi-3']) {
      const fromCert = await openssl('x509', '-in', join(dir, `${name}.crt`), '-noout', '-pubkey')
      const fromKey = await openssl('pkey', '-in', join(dir, `${name}.key`), '-pubout')
      expect(fromCert.stdout).toMatch(/^-----BEGIN PUBLIC KEY-----/)
      expect(fromKey.stdout).toBe(fromCert.stdout)
    }
  })

  it('"keys fingerprint" prints what openssl x509 -fingerprint -sha256 prints', async () => {
    for (const cert of ['ca.crt', 'server.crt', 'edges/pi-2.crt']) {
      const path = join(dir, cert)
      const reference = await openssl('x509', '-noout', '-fingerprint', '-sha256', '-in', path)
      const hex = /^sha256 Fingerprint=([0-9A-F:]{95})\n$/.exec(reference.stdout)?.[1]
      expect(hex).toBeDefined()
      expect(await keys('fingerprint', path)).toEqual({
        code: 0,
        stdout: `sha256:${hex}\n`,
        stderr: '',
      })
    }
  })

  it('"keys fingerprint" reads DER certificates too', async () => {
    const der = join(await tempDir(), 'server.der')
    const pem = join(dir, 'server.crt')
    await openssl('x509', '-in', pem, '-outform', 'DER', '-out', der)
    expect((await keysOk('fingerprint', der)).stdout).toBe(
      (await keysOk('fingerprint', pem)).stdout,
    )
  })

  it('the edge certificates name their edge in the CN and a urn:canbridge:edge URI', async () => {
    const text = (await openssl('x509', '-in', join(dir, 'edges/pi-3.crt'), '-noout', '-text'))
      .stdout
    expect(text).toMatch(/Subject: CN ?= ?pi-3\n/)
    expect(text).toMatch(/X509v3 Subject Alternative Name: \s+URI:urn:canbridge:edge:pi-3\n/)
    expect(text).toMatch(/X509v3 Extended Key Usage: \s+TLS Web Client Authentication\n/)
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE\n/)
  })
})
