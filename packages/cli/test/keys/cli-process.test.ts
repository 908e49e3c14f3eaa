// "canbridge keys" as its own process (the canbridge CLI from source): the default --dir
// (./canbridge-pki), real exit status, and output on the right streams.
import { execFile } from 'node:child_process'
import { readdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { PKI_TOP_LEVEL, useTempDir } from './support.ts'

const run = promisify(execFile)
const CLI = fileURLToPath(new URL('../support/canbridge-cli.ts', import.meta.url))

const tempDir = useTempDir()

async function canbridge(cwd: string, ...args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'keys', ...args], { cwd })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string }
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr }
  }
}

describe('canbridge keys as a process', () => {
  it('writes to ./canbridge-pki by default, exits 0, then 1 with the reason on stderr', async () => {
    const cwd = await tempDir()
    const first = await canbridge(cwd, 'init', '--edge', 'pi')
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    expect(first.stdout).toContain('Wrote 8 files in ./canbridge-pki:')
    expect((await readdir(cwd)).sort()).toEqual(['canbridge-pki'])
    expect((await readdir(`${cwd}/canbridge-pki`)).sort()).toEqual(PKI_TOP_LEVEL)

    const again = await canbridge(cwd, 'init')
    expect(again.code).toBe(1)
    expect(again.stdout).toBe('')
    expect(again.stderr).toMatch(/^error: nothing written: \.\/canbridge-pki already holds /)

    const show = await canbridge(cwd, 'show')
    expect(show.code).toBe(0)
    expect(show.stdout).toContain('PKI directory ./canbridge-pki')
  })

  it('--help exits 0 and lists the commands', async () => {
    const help = await canbridge(await tempDir(), '--help')
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/Usage: canbridge keys/)
    for (const command of ['init', 'add-edge', 'revoke-edge', 'fingerprint', 'show']) {
      expect(help.stdout).toContain(command)
    }
  })
})
