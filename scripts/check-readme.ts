// Keeps the READMEs honest: every ```sh and ```ts block of every tracked README is checked
// against the code. Shell blocks: our own commands (canbridge, canbridge-edge, …) are parsed
// and validated by the real programs in check mode (CANBRIDGE_CHECK_ARGS=1: everything a
// start checks, then exit before acting), package scripts and files they name must exist,
// blocks marked `run` are run. TypeScript blocks are type-checked against the built packages.
//
// A directive in an HTML comment on the line before a block says how to take it:
//   <!-- readme-check: run -->              run the block with bash from the repository root
//   <!-- readme-check: cwd packages/x -->   its commands start in that folder (default: the repository root)
//   <!-- readme-check: prelude <ts> -->     TypeScript put before the block (names it assumes)
//   <!-- readme-check: skip <why> -->       not checked, for the reason given (required)
// Usage: node scripts/check-readme.ts [README.md ...]   (default: every tracked README)
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')

interface Block {
  file: string
  line: number
  lang: string
  code: string
  directive: { kind: 'run' | 'skip' | 'prelude' | 'cwd'; value: string } | undefined
}

interface Finding {
  where: string
  problem: string
}

const DIRECTIVE = /^<!--\s*readme-check:\s*(run|skip|prelude|cwd)\b\s*(.*?)\s*-->$/

function readBlocks(file: string): Block[] {
  const lines = readFileSync(path.resolve(root, file), 'utf8').split('\n')
  const blocks: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)?\s*$/.exec(lines[i]!)
    if (!open) continue
    const start = i
    const body: string[] = []
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!)
    const lang = open[1] ?? ''
    if (!['sh', 'bash', 'ts', 'typescript'].includes(lang)) continue
    let previous = start - 1
    while (previous >= 0 && lines[previous]!.trim() === '') previous--
    const match = previous >= 0 ? DIRECTIVE.exec(lines[previous]!.trim()) : null
    const directive = match
      ? { kind: match[1] as 'run' | 'skip' | 'prelude' | 'cwd', value: match[2] ?? '' }
      : undefined
    blocks.push({ file, line: start + 1, lang, code: body.join('\n'), directive })
  }
  return blocks
}

// ---- shell -------------------------------------------------------------------------------

/** A simple command: its words, after quotes are removed. */
type Words = string[]

/**
 * Splits shell text into simple commands (on newlines, `;`, `&&`, `||`, `|`, `&`), removing
 * quotes, comments and redirections. Enough for documentation; anything cleverer (command
 * substitution, here-documents) is refused so it cannot pass unchecked.
 */
export function splitCommands(text: string): Words[] {
  const commands: Words[] = []
  let words: Words = []
  let word: string | undefined
  let redirect = false
  const endWord = (): void => {
    if (word === undefined) return
    if (redirect) redirect = false
    else words.push(word)
    word = undefined
  }
  const endCommand = (): void => {
    endWord()
    if (words.length > 0) commands.push(words)
    words = []
  }
  const source = text.replace(/\\\n/g, ' ')
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!
    if (c === "'" || c === '"') {
      const close = source.indexOf(c, i + 1)
      if (close < 0) throw new Error(`unterminated ${c} quote`)
      word = (word ?? '') + source.slice(i + 1, close)
      i = close
    } else if (c === '#' && word === undefined) {
      while (i < source.length && source[i] !== '\n') i++
      endCommand()
    } else if (c === '\n' || c === ';' || c === '|' || c === '&') {
      if (c === '&' && source[i - 1] === '>') continue // 2>&1
      endCommand()
    } else if (c === '>' || c === '<') {
      if (/^\d$/.test(word ?? ''))
        word = undefined // 2> file
      else endWord()
      redirect = true
      if (source[i + 1] === '>' || source[i + 1] === '&') i++
      if (source[i] === '&') redirect = false // >&2
    } else if (c === '$' && source[i + 1] === '(') {
      throw new Error('command substitution $(...) is not checked: mark the block skip or run')
    } else if (c === ' ' || c === '\t') {
      endWord()
    } else {
      word = (word ?? '') + c
    }
  }
  endCommand()
  return commands
}

interface WorkspacePackage {
  dir: string
  name: string
  scripts: Record<string, string>
  bins: Record<string, string>
  exports: Record<string, string>
}

function readWorkspace(): WorkspacePackage[] {
  const dirs = [
    '.',
    ...execFileSync('git', ['ls-files', 'packages/*/package.json'], { cwd: root })
      .toString()
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((file) => path.dirname(file)),
  ]
  return dirs.map((dir) => {
    const manifest = JSON.parse(readFileSync(path.join(root, dir, 'package.json'), 'utf8')) as {
      name: string
      scripts?: Record<string, string>
      bin?: Record<string, string> | string
      exports?: Record<string, { types?: string } | string>
    }
    const bins =
      typeof manifest.bin === 'string' ? { [manifest.name]: manifest.bin } : (manifest.bin ?? {})
    const exports: Record<string, string> = {}
    for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
      const types = typeof target === 'string' ? undefined : target.types
      if (types) exports[path.posix.join(manifest.name, subpath)] = path.join(root, dir, types)
    }
    return { dir, name: manifest.name, scripts: manifest.scripts ?? {}, bins, exports }
  })
}

/** pnpm's own commands: not package scripts. */
const PNPM_BUILTINS = new Set([
  'install',
  'i',
  'add',
  'remove',
  'update',
  'exec',
  'dlx',
  'run',
  'test',
  'patch',
  'patch-commit',
])
/** Commands of the operating system and other projects: named in docs, not ours to check. */
const EXTERNAL = new Set([
  'sudo',
  'scp',
  'ssh',
  'sha256sum',
  'tar',
  'systemctl',
  'journalctl',
  'modprobe',
  'ip',
  'cangen',
  'candump',
  'cansend',
  'canplayer',
  'install',
  'chmod',
  'chown',
  'echo',
  'cat',
  'export',
  'python3',
  'curl',
  'sysctl',
  'apt-get',
  'wait',
  'kill',
])

class ShellChecker {
  readonly #workspace: WorkspacePackage[]
  readonly #findings: Finding[]
  readonly #scratch: string
  counts = { ours: 0, scripts: 0, files: 0, external: 0, elided: 0, run: 0 }

  constructor(workspace: WorkspacePackage[], findings: Finding[], scratch: string) {
    this.#workspace = workspace
    this.#findings = findings
    this.#scratch = scratch
  }

  check(block: Block): void {
    const where = `${block.file}:${block.line}`
    if (block.directive?.kind === 'run') {
      this.#run(block, where)
      return
    }
    let cwd = root
    if (block.directive?.kind === 'cwd') cwd = path.join(root, block.directive.value)
    let commands: Words[]
    try {
      commands = splitCommands(block.code)
    } catch (error) {
      this.#findings.push({ where, problem: (error as Error).message })
      return
    }
    for (const words of commands) cwd = this.#command(words, cwd, where)
  }

  #run(block: Block, where: string): void {
    this.counts.run++
    const result = spawnSync('bash', ['-euo', 'pipefail', '-c', block.code], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${path.join(root, '.toolchain/bin')}:${process.env['PATH']}` },
    })
    if (result.status !== 0) {
      const output = `${result.stdout}${result.stderr}`.trim().split('\n').slice(-6).join('\n  ')
      this.#findings.push({ where, problem: `block exited ${result.status}:\n  ${output}` })
    }
  }

  /** Checks one simple command; returns the working directory for the next. */
  #command(input: Words, cwd: string, where: string): string {
    let words = input
    while (words[0] !== undefined && /^[A-Z_][A-Z0-9_]*=/.test(words[0])) words = words.slice(1)
    if (words[0] === 'sudo') {
      words = words.slice(1)
      while (words[0]?.startsWith('-')) words = words.slice(words[0] === '-u' ? 2 : 1)
    }
    const [program, ...args] = words
    if (program === undefined) return cwd
    if (words.includes('...') || program.includes('<')) {
      this.counts.elided++ // an example with parts left out on purpose
      return cwd
    }
    if (program === 'cd') {
      const target = path.resolve(cwd, args[0] ?? root)
      if (!existsSync(target))
        this.#findings.push({ where, problem: `cd ${args[0]}: no such folder` })
      return target
    }
    const own = this.#ownProgram(program, args, cwd)
    if (own) {
      this.#parseCheck(own.entry, own.args, where, words.join(' '))
      return cwd
    }
    if (program === 'bash' || program === 'sh') {
      const script = path.resolve(cwd, args[0] ?? '')
      this.counts.files++
      if (!existsSync(script)) this.#findings.push({ where, problem: `${args[0]}: no such script` })
      else if (spawnSync('bash', ['-n', script]).status !== 0) {
        this.#findings.push({ where, problem: `${args[0]}: bash -n finds a syntax error` })
      }
      return cwd
    }
    if (program === 'pnpm') return this.#pnpm(args, cwd, where)
    if (program === 'node') {
      this.counts.files++
      if (!existsSync(path.resolve(cwd, args[0] ?? ''))) {
        this.#findings.push({ where, problem: `node ${args[0]}: no such file` })
      }
      return cwd
    }
    if (EXTERNAL.has(program) || program === 'npx') {
      this.counts.external++
      return cwd
    }
    this.#findings.push({
      where,
      problem: `\`${program}\` is neither ours nor a known system command: add it to EXTERNAL in scripts/check-readme.ts or fix the block`,
    })
    return cwd
  }

  #pnpm(args: Words, cwd: string, where: string): string {
    const manifestDir = this.#packageDir(cwd)
    const pkg = this.#workspace.find((p) => path.join(root, p.dir) === manifestDir)
    let rest = args
    while (rest[0]?.startsWith('-')) rest = rest.slice(rest[0] === '--filter' ? 2 : 1)
    const [command, ...more] = rest
    if (command === undefined) return cwd
    if (command === 'add' || command === 'install' || command === 'i') {
      this.counts.external++
      return cwd
    }
    if (command === 'exec') {
      const bin = more[0] ?? ''
      this.counts.scripts++
      if (!this.#binOnPath(bin, cwd))
        this.#findings.push({ where, problem: `pnpm exec ${bin}: no such binary here` })
      return cwd
    }
    const script = command === 'run' ? more[0] : command
    this.counts.scripts++
    if (command !== 'run' && PNPM_BUILTINS.has(command)) return cwd
    if (!pkg || script === undefined || !(script in pkg.scripts)) {
      this.#findings.push({
        where,
        problem: `pnpm ${rest.join(' ')}: no script "${script}" in ${path.relative(root, path.join(manifestDir, 'package.json'))}`,
      })
    }
    return cwd
  }

  #packageDir(cwd: string): string {
    for (let dir = cwd; ; dir = path.dirname(dir)) {
      if (existsSync(path.join(dir, 'package.json'))) return dir
      if (dir === root || dir === path.dirname(dir)) return root
    }
  }

  #binOnPath(bin: string, cwd: string): boolean {
    for (let dir = cwd; ; dir = path.dirname(dir)) {
      if (existsSync(path.join(dir, 'node_modules/.bin', bin))) return true
      if (dir === root || dir === path.dirname(dir)) return false
    }
  }

  /** Our programs, however the README calls them: by name, npx, pnpm exec, node dist/…, ./name. */
  #ownProgram(
    program: string,
    args: Words,
    cwd: string,
  ): { entry: string; args: Words } | undefined {
    let name = program
    let rest = args
    if ((program === 'npx' || program === 'pnpm') && args[0] !== undefined) {
      const [first, ...others] = args
      if (program === 'pnpm' && first !== 'exec') return undefined
      name = program === 'pnpm' ? (others[0] ?? '') : first
      rest = program === 'pnpm' ? others.slice(1) : others
    }
    name = name.replace(/^\.\//, '')
    for (const pkg of this.#workspace) {
      for (const [bin, file] of Object.entries(pkg.bins)) {
        const entry = path.join(root, pkg.dir, file)
        if (name === bin) return { entry, args: rest }
        if (program === 'node' && path.resolve(cwd, args[0] ?? '') === entry) {
          return { entry, args: args.slice(1) }
        }
      }
    }
    return undefined
  }

  #parseCheck(entry: string, args: Words, where: string, command: string): void {
    this.counts.ours++
    const result = spawnSync(process.execPath, [entry, ...args], {
      cwd: this.#scratch,
      encoding: 'utf8',
      env: { ...process.env, CANBRIDGE_CHECK_ARGS: '1' },
      timeout: 120_000,
    })
    if (result.status !== 0) {
      const output = `${result.stdout}${result.stderr}`.trim().split('\n').slice(0, 4).join('\n  ')
      this.#findings.push({
        where,
        problem: `\`${command}\` is refused (exit ${result.status}):\n  ${output}`,
      })
    }
  }
}

// ---- TypeScript ----------------------------------------------------------------------------

function checkTypeScript(
  blocks: Block[],
  workspace: WorkspacePackage[],
  findings: Finding[],
  scratch: string,
): void {
  if (blocks.length === 0) return // tsc says 'No inputs were found' for an empty project
  const dir = path.join(scratch, 'ts')
  execFileSync('mkdir', ['-p', dir])
  const names = new Map<string, { block: Block; offset: number }>()
  blocks.forEach((block, index) => {
    const prelude = block.directive?.kind === 'prelude' ? `${block.directive.value}\n` : ''
    const name = `block-${index}.ts`
    // each block is its own module: names from one do not leak into the next
    writeFileSync(path.join(dir, name), `${prelude}${block.code}\nexport {}\n`)
    names.set(name, { block, offset: prelude === '' ? 0 : prelude.split('\n').length - 1 })
  })
  const paths: Record<string, string[]> = {}
  for (const pkg of workspace)
    for (const [specifier, types] of Object.entries(pkg.exports)) paths[specifier] = [types]
  const base = JSON.parse(readFileSync(path.join(root, 'tsconfig.base.json'), 'utf8')) as {
    compilerOptions: Record<string, unknown>
  }
  const compilerOptions = {
    ...base.compilerOptions,
    composite: false,
    declaration: false,
    declarationMap: false,
    sourceMap: false,
    noEmit: true,
    lib: ['ES2023', 'ESNext.Disposable'],
    module: 'ESNext',
    moduleResolution: 'Bundler',
    rewriteRelativeImportExtensions: false,
    typeRoots: [path.join(root, 'node_modules/@types')],
    paths,
  }
  writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions, include: ['*.ts'] }),
  )
  writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}')
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc')
  const result = spawnSync(process.execPath, [tsc, '-p', dir, '--pretty', 'false'], {
    encoding: 'utf8',
  })
  let reported = 0
  for (const line of result.stdout.split('\n')) {
    const diagnostic = /(block-\d+\.ts)\((\d+),(\d+)\): (.*)$/.exec(line)
    if (!diagnostic) continue
    const origin = names.get(diagnostic[1]!)!
    const lineInBlock = Number(diagnostic[2]) - origin.offset
    findings.push({
      where: `${origin.block.file}:${origin.block.line + lineInBlock}`,
      problem: diagnostic[4]!,
    })
    reported++
  }
  if (result.status !== 0 && reported === 0) {
    findings.push({ where: 'tsc', problem: `${result.stdout}${result.stderr}`.trim() })
  }
}

// ---- main ----------------------------------------------------------------------------------

function main(files: string[]): number {
  const readmes =
    files.length > 0
      ? files
      : execFileSync('git', ['ls-files', 'README.md', '*/README.md'], { cwd: root })
          .toString()
          .trim()
          .split('\n')
  const blocks = readmes.flatMap(readBlocks)
  const findings: Finding[] = []
  const skipped = blocks.filter((b) => b.directive?.kind === 'skip')
  for (const block of skipped) {
    if (block.directive!.value === '') {
      findings.push({ where: `${block.file}:${block.line}`, problem: 'skip needs a reason' })
    }
  }
  const checked = blocks.filter((b) => b.directive?.kind !== 'skip')
  const scratch = mkdtempSync(path.join(tmpdir(), 'canbridge-readme-'))
  try {
    const workspace = readWorkspace()
    const shell = new ShellChecker(workspace, findings, scratch)
    for (const block of checked.filter((b) => b.lang === 'sh' || b.lang === 'bash'))
      shell.check(block)
    const typescript = checked.filter((b) => b.lang === 'ts' || b.lang === 'typescript')
    checkTypeScript(typescript, workspace, findings, scratch)
    for (const finding of findings) console.log(`${finding.where}: ${finding.problem}`)
    const c = shell.counts
    console.log(
      `readme-check: ${readmes.length} READMEs, ${blocks.length} blocks (${typescript.length} TypeScript type-checked, ${skipped.length} skipped); commands: ${c.ours} of ours validated, ${c.run} blocks run, ${c.scripts} pnpm scripts and ${c.files} files found, ${c.elided} elided examples, ${c.external} system commands; ${findings.length} problems`,
    )
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
  return findings.length === 0 ? 0 : 1
}

if (import.meta.main) process.exit(main(process.argv.slice(2)))
