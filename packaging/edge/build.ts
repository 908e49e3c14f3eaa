// Builds canbridge-edge as one self-contained executable per architecture (a Node
// single-executable application: the Node runtime of that architecture with the bundled
// edge code, its workers and the socketcan addon injected), and packs each with its
// systemd unit, configuration and install script into
//   dist/edge/canbridge-edge-<version>-linux-<arch>.tar.gz   and   dist/edge/SHA256SUMS
//
// Run through scripts/build-edge.sh (which checks the toolchain first):
//   node packaging/edge/build.ts [--arch x64,arm64,armv7] [--entry edge|standin] [--out DIR]
//
// Steps per architecture, each cached under packaging/.cache/ (gitignored):
//   runtime  npm pack node-linux-<arch>@<version>; strip it (debug info: -20 MB)
//   addon    node-gyp cross-build of socketcan (npm pack socketcan@<version>, with
//            patches/socketcan@<version>.patch applied: no build when it does not apply)
//            against that runtime's headers, pthread symbols pinned to pre-2.34 glibc
//            (addon/glibc-compat.h); addon/check-addon.cjs run on it by the target's Node
//   bundle   esbuild: one CommonJS script per worker, embedded as strings in the main script;
//            the addon embedded as base64 (sea/runtime.ts extracts and dlopens it)
//   blob     the target runtime itself writes the SEA blob (`--experimental-sea-config`), under
//            qemu-user for a foreign architecture: the blob layout depends on the Node version
//            and on the word size (32-bit armv7 cannot read a blob written by 64-bit Node)
//   inject   postject into a copy of the stripped runtime
//   check    --version of the result (natively or under qemu-user)
//   package  tar.gz with the unit, configs, install script, licenses; SHA256SUMS
import { type ExecFileSyncOptions, execFileSync, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import { createRequire } from 'node:module'
import * as path from 'node:path'
import { parseArgs } from 'node:util'
import { RUNTIME_FLAGS } from '../../packages/edge-client/src/runtime-flags.ts'
import {
  ARCHES,
  type Arch,
  edgeVersion,
  hostArch,
  REPO,
  TARGETS,
  type Target,
  tarballName,
} from './targets.ts'

const HERE = import.meta.dirname
const CACHE = process.env['CANBRIDGE_CACHE_DIR'] || path.join(REPO, 'packaging', '.cache')
const TOOLS = path.join(HERE, 'tools')
const SEA_DIR = path.join(HERE, 'sea')
const TEMPLATES = path.join(HERE, 'templates')
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'
const SOCKETCAN_VERSION = readJson<{ dependencies: Record<string, string> }>(
  path.join(REPO, 'packages', 'edge-client', 'package.json'),
).dependencies['socketcan']!
/** The patch pnpm applies on install (patchedDependencies): the addon is built with it too. */
const SOCKETCAN_PATCH = path.join(REPO, 'patches', `socketcan@${SOCKETCAN_VERSION}.patch`)
/** The addon is compiled for this N-API version: it loads on every Node line we ship. */
const ADDON_NAPI = 8
const VIRTUAL_ROOT = '/canbridge-edge.sea/'

const require = createRequire(path.join(TOOLS, 'package.json'))
type Esbuild = typeof import('esbuild')

class BuildError extends Error {
  override readonly name = 'BuildError'
}

// ---------------------------------------------------------------- output

const T0 = performance.now()
function log(arch: Arch | 'all', step: string, message: string): void {
  const seconds = ((performance.now() - T0) / 1000).toFixed(1).padStart(6)
  process.stderr.write(`[build-edge ${seconds}s] ${arch.padEnd(5)} ${step.padEnd(8)} ${message}\n`)
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T
}

function run(
  command: string,
  args: string[],
  options: ExecFileSyncOptions & { quiet?: boolean } = {},
): string {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    ...options,
  })
  if (result.error) {
    throw new BuildError(`cannot run ${command}: ${result.error.message}`)
  }
  if (result.status !== 0) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`
      .trim()
      .split('\n')
      .slice(-30)
      .map((line) => (line.length > 400 ? `${line.slice(0, 400)}...` : line))
      .join('\n')
    throw new BuildError(
      `${command} ${args.join(' ')} failed (exit ${result.status ?? result.signal}):\n${output}`,
    )
  }
  return String(result.stdout ?? '')
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex')
}

function commandExists(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0
}

// ---------------------------------------------------------------- runtime

interface Runtime {
  /** unpacked package (bin/node, include/node) */
  dir: string
  /** stripped bin/node */
  stripped: string
  /** highest GLIBC_x.y the runtime needs */
  glibc: string
}

function npmEnv(): NodeJS.ProcessEnv {
  // npm 11 warns about (and will reject) the node-gyp setting scripts/env.sh exports
  const env = { ...process.env }
  delete env['npm_config_nodedir']
  delete env['NPM_CONFIG_NODEDIR']
  return env
}

/** npm pack <spec> into `dir` (once) and unpacks it there; returns the package directory. */
function npmPackage(name: string, version: string, into: string): string {
  const dir = path.join(into, `${name}-${version}`)
  if (fs.existsSync(path.join(dir, 'package.json'))) return dir
  fs.mkdirSync(into, { recursive: true })
  const tgz = run('npm', ['pack', `${name}@${version}`, '--silent', '--pack-destination', into], {
    env: npmEnv(),
  })
    .trim()
    .split('\n')
    .pop()!
  const partial = `${dir}.partial`
  fs.rmSync(partial, { recursive: true, force: true })
  fs.mkdirSync(partial, { recursive: true })
  run('tar', ['xzf', path.join(into, tgz), '-C', partial, '--strip-components=1'])
  fs.renameSync(partial, dir)
  fs.rmSync(path.join(into, tgz))
  return dir
}

/** Highest GLIBC_ symbol version an ELF file needs. */
function glibcFloor(target: Target, file: string): string {
  const objdump = toolFor(target, 'objdump')
  const versions = run(objdump, ['-T', file]).match(/\(GLIBC_(\d+\.\d+(?:\.\d+)?)\)/g) ?? []
  let best = '0'
  for (const v of versions) {
    const version = v.slice(7, -1)
    if (compareVersions(version, best) > 0) best = version
  }
  return best
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

function toolFor(target: Target, tool: string): string {
  const prefixed = `${target.triplet}-${tool}`
  if (commandExists(prefixed)) return prefixed
  if (target.arch === hostArch() && commandExists(tool)) return tool
  throw new BuildError(
    `${prefixed} not found: install the cross toolchain with\n  apt-get install ${target.crossPackages.join(' ')}`,
  )
}

function elfMachine(file: string): string {
  return /Machine:\s+(.*)/.exec(run('readelf', ['-h', file]))?.[1]?.trim() ?? 'unknown'
}

function prepareRuntime(target: Target): Runtime {
  const dir = npmPackage(target.nodePackage, target.nodeVersion, path.join(CACHE, 'node'))
  const node = path.join(dir, 'bin', 'node')
  const machine = elfMachine(node)
  if (machine !== target.elfMachine) {
    throw new BuildError(`${node} is a ${machine} binary, expected ${target.elfMachine}`)
  }
  const stripped = path.join(dir, 'node.stripped')
  if (!fs.existsSync(stripped)) {
    run(toolFor(target, 'strip'), ['--strip-all', '-o', `${stripped}.partial`, node])
    fs.renameSync(`${stripped}.partial`, stripped)
  }
  return { dir, stripped, glibc: glibcFloor(target, stripped) }
}

// ---------------------------------------------------------------- addon

interface AddonBuild {
  file: string
  sha256: string
  glibc: string
  /** sha256 of the patch applied to socketcan's source */
  patchSha256: string
}

/** The patch file, checked to be the one pnpm applies (pnpm-workspace.yaml). */
function socketcanPatch(): { file: string; sha256: string } {
  const relative = path.relative(REPO, SOCKETCAN_PATCH)
  if (!fs.existsSync(SOCKETCAN_PATCH)) {
    throw new BuildError(
      `${relative} is missing: socketcan ${SOCKETCAN_VERSION} is built only with its patch (pnpm patch socketcan@${SOCKETCAN_VERSION}; patches/README.md)`,
    )
  }
  const workspace = fs.readFileSync(path.join(REPO, 'pnpm-workspace.yaml'), 'utf8')
  if (!workspace.includes(`socketcan@${SOCKETCAN_VERSION}: ${relative}`)) {
    throw new BuildError(
      `pnpm-workspace.yaml's patchedDependencies do not apply ${relative} to socketcan@${SOCKETCAN_VERSION}: the packaged addon would differ from the workspace's`,
    )
  }
  return { file: SOCKETCAN_PATCH, sha256: sha256(SOCKETCAN_PATCH) }
}

/** Applies the patch with all of its context lines matching (no fuzz), or refuses to build. */
function applyPatch(dir: string, patch: string): void {
  if (!commandExists('patch')) {
    throw new BuildError('patch not found: install it with\n  apt-get install patch')
  }
  const result = spawnSync(
    'patch',
    ['-p1', '--batch', '--forward', '--fuzz=0', '--no-backup-if-mismatch', '-d', dir, '-i', patch],
    { encoding: 'utf8' },
  )
  if (result.status !== 0) {
    throw new BuildError(
      `${path.relative(REPO, patch)} does not apply to socketcan ${SOCKETCAN_VERSION} from the registry; not building an unpatched addon:\n${`${result.stdout}${result.stderr}`.trim()}`,
    )
  }
}

/** The target's own Node loads the addon and checks its decoding (addon/check-addon.cjs). */
function checkAddon(target: Target, runtime: Runtime, file: string): string {
  const [command, prefix] = runner(target, path.join(runtime.dir, 'bin', 'node'))
  return run(command, [...prefix, path.join(HERE, 'addon', 'check-addon.cjs'), file]).trim()
}

function buildAddon(target: Target, runtime: Runtime): AddonBuild {
  const source = npmPackage('socketcan', SOCKETCAN_VERSION, path.join(CACHE, 'socketcan'))
  const patch = socketcanPatch()
  const compat = path.join(HERE, 'addon', 'glibc-compat.h')
  const cxxflags = `-include ${compat} -DNAPI_VERSION=${ADDON_NAPI}`
  // libpthread.so.0 by soname: glibc >= 2.34 ships no libpthread.so link-time symlink
  const ldflags = '-Wl,--no-as-needed,-l:libpthread.so.0'
  const key = createHash('sha256')
    .update(
      [
        SOCKETCAN_VERSION,
        patch.sha256,
        target.arch,
        target.nodeVersion,
        cxxflags,
        ldflags,
        fs.readFileSync(compat, 'utf8'),
      ].join('\0'),
    )
    .digest('hex')
    .slice(0, 12)
  const work = path.join(CACHE, 'addon', `${target.arch}-${key}`)
  const out = path.join(work, 'can.node')
  if (!fs.existsSync(out)) {
    const cxx = toolFor(target, 'g++')
    const build = path.join(work, 'src')
    fs.rmSync(work, { recursive: true, force: true })
    fs.cpSync(source, build, { recursive: true })
    applyPatch(build, patch.file)
    fs.mkdirSync(path.join(build, 'node_modules'), { recursive: true })
    fs.symlinkSync(
      path.join(TOOLS, 'node_modules', 'node-addon-api'),
      path.join(build, 'node_modules', 'node-addon-api'),
    )
    const env = {
      ...npmEnv(),
      CC: toolFor(target, 'gcc'),
      CXX: cxx,
      LINK: cxx,
      AR: toolFor(target, 'ar'),
      CC_host: 'gcc',
      CXX_host: 'g++',
      CXXFLAGS: cxxflags,
      LDFLAGS: ldflags,
    }
    const gyp = path.join(TOOLS, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')
    const output = run(
      process.execPath,
      [
        gyp,
        'rebuild',
        `--arch=${target.nodeArch}`,
        `--nodedir=${runtime.dir}`,
        '--jobs=2',
        '--loglevel=warn',
      ],
      { cwd: build, env },
    )
    fs.writeFileSync(path.join(work, 'node-gyp.log'), output)
    const built = path.join(build, 'build', 'Release', 'can.node')
    run(toolFor(target, 'strip'), ['--strip-unneeded', '-o', out, built])
  }
  const machine = elfMachine(out)
  if (machine !== target.elfMachine)
    throw new BuildError(`${out} is a ${machine} binary, expected ${target.elfMachine}`)
  return {
    file: out,
    sha256: sha256(out),
    glibc: glibcFloor(target, out),
    patchSha256: patch.sha256,
  }
}

// ---------------------------------------------------------------- bundle

interface Entry {
  /** the main script (SEA main) */
  main: string
  /** worker scripts, bundled separately and started by virtual path */
  workers: string[]
  /** files read at run time through fs.readFileSync(new URL(..., import.meta.url)) */
  files: string[]
}

function entryPoints(kind: 'edge' | 'standin'): Entry {
  const edgeDist = path.join(REPO, 'packages', 'edge-client', 'dist')
  const files = [
    path.join(REPO, 'packages', 'edge-client', 'package.json'),
    path.join(REPO, 'packages', 'protocol', 'package.json'),
  ]
  if (kind === 'standin') {
    return {
      main: path.join(SEA_DIR, 'standin-main.ts'),
      workers: [path.join(SEA_DIR, 'standin.worker.ts')],
      files,
    }
  }
  const main = path.join(edgeDist, 'main.js')
  if (!fs.existsSync(main)) {
    throw new BuildError(
      `${main} is missing: build the edge first (pnpm --filter @canbridge/edge-client build)`,
    )
  }
  const workers = fs
    .readdirSync(edgeDist, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.worker.js'))
    .sort()
    .map((name) => path.join(edgeDist, name))
  if (workers.length === 0) throw new BuildError(`no *.worker.js in ${edgeDist}`)
  return { main: path.join(SEA_DIR, 'main.ts'), workers, files }
}

/** Path of a source file inside the virtual root; .ts becomes .js (what import.meta.url-relative code asks for). */
function virtualRelative(file: string): string {
  return path.relative(REPO, file).split(path.sep).join('/').replace(/\.ts$/, '.js')
}

interface BundleInputs {
  target: Target
  addon: AddonBuild
  build: Record<string, unknown>
  workers: Record<string, string>
  files: Record<string, string>
}

/** The name of a worker bundle among the SEA blob's assets. */
const WORKER_ASSET = 'worker:'

/**
 * What the target's runtime takes from the SEA config: `execArgv` (checkVersion() sees that
 * it took) and `assets` (node:sea's getRawAsset). Node 22 and later have both; armv7's Node
 * 20.11 neither.
 */
function seaFeatures(target: Target): { execArgv: boolean; assets: boolean } {
  const modern = Number(target.nodeVersion.split('.')[0]) >= 22
  return { execArgv: modern, assets: modern }
}

/**
 * The module that gives the worker_threads shim each worker's bundle: read from the blob's
 * assets when it starts, where the runtime has them (the main script then does not carry
 * 1 MB of worker code as string literals in V8's heap), else embedded as strings.
 */
function workerSourceModule(target: Target, workers: Record<string, string>): string {
  const names = JSON.stringify(Object.keys(workers))
  if (!seaFeatures(target).assets) {
    return [
      `const WORKERS = ${JSON.stringify(workers)}`,
      `export const WORKER_NAMES = ${names}`,
      'export function workerSource(file) { const code = WORKERS[file]; return code === undefined ? undefined : Buffer.from(code) }',
    ].join('\n')
  }
  return [
    `export const WORKER_NAMES = ${names}`,
    `export function workerSource(file) { return WORKER_NAMES.includes(file) ? Buffer.from(process.getBuiltinModule('node:sea').getRawAsset(${JSON.stringify(WORKER_ASSET)} + file)) : undefined }`,
  ].join('\n')
}

function seaPlugin(inputs: BundleInputs): import('esbuild').Plugin {
  const supportFiles = [path.join(SEA_DIR, 'runtime.ts'), path.join(SEA_DIR, 'shims')]
  const isSupport = (file: string): boolean =>
    supportFiles.some((s) => file === s || file.startsWith(`${s}${path.sep}`))
  const shims: Record<string, string> = {
    fs: path.join(SEA_DIR, 'shims', 'fs.ts'),
    module: path.join(SEA_DIR, 'shims', 'module.ts'),
    worker_threads: path.join(SEA_DIR, 'shims', 'worker_threads.ts'),
    zlib: path.join(SEA_DIR, 'shims', 'zlib.ts'),
  }
  return {
    name: 'canbridge-sea',
    setup(build) {
      build.onResolve({ filter: /^canbridge-sea:(embedded|addon)$/ }, (args) => ({
        path: args.path,
        namespace: 'canbridge-sea',
      }))
      build.onLoad({ filter: /.*/, namespace: 'canbridge-sea' }, (args) => {
        if (args.path === 'canbridge-sea:addon') {
          const base64 = fs.readFileSync(inputs.addon.file).toString('base64')
          const addon = { name: 'can.node', sha256: inputs.addon.sha256, base64 }
          return { contents: `export const ADDON = ${JSON.stringify(addon)}`, loader: 'js' }
        }
        return {
          contents: [
            `export const BUILD = ${JSON.stringify(inputs.build)}`,
            workerSourceModule(inputs.target, inputs.workers),
            `export const FILES = ${JSON.stringify(inputs.files)}`,
          ].join('\n'),
          loader: 'js',
        }
      })
      // The workspace's own code (not its dependencies, not the shims) gets the shims.
      build.onResolve({ filter: /^(node:)?(fs|module|worker_threads|zlib)$/ }, (args) => {
        if (
          !args.importer ||
          args.importer.includes(`${path.sep}node_modules${path.sep}`) ||
          isSupport(args.importer)
        ) {
          return undefined
        }
        return { path: shims[args.path.replace(/^node:/, '')]! }
      })
      // The socketcan package's own JS requires ../build/Release/can.node: the embedded one.
      build.onResolve({ filter: /\.node$/ }, (args) => {
        if (path.basename(args.path) !== 'can.node') {
          throw new BuildError(`${args.importer} requires ${args.path}: only can.node is embedded`)
        }
        return { path: 'can.node', namespace: 'canbridge-native' }
      })
      build.onLoad({ filter: /.*/, namespace: 'canbridge-native' }, () => ({
        contents: `const { ADDON } = require('canbridge-sea:addon')\nmodule.exports = require(${JSON.stringify(path.join(SEA_DIR, 'runtime.ts'))}).loadAddon(ADDON)`,
        loader: 'js',
        resolveDir: SEA_DIR,
      }))
      // The edge's build-info module (src/build-info.ts exports BUILD_INFO = undefined):
      // this build's details, for --version and doctor. checkVersion() sees that it took.
      build.onLoad({ filter: /[\\/]edge-client[\\/]dist[\\/]build-info\.js$/ }, () => ({
        contents: `export const BUILD_INFO = ${JSON.stringify(inputs.build)}`,
        loader: 'js',
      }))
      // msgpackr's optional native accelerator: not shipped (msgpackr falls back to JS).
      build.onResolve({ filter: /^msgpackr-extract$/ }, () => ({
        path: 'msgpackr-extract',
        namespace: 'canbridge-empty',
      }))
      build.onLoad({ filter: /.*/, namespace: 'canbridge-empty' }, () => ({
        contents: 'module.exports = null',
        loader: 'js',
      }))
      // import.meta.url (and .filename, .dirname) of every module: its path in the virtual root
      build.onLoad({ filter: /\.(m?js|ts)$/ }, (args) => {
        const text = fs.readFileSync(args.path, 'utf8')
        if (!text.includes('import.meta')) return undefined
        const relative = virtualRelative(args.path)
        const file = `${VIRTUAL_ROOT}${relative}`
        const contents = text
          .replace(/\bimport\.meta\.url\b/g, JSON.stringify(`file://${file}`))
          .replace(/\bimport\.meta\.filename\b/g, JSON.stringify(file))
          .replace(/\bimport\.meta\.dirname\b/g, JSON.stringify(path.posix.dirname(file)))
        return { contents, loader: args.path.endsWith('.ts') ? 'ts' : 'js' }
      })
    },
  }
}

/**
 * The bundle with its last non-ASCII characters escaped. esbuild (charset 'ascii') escapes
 * them in strings, templates, regular expressions and names, not in the comments it keeps;
 * one of those left makes V8 hold the whole script at two bytes a character (the main
 * script is 1.2 MB, 2.3 MB where the workers are inside it). In a comment `\u00d7` reads as well.
 */
function asciiOnly(code: string): string {
  return code.replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

interface Bundle {
  /** the main script */
  main: string
  /** each worker's bundle file, by its name among the blob's assets */
  assets: Record<string, string>
  /** every source file in any of the bundles (esbuild metafile paths, relative to the cwd) */
  sources: string[]
}

async function bundle(
  target: Target,
  entry: Entry,
  inputs: Omit<BundleInputs, 'workers' | 'files'>,
  work: string,
): Promise<Bundle> {
  const esbuild = require('esbuild') as Esbuild
  const sources = new Set<string>()
  const files: Record<string, string> = {}
  for (const file of entry.files) files[virtualRelative(file)] = fs.readFileSync(file, 'utf8')
  // The main script is CommonJS (Node 24 runs only CommonJS as the SEA main, and import()
  // does not work there); workers are ES modules (started from data: URLs), which may use
  // top-level await. CommonJS dependencies inside an ES module bundle call require() for
  // built-ins: the banner provides one.
  const options = (
    input: BundleInputs,
    entryPoint: string,
    format: 'cjs' | 'esm',
  ): import('esbuild').BuildOptions => ({
    entryPoints: [entryPoint],
    bundle: true,
    platform: 'node',
    format,
    ...(format === 'esm'
      ? {
          banner: {
            js: "import { createRequire as __canbridgeCreateRequire } from 'node:module'; const require = __canbridgeCreateRequire(process.execPath);",
          },
        }
      : {}),
    target: target.esbuildTarget,
    write: false,
    outfile: path.join(work, 'out.cjs'),
    // not minified: an uncaught error prints its source line, and a worker's whole
    // bundle on one line would flood the journal
    legalComments: 'none',
    charset: 'ascii',
    logLevel: 'error',
    metafile: true,
    // packaging/edge/sea/*.ts resolve the edge's dependencies (the stand-in imports @canbridge/protocol)
    nodePaths: [path.join(REPO, 'packages', 'edge-client', 'node_modules')],
    alias: { 'canbridge-edge-main': path.join(REPO, 'packages', 'edge-client', 'dist', 'main.js') },
    plugins: [seaPlugin(input)],
  })
  const workers: Record<string, string> = {}
  const assets: Record<string, string> = {}
  for (const worker of entry.workers) {
    const result = await esbuild.build(options({ ...inputs, workers: {}, files }, worker, 'esm'))
    // names the module in stack traces (instead of the whole data: URL)
    const code = `${asciiOnly(result.outputFiles![0]!.text)}\n//# sourceURL=${VIRTUAL_ROOT}${virtualRelative(worker)}\n`
    workers[virtualRelative(worker)] = code
    for (const input of Object.keys(result.metafile!.inputs)) sources.add(input)
    const file = path.join(work, path.basename(worker).replace(/\.(ts|js)$/, '.mjs'))
    fs.writeFileSync(file, code)
    assets[`${WORKER_ASSET}${virtualRelative(worker)}`] = file
  }
  const result = await esbuild.build(options({ ...inputs, workers, files }, entry.main, 'cjs'))
  const main = path.join(work, 'main.cjs')
  fs.writeFileSync(main, asciiOnly(result.outputFiles![0]!.text))
  fs.writeFileSync(path.join(work, 'main.meta.json'), JSON.stringify(result.metafile))
  for (const input of Object.keys(result.metafile!.inputs)) sources.add(input)
  return { main, assets: seaFeatures(target).assets ? assets : {}, sources: [...sources].sort() }
}

/** The licenses of the npm packages inside the bundles, one text. */
function thirdPartyLicenses(sources: string[]): string {
  const roots = new Set<string>()
  for (const source of sources) {
    const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(source.split(path.sep).join('/'))
    if (match) roots.add(path.resolve(match[1]!))
  }
  const sections: string[] = []
  for (const root of [...roots].sort()) {
    const pkg = readJson<{ name: string; version: string; license?: string }>(
      path.join(root, 'package.json'),
    )
    const licenseFile = fs.readdirSync(root).find((n) => /^(licen[cs]e|copying)(\.|$)/i.test(n))
    const text = licenseFile
      ? fs.readFileSync(path.join(root, licenseFile), 'utf8').trim()
      : `License: ${pkg.license ?? 'unknown'}`
    sections.push(
      `${pkg.name} ${pkg.version} (${pkg.license ?? 'unknown'})\n${'-'.repeat(60)}\n${text}\n`,
    )
  }
  return `Third-party packages bundled into canbridge-edge\n\n${sections.join('\n')}`
}

// ---------------------------------------------------------------- blob, inject, check

/** Command line that runs the target's binary here: directly, or under qemu-user. */
export function runner(target: Target, binary: string): [string, string[]] {
  if (target.arch === hostArch()) return [binary, []]
  if (!commandExists(target.qemu)) {
    throw new BuildError(
      `${target.qemu} not found: install qemu-user with\n  apt-get install qemu-user-static`,
    )
  }
  return [target.qemu, ['-L', target.sysroot, binary]]
}

function makeBlob(
  target: Target,
  runtime: Runtime,
  main: string,
  assets: Record<string, string>,
  work: string,
): string {
  const blob = path.join(work, 'sea-prep.blob')
  const config = path.join(work, 'sea-config.json')
  fs.writeFileSync(
    config,
    JSON.stringify(
      {
        main,
        output: blob,
        disableExperimentalSEAWarning: true,
        useSnapshot: false,
        useCodeCache: false,
        // the edge's V8 settings, built in (Node 20 has no SEA execArgv: armv7 goes without)
        ...(seaFeatures(target).execArgv ? { execArgv: RUNTIME_FLAGS } : {}),
        ...(Object.keys(assets).length > 0 ? { assets } : {}),
      },
      null,
      2,
    ),
  )
  const [command, prefix] = runner(target, path.join(runtime.dir, 'bin', 'node'))
  run(command, [...prefix, '--experimental-sea-config', config], { cwd: work })
  return blob
}

function inject(runtime: Runtime, blob: string, output: string): void {
  fs.rmSync(output, { force: true })
  fs.copyFileSync(runtime.stripped, `${output}.partial`)
  const postject = path.join(TOOLS, 'node_modules', 'postject', 'dist', 'cli.js')
  run(process.execPath, [
    postject,
    `${output}.partial`,
    'NODE_SEA_BLOB',
    blob,
    '--sentinel-fuse',
    SEA_FUSE,
  ])
  fs.chmodSync(`${output}.partial`, 0o755)
  fs.renameSync(`${output}.partial`, output)
}

function checkVersion(
  target: Target,
  binary: string,
  version: string,
  patchSha256: string,
): { text: string; ms: number } {
  const [command, prefix] = runner(target, binary)
  const started = performance.now()
  const text = run(command, [...prefix, '--version'], {
    env: { ...process.env, CANBRIDGE_ADDON_DIR: '' },
  })
  const ms = performance.now() - started
  const expected = [
    `canbridge-edge ${version}`,
    `node v${target.nodeVersion}`,
    `addon socketcan ${SOCKETCAN_VERSION} n-api ${ADDON_NAPI} (linux-${target.arch},`,
    `addon patch sha256 ${patchSha256}`,
    'single-executable',
    ...(seaFeatures(target).execArgv ? [`node-flags ${RUNTIME_FLAGS.join(' ')}`] : []),
  ]
  for (const line of expected) {
    if (!text.includes(line))
      throw new BuildError(`${binary} --version printed:\n${text}\nexpected a line "${line}"`)
  }
  return { text, ms }
}

// ---------------------------------------------------------------- package

function copyTemplate(
  name: string,
  into: string,
  mode = 0o644,
  replace: Record<string, string> = {},
): void {
  let text = fs.readFileSync(path.join(TEMPLATES, name), 'utf8')
  for (const [key, value] of Object.entries(replace)) text = text.replaceAll(`@${key}@`, value)
  fs.writeFileSync(path.join(into, name), text, { mode })
  fs.chmodSync(path.join(into, name), mode)
}

function sourceDateEpoch(): number {
  const fromEnv = Number(process.env['SOURCE_DATE_EPOCH'])
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv
  try {
    return Number(
      execFileSync('git', ['-C', REPO, 'log', '-1', '--format=%ct'], { encoding: 'utf8' }).trim(),
    )
  } catch {
    return Math.floor(Date.now() / 1000)
  }
}

function gitCommit(): string {
  try {
    const commit = execFileSync('git', ['-C', REPO, 'rev-parse', '--short=12', 'HEAD'], {
      encoding: 'utf8',
    }).trim()
    const dirty = execFileSync(
      'git',
      ['-C', REPO, 'status', '--porcelain', '--untracked-files=no'],
      { encoding: 'utf8' },
    ).trim()
    return dirty ? `${commit}-dirty` : commit
  } catch {
    return 'unknown'
  }
}

function packageArch(
  target: Target,
  version: string,
  binary: string,
  runtime: Runtime,
  buildInfo: Record<string, unknown>,
  outDir: string,
  epoch: number,
): string {
  const name = tarballName(version, target.arch)
  const stage = path.join(CACHE, 'stage', target.arch, name)
  fs.rmSync(path.dirname(stage), { recursive: true, force: true })
  fs.mkdirSync(path.join(stage, 'licenses'), { recursive: true })
  fs.copyFileSync(binary, path.join(stage, 'canbridge-edge'))
  fs.chmodSync(path.join(stage, 'canbridge-edge'), 0o755)
  const replace = { VERSION: version, ARCH: target.arch }
  copyTemplate('canbridge-edge.service', stage, 0o644, replace)
  copyTemplate('config.example.json', stage)
  copyTemplate('80-can0.network', stage)
  copyTemplate('99-canbridge.conf', stage)
  copyTemplate('install.sh', stage, 0o755, replace)
  copyTemplate('README.txt', stage, 0o644, replace)
  fs.copyFileSync(path.join(runtime.dir, 'LICENSE'), path.join(stage, 'licenses', 'node.txt'))
  fs.copyFileSync(
    path.join(CACHE, 'socketcan', `socketcan-${SOCKETCAN_VERSION}`, 'LICENSE'),
    path.join(stage, 'licenses', 'socketcan.txt'),
  )
  fs.copyFileSync(
    path.join(path.dirname(binary), 'THIRD-PARTY.txt'),
    path.join(stage, 'licenses', 'third-party.txt'),
  )
  fs.writeFileSync(path.join(stage, 'BUILDINFO.json'), `${JSON.stringify(buildInfo, null, 2)}\n`)
  const names = fs
    .readdirSync(stage, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.relative(stage, path.join(d.parentPath, d.name)))
    .sort()
  const sums = names.map((n) => `${sha256(path.join(stage, n))}  ${n}`).join('\n')
  fs.writeFileSync(path.join(stage, 'SHA256SUMS'), `${sums}\n`)
  fs.mkdirSync(outDir, { recursive: true })
  const tarball = path.join(outDir, `${name}.tar.gz`)
  const tar = `${tarball}.partial`
  // reproducible: sorted names, fixed owner and mtime, gzip without a timestamp
  run('sh', [
    '-c',
    'tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$1" -C "$2" -cf - "$3" | gzip -9n > "$4"',
    'sh',
    String(epoch),
    path.dirname(stage),
    name,
    tar,
  ])
  fs.renameSync(tar, tarball)
  return tarball
}

function writeSums(outDir: string, version: string): void {
  const tarballs = fs
    .readdirSync(outDir)
    .filter((n) => n.startsWith(`canbridge-edge-${version}-linux-`) && n.endsWith('.tar.gz'))
    .sort()
  const lines = tarballs.map((n) => `${sha256(path.join(outDir, n))}  ${n}`)
  fs.writeFileSync(path.join(outDir, 'SHA256SUMS'), `${lines.join('\n')}\n`)
}

// ---------------------------------------------------------------- main

interface Result {
  arch: Arch
  tarball: string
  binaryBytes: number
  tarballBytes: number
  seconds: number
  versionMs: number
  node: string
  glibc: string
}

async function buildArch(
  target: Target,
  kind: 'edge' | 'standin',
  outDir: string,
  epoch: number,
): Promise<Result> {
  const started = performance.now()
  const version = edgeVersion()
  const work = path.join(CACHE, 'work', target.arch)
  fs.rmSync(work, { recursive: true, force: true })
  fs.mkdirSync(work, { recursive: true })

  log(
    target.arch,
    'runtime',
    `${target.nodePackage}@${target.nodeVersion}${target.note ? ` (${target.note})` : ''}`,
  )
  const runtime = prepareRuntime(target)
  log(
    target.arch,
    'runtime',
    `ok: ${fmtBytes(fs.statSync(runtime.stripped).size)} stripped, needs glibc ${runtime.glibc}`,
  )

  log(
    target.arch,
    'addon',
    `socketcan ${SOCKETCAN_VERSION} + ${path.relative(REPO, SOCKETCAN_PATCH)} for ${target.triplet}, N-API ${ADDON_NAPI}`,
  )
  const addon = buildAddon(target, runtime)
  log(
    target.arch,
    'addon',
    `ok: ${fmtBytes(fs.statSync(addon.file).size)}, needs glibc ${addon.glibc}, sha256 ${addon.sha256.slice(0, 12)}, patch sha256 ${addon.patchSha256.slice(0, 12)}`,
  )
  log(target.arch, 'addon', checkAddon(target, runtime, addon.file))

  const glibc = compareVersions(runtime.glibc, addon.glibc) >= 0 ? runtime.glibc : addon.glibc
  const buildInfo = {
    version,
    target: `linux-${target.arch}`,
    node: target.nodeVersion,
    socketcan: SOCKETCAN_VERSION,
    socketcanPatch: addon.patchSha256,
    addonNapi: ADDON_NAPI,
    glibc,
    commit: gitCommit(),
    date: new Date(epoch * 1000).toISOString(),
  }
  const entry = entryPoints(kind)
  log(
    target.arch,
    'bundle',
    `${path.relative(REPO, entry.main)} + ${entry.workers.length} worker(s), esbuild target ${target.esbuildTarget}`,
  )
  const bundled = await bundle(target, entry, { target, addon, build: buildInfo }, work)
  const main = bundled.main
  fs.writeFileSync(path.join(work, 'THIRD-PARTY.txt'), thirdPartyLicenses(bundled.sources))
  log(
    target.arch,
    'bundle',
    `ok: main script ${fmtBytes(fs.statSync(main).size)} (${bundled.sources.length} modules)`,
  )

  log(
    target.arch,
    'blob',
    `SEA blob by node ${target.nodeVersion}${target.arch === hostArch() ? '' : ` under ${target.qemu}`}`,
  )
  const blob = makeBlob(target, runtime, main, bundled.assets, work)

  const binary = path.join(work, 'canbridge-edge')
  log(target.arch, 'inject', 'postject NODE_SEA_BLOB')
  inject(runtime, blob, binary)
  const binaryBytes = fs.statSync(binary).size

  const check = checkVersion(target, binary, version, addon.patchSha256)
  log(
    target.arch,
    'check',
    `--version ok in ${check.ms.toFixed(0)} ms: ${check.text.trim().split('\n').join(' | ')}`,
  )

  const tarball = packageArch(target, version, binary, runtime, buildInfo, outDir, epoch)
  const tarballBytes = fs.statSync(tarball).size
  log(
    target.arch,
    'package',
    `${path.relative(REPO, tarball)} (${fmtBytes(tarballBytes)}; binary ${fmtBytes(binaryBytes)})`,
  )
  return {
    arch: target.arch,
    tarball,
    binaryBytes,
    tarballBytes,
    seconds: (performance.now() - started) / 1000,
    versionMs: check.ms,
    node: target.nodeVersion,
    glibc,
  }
}

function fmtBytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`
}

async function mainCli(): Promise<number> {
  const { values } = parseArgs({
    options: {
      arch: { type: 'string', default: ARCHES.join(',') },
      entry: { type: 'string', default: 'edge' },
      out: { type: 'string', default: path.join(REPO, 'dist', 'edge') },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    process.stdout.write(
      'usage: node packaging/edge/build.ts [--arch x64,arm64,armv7] [--entry edge|standin] [--out dist/edge]\n',
    )
    return 0
  }
  const arches = values.arch
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean)
  for (const arch of arches) {
    if (!(ARCHES as readonly string[]).includes(arch)) {
      throw new BuildError(`unknown --arch ${arch}: choose from ${ARCHES.join(', ')}`)
    }
  }
  if (values.entry !== 'edge' && values.entry !== 'standin')
    throw new BuildError('--entry is edge or standin')
  if (!fs.existsSync(path.join(TOOLS, 'node_modules', 'esbuild'))) {
    throw new BuildError(
      `build tools missing: npm ci --prefix ${path.relative(REPO, TOOLS)} (scripts/build-edge.sh does this)`,
    )
  }
  const outDir = path.resolve(values.out)
  const epoch = sourceDateEpoch()
  const results: Result[] = []
  for (const arch of arches as Arch[]) {
    results.push(await buildArch(TARGETS[arch], values.entry, outDir, epoch))
  }
  writeSums(outDir, edgeVersion())
  log('all', 'done', `${path.relative(REPO, path.join(outDir, 'SHA256SUMS'))}`)
  process.stdout.write('\narch   node      glibc>=  binary      tar.gz      build   --version\n')
  for (const r of results) {
    process.stdout.write(
      `${r.arch.padEnd(6)} ${r.node.padEnd(9)} ${r.glibc.padEnd(8)} ${fmtBytes(r.binaryBytes).padEnd(11)} ${fmtBytes(r.tarballBytes).padEnd(11)} ${r.seconds.toFixed(1).padStart(5)}s  ${r.versionMs.toFixed(0).padStart(5)} ms\n`,
    )
  }
  fs.writeFileSync(path.join(CACHE, 'last-build.json'), `${JSON.stringify(results, null, 2)}\n`)
  return 0
}

if (import.meta.main ?? process.argv[1] === import.meta.filename) {
  mainCli().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(
        `build-edge: ${error instanceof BuildError ? error.message : ((error as Error).stack ?? String(error))}\n`,
      )
      process.exit(1)
    },
  )
}
