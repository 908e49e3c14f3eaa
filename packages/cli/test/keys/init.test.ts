// "keys init": the files it writes, their modes, the certificates' contents checked with
// Node's X509Certificate and openssl, the printed next steps, and --force.
import { X509Certificate } from 'node:crypto'
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { argv, DAY_MS, keys, keysOk, openssl, PKI_TOP_LEVEL, useTempDir } from './support.ts'

const tempDir = useTempDir()

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1'
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'

async function certificate(path: string): Promise<X509Certificate> {
  return new X509Certificate(await readFile(path))
}

async function mode(path: string): Promise<string> {
  return ((await stat(path)).mode & 0o777).toString(8)
}

function expectValidFor(cert: X509Certificate, days: number, issuedAt: number): void {
  // Issued "now": the window ends `days` after the run, give or take the test's own duration.
  expect(Math.abs(cert.validToDate.getTime() - (issuedAt + days * DAY_MS))).toBeLessThan(60_000)
  expect(cert.validFromDate.getTime()).toBeLessThanOrEqual(issuedAt)
}

describe('canbridge keys init', () => {
  it('writes the CA, server and edge files with the layout, modes and PEM forms the TLS code reads', async () => {
    const dir = join(await tempDir(), 'pki')
    await keysOk('init', '--dir', dir, '--edge', 'pi-garage', '--edge', 'pi.lab_2')

    expect((await readdir(dir)).sort()).toEqual(PKI_TOP_LEVEL)
    expect((await readdir(join(dir, 'edges'))).sort()).toEqual([
      'pi-garage.crt',
      'pi-garage.key',
      'pi-garage.token',
      'pi.lab_2.crt',
      'pi.lab_2.key',
      'pi.lab_2.token',
    ])
    const expectedModes: Record<string, string> = {
      '': '700',
      edges: '700',
      'ca.crt': '644',
      'ca.key': '600',
      'server.crt': '644',
      'server.key': '600',
      'edge-tokens.json': '600',
      'edges/pi-garage.crt': '644',
      'edges/pi-garage.key': '600',
      'edges/pi-garage.token': '600',
    }
    for (const [file, expected] of Object.entries(expectedModes)) {
      expect({ file, mode: await mode(join(dir, file)) }).toEqual({ file, mode: expected })
    }
    for (const key of ['ca.key', 'server.key', 'edges/pi-garage.key']) {
      const text = await readFile(join(dir, key), 'utf8')
      expect(text).toMatch(
        /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/,
      )
      const described = await openssl('pkey', '-in', join(dir, key), '-noout', '-text')
      expect(described.stdout).toContain('ASN1 OID: prime256v1')
    }
    for (const cert of ['ca.crt', 'server.crt', 'edges/pi-garage.crt']) {
      expect(await readFile(join(dir, cert), 'utf8')).toMatch(
        /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n$/,
      )
    }
  })

  it('makes a CA: ECDSA P-256, SHA-256, CA:TRUE pathlen 0, keyCertSign + cRLSign, 10 years', async () => {
    const dir = await tempDir()
    const issuedAt = Date.now()
    await keysOk('init', '--dir', dir)
    const ca = await certificate(join(dir, 'ca.crt'))
    expect(ca.ca).toBe(true)
    expect(ca.checkIssued(ca)).toBe(true)
    expect(ca.verify(ca.publicKey)).toBe(true)
    expect(ca.publicKey.asymmetricKeyType).toBe('ec')
    expect(ca.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1')
    expectValidFor(ca, 3650, issuedAt)

    const text = (await openssl('x509', '-in', join(dir, 'ca.crt'), '-noout', '-text')).stdout
    expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256')
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/)
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign\n/)
  })

  it('makes a server certificate for every --server-name and --server-ip, signed by the CA, serverAuth only', async () => {
    const dir = await tempDir()
    const issuedAt = Date.now()
    await keysOk(
      ...argv`init --dir ${dir} --server-name workstation.local --server-name bus.example.org --server-ip 192.168.1.10 --server-ip fd00::10`,
    )
    const ca = await certificate(join(dir, 'ca.crt'))
    const server = await certificate(join(dir, 'server.crt'))
    expect(server.subject).toBe('CN=workstation.local')
    expect(server.subjectAltName).toBe(
      'DNS:workstation.local, DNS:bus.example.org, IP Address:192.168.1.10, IP Address:FD00:0:0:0:0:0:0:10',
    )
    expect(server.keyUsage).toEqual([SERVER_AUTH])
    expect(server.ca).toBe(false)
    expect(server.checkIssued(ca)).toBe(true)
    expect(server.verify(ca.publicKey)).toBe(true)
    expect(server.checkHost('workstation.local')).toBe('workstation.local')
    expect(server.checkIP('192.168.1.10')).toBe('192.168.1.10')
    expect(server.checkHost('other.local')).toBeUndefined()
    expectValidFor(server, 825, issuedAt)
    const text = (await openssl('x509', '-in', join(dir, 'server.crt'), '-noout', '-text')).stdout
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/)
    expect(text).toMatch(/X509v3 Extended Key Usage: \s+TLS Web Server Authentication\n/)
  })

  it("defaults the server names to this host's name, localhost, 127.0.0.1 and ::1", async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir)
    const server = await certificate(join(dir, 'server.crt'))
    const names = server.subjectAltName?.split(', ')
    const host = hostname()
    // A host name that is no DNS name (e.g. with "_") is left out by design.
    const hostIsDnsName = /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/.test(host) && host !== 'localhost'
    expect(names).toEqual([
      ...(hostIsDnsName ? [`DNS:${host}`] : []),
      'DNS:localhost',
      'IP Address:127.0.0.1',
      'IP Address:0:0:0:0:0:0:0:1',
    ])
    expect(server.subject).toBe(`CN=${hostIsDnsName ? host : 'localhost'}`)
  })

  it('makes edge certificates: CN and URI name the edge, clientAuth only, signed by the CA, --days', async () => {
    const dir = await tempDir()
    const issuedAt = Date.now()
    await keysOk('init', '--dir', dir, '--edge', 'pi-garage', '--days', '90')
    const ca = await certificate(join(dir, 'ca.crt'))
    const edge = await certificate(join(dir, 'edges/pi-garage.crt'))
    expect(edge.subject).toBe('CN=pi-garage')
    expect(edge.subjectAltName).toBe('URI:urn:canbridge:edge:pi-garage')
    expect(edge.keyUsage).toEqual([CLIENT_AUTH])
    expect(edge.checkIssued(ca)).toBe(true)
    expect(edge.verify(ca.publicKey)).toBe(true)
    expectValidFor(edge, 90, issuedAt)
    expectValidFor(await certificate(join(dir, 'server.crt')), 90, issuedAt)
    expectValidFor(ca, 3650, issuedAt)
  })

  it('gives every edge a 32-byte base64url token, one line, and the same token in edge-tokens.json', async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir, '--edge', 'a', '--edge', 'b')
    const table = JSON.parse(await readFile(join(dir, 'edge-tokens.json'), 'utf8'))
    expect(Object.keys(table)).toEqual(['version', 'edges'])
    expect(table.version).toBe(1)
    expect(Object.keys(table.edges)).toEqual(['a', 'b'])
    for (const id of ['a', 'b']) {
      const file = await readFile(join(dir, `edges/${id}.token`), 'utf8')
      expect(file).toMatch(/^[A-Za-z0-9_-]{43}\n$/)
      expect(Buffer.from(file.trim(), 'base64url')).toHaveLength(32)
      expect(table.edges[id]).toBe(file.trim())
    }
    expect(table.edges.a).not.toBe(table.edges.b)
  })

  it('writes an empty token table when no edge is named, and no edges directory', async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir)
    expect(JSON.parse(await readFile(join(dir, 'edge-tokens.json'), 'utf8'))).toEqual({
      version: 1,
      edges: {},
    })
    expect(await readdir(dir)).not.toContain('edges')
  })

  it('sets exact modes whatever the umask, and leaves no temporary files', async () => {
    const dir = join(await tempDir(), 'a', 'b')
    const previous = process.umask(0o000)
    try {
      await keysOk('init', '--dir', dir, '--edge', 'pi')
    } finally {
      process.umask(previous)
    }
    expect(await mode(join(dir, '..'))).toBe('700')
    expect(await mode(dir)).toBe('700')
    expect(await mode(join(dir, 'ca.key'))).toBe('600')
    expect(await mode(join(dir, 'edges/pi.token'))).toBe('600')
    expect(await mode(join(dir, 'ca.crt'))).toBe('644')
    const strict = process.umask(0o077)
    try {
      await keysOk('add-edge', 'pi-2', '--dir', dir)
    } finally {
      process.umask(strict)
    }
    expect(await mode(join(dir, 'edges/pi-2.crt'))).toBe('644')
    expect((await readdir(dir)).filter((name) => name.startsWith('.'))).toEqual([])
    expect((await readdir(join(dir, 'edges'))).filter((name) => name.startsWith('.'))).toEqual([])
  })

  it('prints what it wrote and the next steps: files for the Pi, edge flags, the pin, the TCPBus options', async () => {
    const dir = await tempDir()
    const { stdout } = await keysOk(
      ...argv`init --dir ${dir} --server-name ws.local --edge pi-garage`,
    )
    const fingerprint = (await certificate(join(dir, 'server.crt'))).fingerprint256
    for (const line of [
      `${join(dir, 'ca.key')}`,
      '0600  CA private key',
      '0644  CA certificate',
      `${join(dir, 'edges/pi-garage.key')}`,
      'Next steps',
      `tls: { certFile: '${join(dir, 'server.crt')}', keyFile: '${join(dir, 'server.key')}', clientCaFile: '${join(dir, 'ca.crt')}' }`,
      '"tlsCa": "/etc/canbridge/ca.crt", "tlsCert": "/etc/canbridge/pi-garage.crt", "tlsKey": "/etc/canbridge/pi-garage.key"',
      'or "tokenFile": "/etc/canbridge/pi-garage.token"',
      `auth: { tokensFile: '${join(dir, 'edge-tokens.json')}' }`,
      `${join(dir, 'ca.crt')}  ${join(dir, 'edges/pi-garage.crt')}  ${join(dir, 'edges/pi-garage.key')}`,
      `${join(dir, 'ca.crt')}  ${join(dir, 'edges/pi-garage.token')}`,
      'canbridge-edge --server ws.local:29536 --channel can0 --edge-id pi-garage --tls-ca /etc/canbridge/ca.crt --tls-cert /etc/canbridge/pi-garage.crt --tls-key /etc/canbridge/pi-garage.key',
      'canbridge-edge --server ws.local:29536 --channel can0 --edge-id pi-garage --tls-ca /etc/canbridge/ca.crt --token-file /etc/canbridge/pi-garage.token',
      `--tls-pin sha256:${fingerprint}`,
    ]) {
      expect(stdout).toContain(line)
    }
  })

  it('puts an IPv6 server address in brackets in the edge command', async () => {
    const dir = await tempDir()
    const { stdout } = await keysOk('init', '--dir', dir, '--server-ip', 'fd00::10')
    expect(stdout).toContain('canbridge-edge --server [fd00::10]:29536 --channel can0 --edge-id ID')
    expect(stdout).toContain(`canbridge keys add-edge ID --dir ${dir}`)
  })

  it('refuses to overwrite an existing CA without --force and writes nothing', async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir)
    const before = await readFile(join(dir, 'ca.crt'), 'utf8')
    const refused = await keys('init', '--dir', dir, '--edge', 'pi')
    expect(refused.code).toBe(1)
    expect(refused.stderr).toBe(
      `error: nothing written: ${dir} already holds ${join(dir, 'ca.crt')}, ${join(dir, 'ca.key')}, ${join(dir, 'server.crt')}, ${join(dir, 'server.key')}. Add edges to that CA with "canbridge keys add-edge <id> --dir ${dir}", choose another --dir, or give --force to replace them (a new CA: every edge needs new certificate files)\n`,
    )
    expect(refused.stdout).toBe('')
    expect(await readFile(join(dir, 'ca.crt'), 'utf8')).toBe(before)
    expect(await readdir(dir)).not.toContain('edges')
  })

  it('refuses when only an edge named with --edge exists', async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', join(dir, 'old'), '--edge', 'pi')
    await writeFile(join(dir, 'edge-tokens.json'), '{ "version": 1, "edges": { "pi": "x" } }\n')
    const refused = await keys('init', '--dir', dir, '--edge', 'pi')
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain(
      `already holds the entry "pi" in ${join(dir, 'edge-tokens.json')}`,
    )
  })

  it('--force makes a new CA and server, re-issues the named edges, keeps other tokens and warns about their certificates', async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir, '--edge', 'pi-1', '--edge', 'pi-2')
    const oldCa = await readFile(join(dir, 'ca.crt'), 'utf8')
    const oldTable = JSON.parse(await readFile(join(dir, 'edge-tokens.json'), 'utf8'))

    const forced = await keysOk('init', '--dir', dir, '--force', '--edge', 'pi-1')
    expect(await readFile(join(dir, 'ca.crt'), 'utf8')).not.toBe(oldCa)
    const table = JSON.parse(await readFile(join(dir, 'edge-tokens.json'), 'utf8'))
    expect(table.edges['pi-1']).not.toBe(oldTable.edges['pi-1'])
    expect(table.edges['pi-2']).toBe(oldTable.edges['pi-2'])
    const ca = await certificate(join(dir, 'ca.crt'))
    expect((await certificate(join(dir, 'edges/pi-1.crt'))).verify(ca.publicKey)).toBe(true)
    expect((await certificate(join(dir, 'edges/pi-2.crt'))).verify(ca.publicKey)).toBe(false)
    expect(forced.stdout).toContain(
      `Warning: the certificates of pi-2 in ${join(dir, 'edges')} were signed by the previous CA and no longer verify`,
    )
    expect(forced.stdout).toContain('Kept the token-table entries of pi-2')
  })

  it('--help explains the files, the defaults and the options', async () => {
    const help = await keys('init', '--help')
    expect(help.code).toBe(0)
    for (const text of [
      '--server-name <name>',
      '--server-ip <ip>',
      '--edge <id>',
      '--days <n>',
      '(default: 825)',
      '--ca-days <n>',
      '(default: 3650)',
      '--force',
      '(default: ./canbridge-pki)',
      'edge-tokens.json',
      'mode 0600',
      'Exit status',
    ]) {
      expect(help.stdout).toContain(text)
    }
    const top = await keys('--help')
    for (const command of ['init', 'add-edge', 'revoke-edge', 'fingerprint', 'show']) {
      expect(top.stdout).toContain(command)
    }
  })
})
