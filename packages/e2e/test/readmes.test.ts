// The READMEs' commands and code against the code itself (scripts/check-readme.ts): every
// block a reader would copy either works, type-checks, or says why it is not checked. A
// README with the mistakes we once shipped must fail it, or the check proves nothing.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../..', import.meta.url))
const checker = join(root, 'scripts/check-readme.ts')

function check(...files: string[]): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, [checker, ...files], {
    cwd: root,
    encoding: 'utf8',
    timeout: 600_000,
  })
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

describe('README check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'readme-check-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('passes every README of the repository', () => {
    const { status, output } = check()
    expect(output).toMatch(/; 0 problems\n$/)
    expect(status).toBe(0)
  }, 600_000)

  it('fails a README with the mistakes that once shipped, naming each', () => {
    const fence = '```'
    const readme = join(dir, 'README.md')
    writeFileSync(
      readme,
      [
        '# a bad README',
        `${fence}sh`,
        'canbridge-edge --server workstation.local:29536 --edge-id pi-garage',
        'canbridge dump --no-such-flag',
        'pnpm no-such-script',
        'bash scripts/no-such.sh',
        fence,
        `${fence}ts`,
        "import { TCPBus } from '@canbridge/server-bus'",
        'const bus = await TCPBus.listen({ port: 29536 })',
        'for await (const batch of bus.batches()) handle(batch)',
        fence,
        '<!-- readme-check: skip -->',
        `${fence}sh`,
        'anything',
        fence,
        '',
      ].join('\n'),
    )
    const { status, output } = check(readme)
    expect(status).toBe(1)
    expect(output).toMatch(
      /README\.md:2: `canbridge-edge --server .*` is refused \(exit 2\):\n {2}canbridge-edge: no channel given/,
    )
    expect(output).toMatch(/README\.md:2: `canbridge dump --no-such-flag` is refused/)
    expect(output).toMatch(/README\.md:2: pnpm no-such-script: no script "no-such-script"/)
    expect(output).toMatch(/README\.md:2: scripts\/no-such\.sh: no such script/)
    expect(output).toMatch(/README\.md:11: error TS2304: Cannot find name 'handle'/)
    expect(output).toMatch(/README\.md:14: skip needs a reason/)
    expect(output).toMatch(/; 6 problems\n$/)
  }, 300_000)
})
