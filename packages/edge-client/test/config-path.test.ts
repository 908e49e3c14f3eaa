// The config file's path is the one the Pi package installs (packaging/edge/templates:
// install.sh writes it, the unit's ExecStart reads it): every document and help text that
// names a config file under /etc says the same path.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const TEMPLATES = join(ROOT, 'packaging/edge/templates')

/** Text files of the repository that tell people where the config is. */
function documents(): string[] {
  const found: string[] = []
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (['node_modules', 'dist', '.git', '.turbo'].includes(entry.name)) continue
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (/\.(md|txt|service|sh|ts)$/.test(entry.name)) found.push(path)
    }
  }
  for (const dir of ['packages', 'packaging', 'scripts']) walk(join(ROOT, dir))
  found.push(join(ROOT, 'README.md'))
  return found
}

describe('the config file path', () => {
  it('is the one the packaged unit reads', () => {
    const unit = readFileSync(join(TEMPLATES, 'canbridge-edge.service'), 'utf8')
    expect(/^ExecStart=.* --config (\S+)$/m.exec(unit)?.[1]).toBe('/etc/canbridge/edge.json')
    expect(readFileSync(join(TEMPLATES, 'install.sh'), 'utf8')).toContain('edge.json')
  })

  it('every document names that path, and no other config file under /etc', () => {
    const others: string[] = []
    for (const file of documents()) {
      if (file.endsWith('config-path.test.ts')) continue
      const text = readFileSync(file, 'utf8')
      for (const match of text.matchAll(/\/etc\/canbridge[-/][\w.-]*\.json/g)) {
        if (match[0] !== '/etc/canbridge/edge.json') others.push(`${file}: ${match[0]}`)
      }
    }
    expect(others).toEqual([])
  })
})
