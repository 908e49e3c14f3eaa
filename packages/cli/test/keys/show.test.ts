// "keys show": the listing (subjects, names, validity, fingerprints) and its warnings.
import { X509Certificate } from 'node:crypto'
import { chmod, cp, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { addEdge, inspectPki } from '../../src/keys/index.ts'
import { argv, DAY_MS, keysOk, useTempDir } from './support.ts'

const tempDir = useTempDir()

async function cert(dir: string, name: string): Promise<X509Certificate> {
  return new X509Certificate(await readFile(join(dir, name)))
}

const day = (date: Date) => date.toISOString().slice(0, 10)

describe('canbridge keys show', () => {
  it('lists the CA, server and edges with subjects, names, validity and fingerprints', async () => {
    const dir = await tempDir()
    await keysOk(...argv`init --dir ${dir} --server-name ws.local --server-ip fd00::10 --edge pi-1`)
    const { stdout } = await keysOk('show', '--dir', dir)
    const ca = await cert(dir, 'ca.crt')
    const server = await cert(dir, 'server.crt')
    const edge = await cert(dir, 'edges/pi-1.crt')
    const expected = [
      `PKI directory ${dir}`,
      '',
      `CA  ${join(dir, 'ca.crt')}`,
      `    subject  ${ca.subject.split('\n').join(', ')}`,
      `    valid    ${day(ca.validFromDate)} to ${day(ca.validToDate)}`,
      `    sha256   ${ca.fingerprint256}`,
      `    key      ${join(dir, 'ca.key')}`,
      `Server  ${join(dir, 'server.crt')}`,
      '    subject  CN=ws.local',
      '    names    DNS:ws.local, IP:fd00::10',
      `    valid    ${day(server.validFromDate)} to ${day(server.validToDate)}`,
      `    sha256   ${server.fingerprint256}`,
      `    key      ${join(dir, 'server.key')}`,
      '',
      `Token table: ${join(dir, 'edge-tokens.json')}, 1 edge`,
      'Edges: 1',
      `  pi-1  ${join(dir, 'edges/pi-1.crt')}`,
      '    subject  CN=pi-1',
      '    names    URI:urn:canbridge:edge:pi-1',
      `    valid    ${day(edge.validFromDate)} to ${day(edge.validToDate)}`,
      `    sha256   ${edge.fingerprint256}`,
      `    key      ${join(dir, 'edges/pi-1.key')}`,
      `    token    ${join(dir, 'edges/pi-1.token')}, in the token table`,
      '',
    ].join('\n')
    expect(stdout).toBe(expected)
    expect(stdout).not.toContain('Warning')
  })

  it('warns about a certificate expiring within 30 days, not one with 31 left', async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir, '--edge', 'soon', '--days', '30')
    await keysOk('add-edge', 'later', '--dir', dir, '--days', '31')
    const { stdout } = await keysOk('show', '--dir', dir)
    const soon = await cert(dir, 'edges/soon.crt')
    expect(stdout).toContain(
      `Warning: ${join(dir, 'edges/soon.crt')} expires on ${day(soon.validToDate)} (in 29 days): issue it again with "canbridge keys add-edge soon --force --dir ${dir}"`,
    )
    expect(stdout).toContain(`Warning: ${join(dir, 'server.crt')} expires on`)
    expect(stdout).not.toContain('edges/later.crt expires')
  })

  it('warns about an expired certificate', async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir)
    await addEdge({ dir, edgeId: 'old', days: 10, now: new Date(Date.now() - 20 * DAY_MS) })
    const { stdout } = await keysOk('show', '--dir', dir)
    const old = await cert(dir, 'edges/old.crt')
    expect(stdout).toContain(
      `Warning: ${join(dir, 'edges/old.crt')} expired on ${day(old.validToDate)}: issue it again`,
    )
  })

  it('warns about certificates another CA signed, keys that do not match, tokens that differ', async () => {
    const dir = await tempDir()
    const other = await tempDir()
    await keysOk('init', '--dir', dir, '--edge', 'a', '--edge', 'b', '--edge', 'c')
    await keysOk('init', '--dir', other, '--edge', 'a')
    await cp(join(other, 'edges/a.crt'), join(dir, 'edges/a.crt'))
    await cp(join(dir, 'edges/c.key'), join(dir, 'edges/b.key'))
    await writeFile(join(dir, 'edges/c.token'), 'not-the-token-in-the-table\n')
    const { stdout } = await keysOk('show', '--dir', dir)
    expect(stdout).toContain(
      `Warning: ${join(dir, 'edges/a.crt')} was not signed by ${join(dir, 'ca.crt')} (left from an earlier CA?): issue it again with "canbridge keys add-edge a --force --dir ${dir}"`,
    )
    expect(stdout).toContain(
      `Warning: ${join(dir, 'edges/b.key')} is not the key of ${join(dir, 'edges/b.crt')}`,
    )
    expect(stdout).toContain(
      `Warning: ${join(dir, 'edges/c.token')} differs from its entry in ${join(dir, 'edge-tokens.json')}: that edge's token login fails`,
    )
  })

  it('warns about secrets other users can read, and notes a CA key kept elsewhere', async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir, '--edge', 'pi')
    await chmod(join(dir, 'edges/pi.key'), 0o644)
    await chmod(join(dir, 'edge-tokens.json'), 0o640)
    await rm(join(dir, 'ca.key'))
    const { stdout } = await keysOk('show', '--dir', dir)
    expect(stdout).toContain(
      `Warning: ${join(dir, 'edges/pi.key')} can be read by other users (mode 0644): chmod 600 ${join(dir, 'edges/pi.key')}`,
    )
    expect(stdout).toContain(
      `Warning: ${join(dir, 'edge-tokens.json')} can be read by other users (mode 0640)`,
    )
    expect(stdout).toContain(
      `Note: ${join(dir, 'ca.key')} is not here: fine if you keep it offline, but "add-edge" needs it`,
    )
    expect(stdout).toContain('    key      not here')
  })

  it('lists an edge that only has a token, and a token file missing from the table', async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir, '--edge', 'pi')
    await rm(join(dir, 'edges/pi.crt'))
    await writeFile(join(dir, 'edges/stray.token'), 'abc\n', { mode: 0o600 })
    const summary = await inspectPki({ dir })
    expect(summary.edges.map((edge) => [edge.edgeId, edge.certificate, edge.inTokenTable])).toEqual(
      [
        ['pi', undefined, true],
        ['stray', undefined, false],
      ],
    )
    expect(summary.warnings).toContain(
      `${join(dir, 'edges/stray.token')} has no entry in ${join(dir, 'edge-tokens.json')}: the server will refuse it; run "canbridge keys add-edge stray --force --dir ${dir}"`,
    )
    const { stdout } = await keysOk('show', '--dir', dir)
    expect(stdout).toContain('  pi  (none: no certificate)')
  })

  it('shows an empty directory with what to run', async () => {
    const dir = await tempDir()
    const { stdout } = await keysOk('show', '--dir', dir)
    expect(stdout).toContain(`CA  (none: run "canbridge keys init --dir ${dir}")`)
    expect(stdout).toContain(`Token table: none (${join(dir, 'edge-tokens.json')})`)
    expect(stdout).toContain(`Edges: none (add one with "canbridge keys add-edge ID --dir ${dir}")`)
  })
})
