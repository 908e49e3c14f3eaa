// "keys add-edge" and "keys revoke-edge": files, token table, --force, and what they print.
import { X509Certificate } from 'node:crypto'
import { readdir, readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DAY_MS, keys, keysOk, useTempDir } from './support.ts'

const tempDir = useTempDir()

async function table(dir: string): Promise<Record<string, string>> {
  return JSON.parse(await readFile(join(dir, 'edge-tokens.json'), 'utf8')).edges
}

async function token(dir: string, edgeId: string): Promise<string> {
  return (await readFile(join(dir, `edges/${edgeId}.token`), 'utf8')).trim()
}

describe('canbridge keys add-edge', () => {
  it('adds certificate, key, token and table entry, signed by the existing CA', async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir, '--server-name', 'ws.local', '--edge', 'pi-1')
    const issuedAt = Date.now()
    const added = await keysOk('add-edge', 'pi-2', '--dir', dir, '--days', '365')

    const ca = new X509Certificate(await readFile(join(dir, 'ca.crt')))
    const cert = new X509Certificate(await readFile(join(dir, 'edges/pi-2.crt')))
    expect(cert.subject).toBe('CN=pi-2')
    expect(cert.subjectAltName).toBe('URI:urn:canbridge:edge:pi-2')
    expect(cert.checkIssued(ca) && cert.verify(ca.publicKey)).toBe(true)
    expect(Math.abs(cert.validToDate.getTime() - (issuedAt + 365 * DAY_MS))).toBeLessThan(60_000)
    expect(((await stat(join(dir, 'edges/pi-2.key'))).mode & 0o777).toString(8)).toBe('600')
    expect(((await stat(join(dir, 'edges/pi-2.token'))).mode & 0o777).toString(8)).toBe('600')
    expect(((await stat(join(dir, 'edge-tokens.json'))).mode & 0o777).toString(8)).toBe('600')
    const edges = await table(dir)
    expect(Object.keys(edges)).toEqual(['pi-1', 'pi-2'])
    expect(edges['pi-2']).toBe(await token(dir, 'pi-2'))

    expect(added.stdout).toContain(
      `Added edge pi-2 (certificate valid until ${cert.validToDate.toISOString().slice(0, 10)})`,
    )
    expect(added.stdout).toContain(
      'canbridge-edge --server ws.local:29536 --channel can0 --edge-id pi-2 --tls-ca /etc/canbridge/ca.crt --tls-cert /etc/canbridge/pi-2.crt --tls-key /etc/canbridge/pi-2.key',
    )
    expect(added.stdout).toContain('--token-file /etc/canbridge/pi-2.token')
    expect(added.stdout).toContain(
      `--tls-pin sha256:${new X509Certificate(await readFile(join(dir, 'server.crt'))).fingerprint256}`,
    )
    expect(added.stdout).not.toContain('TCPBus.listen')
  })

  it('refuses an existing edge without --force, naming what exists, and changes nothing', async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir, '--edge', 'pi')
    const before = await token(dir, 'pi')
    const refused = await keys('add-edge', 'pi', '--dir', dir)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toBe(
      `error: edge pi already exists (${join(dir, 'edges/pi.crt')}, ${join(dir, 'edges/pi.key')}, ${join(dir, 'edges/pi.token')}, the entry "pi" in ${join(dir, 'edge-tokens.json')}): nothing written. Give --force to issue it new files and a new token (the old ones stop working once the server has the new table), or choose another id\n`,
    )
    expect(await token(dir, 'pi')).toBe(before)
  })

  it('counts an edge as existing when only its table entry is left', async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir, '--edge', 'pi')
    for (const ext of ['crt', 'key', 'token']) {
      await rm(join(dir, `edges/pi.${ext}`))
    }
    const refused = await keys('add-edge', 'pi', '--dir', dir)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain(
      `edge pi already exists (the entry "pi" in ${join(dir, 'edge-tokens.json')})`,
    )
  })

  it('--force replaces the files and the token, and says the old certificate stays valid', async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir, '--edge', 'pi', '--edge', 'other')
    const oldToken = await token(dir, 'pi')
    const oldCert = await readFile(join(dir, 'edges/pi.crt'), 'utf8')
    const other = (await table(dir)).other
    const forced = await keysOk('add-edge', 'pi', '--dir', dir, '--force')
    expect(await token(dir, 'pi')).not.toBe(oldToken)
    expect(await readFile(join(dir, 'edges/pi.crt'), 'utf8')).not.toBe(oldCert)
    expect(await table(dir)).toEqual({ other, pi: await token(dir, 'pi') })
    expect(forced.stdout).toContain('Replaced edge pi')
    expect(forced.stdout).toContain('its old certificate stays valid until it expires')
  })

  it('without server.crt the edge command has HOST and no pin', async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir)
    await rm(join(dir, 'server.crt'))
    const added = await keysOk('add-edge', 'pi', '--dir', dir)
    expect(added.stdout).toContain('canbridge-edge --server HOST:29536 --channel can0 --edge-id pi')
    expect(added.stdout).not.toContain('--tls-pin')
  })
})

describe('canbridge keys revoke-edge', () => {
  it('removes the table entry and the files, keeps the other edges, and is honest about the certificate', async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir, '--edge', 'pi', '--edge', 'keep')
    const cert = new X509Certificate(await readFile(join(dir, 'edges/pi.crt')))
    const keep = (await table(dir)).keep
    const revoked = await keysOk('revoke-edge', 'pi', '--dir', dir)

    expect(await table(dir)).toEqual({ keep })
    expect((await readdir(join(dir, 'edges'))).sort()).toEqual([
      'keep.crt',
      'keep.key',
      'keep.token',
    ])
    expect(revoked.stdout).toContain(`removed its entry from ${join(dir, 'edge-tokens.json')}`)
    for (const ext of ['crt', 'key', 'token']) {
      expect(revoked.stdout).toContain(`deleted ${join(dir, `edges/pi.${ext}`)}`)
    }
    expect(revoked.stdout).toContain(
      `Its client certificate is NOT revoked: deleting the file here does not reach the copy on the Pi, which stays valid until ${cert.validToDate.toISOString().slice(0, 10)} (serial ${cert.serialNumber}, sha256:${cert.fingerprint256}). Until then the server accepts it unless told to refuse edge id pi, or you make a new CA`,
    )
  })

  it('revokes an edge that has only a table entry', async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir, '--edge', 'pi')
    await rm(join(dir, 'edges'), { recursive: true })
    const revoked = await keysOk('revoke-edge', 'pi', '--dir', dir)
    expect(await table(dir)).toEqual({})
    expect(revoked.stdout).toContain('It had no certificate here.')
  })

  it('refuses an unknown edge, listing the known ones', async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir, '--edge', 'pi-1', '--edge', 'pi-2')
    const refused = await keys('revoke-edge', 'pi-9', '--dir', dir)
    expect(refused).toEqual({
      code: 1,
      stdout: '',
      stderr: `error: no edge pi-9 in ${dir} (edges there: pi-1, pi-2): check the id and --dir ("canbridge keys show --dir ${dir}" lists them)\n`,
    })
  })

  it('--help says what revocation does not do', async () => {
    const help = await keys('revoke-edge', '--help')
    expect(help.stdout).toContain('stays valid until the certificate expires')
    expect(help.stdout).toContain('refuse that edge id')
  })
})
