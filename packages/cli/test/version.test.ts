// `canbridge --version`: this package's version (package.json), the protocol's and Node's.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { CliProcess } from '../src/testing/cli-process.ts'

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))

describe('canbridge --version', () => {
  it.each(['--version', '-V'])('%s prints the versions and exits 0', async (flag) => {
    const cli = new CliProcess([flag])
    expect(await cli.exited).toBe(0)
    expect(cli.stdout).toBe(`canbridge ${version}\nprotocol 1\nnode ${process.version}\n`)
    expect(cli.stderr).toBe('')
  })
})
