// Every bad input and bad state gets a clear message that says what to fix, exit status 1,
// and nothing written.
import { generateKeyPairSync } from 'node:crypto'
import { cp, mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { initPki } from '../../src/keys/index.ts'
import { argv, DAY_MS, keys, keysOk, useTempDir } from './support.ts'

const tempDir = useTempDir()

/** Runs a command that must fail; returns its stderr after checking status and stdout. */
async function failing(...args: string[]): Promise<string> {
  const result = await keys(...args)
  expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 1, stdout: '' })
  return result.stderr
}

const EDGE_ID_RULE =
  'is not allowed: use 1..64 of A-Z a-z 0-9 . _ - , not starting with "." (it becomes a file name), e.g. pi-garage'

describe('bad edge ids', () => {
  const bad = [
    '',
    '.hidden',
    '..',
    'a/b',
    '../x',
    'pi garage',
    'pi:1',
    'pi@home',
    'x'.repeat(65),
    'pï',
  ]
  it.each(bad)('refuses %j in add-edge, init --edge and revoke-edge', async (edgeId) => {
    const dir = await tempDir()
    const why = `edge id ${JSON.stringify(edgeId)} ${EDGE_ID_RULE}\n`
    expect(await failing('add-edge', edgeId, '--dir', dir)).toBe(
      `error: command-argument value '${edgeId}' is invalid for argument 'id'. ${why}`,
    )
    expect(await failing('revoke-edge', edgeId, '--dir', dir)).toContain(why)
    expect(await failing('init', '--dir', dir, '--edge', edgeId)).toBe(
      `error: option '--edge <id>' argument '${edgeId}' is invalid. ${why}`,
    )
    expect(await readdir(dir)).toEqual([])
  })

  it('accepts the longest and the odd-but-legal ones', async () => {
    const dir = await tempDir()
    await keysOk(...argv`init --dir ${dir} --edge ${'x'.repeat(64)} --edge _a.b-C9 --edge -dash`)
    expect((await readdir(join(dir, 'edges'))).length).toBe(9)
  })
})

describe('bad --days', () => {
  it.each(['0', '-5', '1.5', 'abc', '36501', '', '1e3', ' 7'])(
    'refuses --days %j',
    async (days) => {
      const dir = await tempDir()
      const why = `days ${JSON.stringify(days)} is not a validity: give whole days from 1 to 36500, e.g. 825\n`
      expect(await failing('init', '--dir', dir, '--days', days)).toBe(
        `error: option '--days <n>' argument '${days}' is invalid. ${why}`,
      )
      expect(await failing('init', '--dir', dir, '--ca-days', days)).toContain(why)
      expect(await failing('add-edge', 'pi', '--dir', dir, '--days', days)).toContain(why)
      expect(await readdir(dir)).toEqual([])
    },
  )

  it('refuses server and edge certificates longer than the CA', async () => {
    const dir = await tempDir()
    expect(await failing('init', '--dir', dir, '--days', '400', '--ca-days', '365')).toBe(
      "error: days 400 is longer than the CA's 365 days: a certificate cannot outlive its CA; lower --days or raise --ca-days\n",
    )
    expect(await readdir(dir)).toEqual([])
  })

  it('refuses an edge that would outlive the CA, with the longest validity that fits', async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir, '--ca-days', '30', '--days', '10')
    const caEnd = new Date(Date.now() + 30 * DAY_MS).toISOString().slice(0, 10)
    expect(await failing('add-edge', 'pi', '--dir', dir, '--days', '31')).toBe(
      `error: ${join(dir, 'edges/pi.crt')} would outlive the CA (valid until ${caEnd}): give --days 29 or less, or make a new CA with "canbridge keys init --force"\n`,
    )
    await keysOk('add-edge', 'pi', '--dir', dir, '--days', '29')
  })

  it('refuses to sign with an expired CA', async () => {
    const dir = await tempDir()
    await initPki({ dir, caDays: 1, days: 1, now: new Date(Date.now() - 3 * DAY_MS) })
    expect(await failing('add-edge', 'pi', '--dir', dir, '--days', '1')).toMatch(
      /^error: the CA certificate expired on \d{4}-\d\d-\d\d: make a new CA with "canbridge keys init --force" and issue every certificate again\n$/,
    )
  })
})

describe('bad server names and addresses', () => {
  it.each(['300.1.1.1', 'localhost', '[::1]', 'fe80::1%eth0', '1.2.3', ''])(
    'refuses --server-ip %j',
    async (ip) => {
      const dir = await tempDir()
      expect(await failing('init', '--dir', dir, '--server-ip', ip)).toBe(
        `error: option '--server-ip <ip>' argument '${ip}' is invalid. server IP ${JSON.stringify(ip)} is not an IP address: give an IPv4 (192.168.1.10) or IPv6 (fd00::10, no brackets or zone) address; host names go to --server-name\n`,
      )
      expect(await readdir(dir)).toEqual([])
    },
  )

  it.each(['bad_name', '-lead.example', 'trail-.example', 'a..b', '', 'x'.repeat(64), 'ws.local.'])(
    'refuses --server-name %j',
    async (name) => {
      const dir = await tempDir()
      expect(await failing('init', '--dir', dir, '--server-name', name)).toBe(
        `error: option '--server-name <name>' argument '${name}' is invalid. server name ${JSON.stringify(name)} is not a DNS name: use labels of A-Z a-z 0-9 - separated by dots (optionally starting with "*."), e.g. workstation.local\n`,
      )
    },
  )

  it('sends an IP address given as a name to --server-ip', async () => {
    const dir = await tempDir()
    expect(await failing('init', '--dir', dir, '--server-name', '10.0.0.1')).toContain(
      'server name "10.0.0.1" is an IP address: give it with --server-ip (serverIps) instead',
    )
  })
})

describe('a missing or unusable CA', () => {
  it('add-edge without a PKI directory says to run init', async () => {
    const dir = join(await tempDir(), 'nothing-here')
    expect(await failing('add-edge', 'pi', '--dir', dir)).toBe(
      `error: no CA certificate at ${join(dir, 'ca.crt')}: create the CA first with "canbridge keys init --dir <dir>", or point --dir at the directory that holds ca.crt and ca.key\n`,
    )
  })

  it('add-edge with ca.crt but no ca.key', async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir)
    await rm(join(dir, 'ca.key'))
    expect(await failing('add-edge', 'pi', '--dir', dir)).toContain(
      `error: no CA private key at ${join(dir, 'ca.key')}: create the CA first`,
    )
    expect(await readdir(dir)).not.toContain('edges')
  })

  it('a ca.key that cannot be read', async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir)
    await rm(join(dir, 'ca.key'))
    await mkdir(join(dir, 'ca.key')) // EISDIR: a read error even for root, unlike a chmod
    expect(await failing('add-edge', 'pi', '--dir', dir)).toBe(
      `error: cannot read the CA private key ${join(dir, 'ca.key')} (EISDIR): run as the user who owns it, or fix its permissions\n`,
    )
  })

  it('a ca.crt that is no certificate', async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir)
    await writeFile(join(dir, 'ca.crt'), 'not a certificate\n')
    expect(await failing('add-edge', 'pi', '--dir', dir)).toBe(
      `error: ${join(dir, 'ca.crt')} is not a PEM certificate: restore it from a backup, or make a new CA with "canbridge keys init --force" (every certificate must then be issued again)\n`,
    )
  })

  it('a ca.crt that is no CA (the server certificate copied over it)', async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir)
    await cp(join(dir, 'server.crt'), join(dir, 'ca.crt'))
    expect(await failing('add-edge', 'pi', '--dir', dir)).toContain(
      'is not a CA certificate (basicConstraints CA:false): it cannot sign',
    )
  })

  it('a ca.key that is garbage, RSA, or another CA', async () => {
    const dir = await tempDir()
    const other = await tempDir()
    await keysOk('init', '--dir', dir)
    await keysOk('init', '--dir', other)
    const caKey = join(dir, 'ca.key')

    await writeFile(caKey, 'garbage\n')
    expect(await failing('add-edge', 'pi', '--dir', dir)).toMatch(
      new RegExp(
        `^error: ${caKey} is not a PEM private key \\(ERR_\\w+\\): use the ca.key that "canbridge keys init" wrote with ca.crt\\n$`,
      ),
    )
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey
    await writeFile(caKey, rsa.export({ type: 'pkcs8', format: 'pem' }))
    expect(await failing('add-edge', 'pi', '--dir', dir)).toBe(
      `error: ${caKey} is a rsa key, not ECDSA P-256: use the ca.key that "canbridge keys init" wrote with ca.crt\n`,
    )
    await cp(join(other, 'ca.key'), caKey)
    expect(await failing('add-edge', 'pi', '--dir', dir)).toBe(
      `error: ${caKey} is not the key of ${join(dir, 'ca.crt')}: put back the pair "canbridge keys init" wrote together\n`,
    )
  })
})

describe('a broken token table', () => {
  it.each([
    ['{ "version": 1, ', /invalid JSON: /],
    ['[]', /\(not an object\)/],
    ['{ "version": 2, "edges": {} }', /\(version 2, not 1\)/],
    ['{ "version": 1, "edges": [] }', /\("edges" is not an object\)/],
    ['{ "version": 1, "edges": { "pi": 5 } }', /\(the token of "pi" is not a string\)/],
  ])('add-edge and revoke-edge refuse %j', async (content, why) => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir)
    const path = join(dir, 'edge-tokens.json')
    await writeFile(path, content)
    for (const args of [['add-edge', 'pi'], ['revoke-edge', 'pi'], ['show']]) {
      const stderr = await failing(...args, '--dir', dir)
      expect(stderr).toMatch(why)
      expect(stderr).toContain(`${path} is not a canbridge token table (`)
      expect(stderr).toContain(
        'fix it to { "version": 1, "edges": { "<edgeId>": "<token>" } } or move it away and add the edges again',
      )
    }
    expect(await readdir(dir)).not.toContain('edges')
  })
})

describe('fingerprint and show', () => {
  it('fingerprint of a missing file, a key, or something else', async () => {
    const dir = await tempDir()
    await keysOk('init', '--dir', dir)
    const missing = join(dir, 'nope.crt')
    expect(await failing('fingerprint', missing)).toBe(
      `error: no file ${missing}: give the path of a certificate, e.g. canbridge-pki/server.crt\n`,
    )
    expect(await failing('fingerprint', join(dir, 'ca.key'))).toBe(
      `error: ${join(dir, 'ca.key')} holds a private key, not a certificate: give the matching .crt file (and never share the key)\n`,
    )
    expect(await failing('fingerprint', join(dir, 'edge-tokens.json'))).toBe(
      `error: ${join(dir, 'edge-tokens.json')} is not a certificate (PEM or DER): give a .crt file such as ca.crt, server.crt or edges/<id>.crt\n`,
    )
    expect(await failing('fingerprint', dir)).toContain(`cannot read ${dir} (EISDIR)`)
  })

  it('a --dir that is a file', async () => {
    const file = join(await tempDir(), 'pki')
    await writeFile(file, 'oops\n')
    const why = `error: ${file} is not a directory: give --dir the directory for the keys (init creates it if missing)\n`
    expect(await failing('init', '--dir', file)).toBe(why)
    expect(await failing('add-edge', 'pi', '--dir', file)).toBe(why)
    expect(await failing('revoke-edge', 'pi', '--dir', file)).toBe(why)
    expect(await failing('show', '--dir', file)).toBe(why)
    expect(await failing('init', '--dir', join(file, 'below'))).toContain('is not a directory')
  })

  it('show of a missing directory', async () => {
    const dir = join(await tempDir(), 'pki')
    expect(await failing('show', '--dir', dir)).toBe(
      `error: no directory ${dir}: create it with "canbridge keys init --dir ${dir}", or give the --dir where your keys are\n`,
    )
  })

  it('unknown commands, options and extra arguments', async () => {
    expect(await failing('renew')).toContain("error: unknown command 'renew'")
    expect(await failing('init', '--bogus')).toContain("error: unknown option '--bogus'")
    expect(await failing('add-edge')).toContain("error: missing required argument 'id'")
    expect(await failing('fingerprint', 'a', 'b')).toContain('error: too many arguments')
  })
})
