// Run-time support for canbridge-edge as a single executable (Node SEA). Bundled by
// esbuild into the main script and into every worker script; nothing here touches the disk
// until the native addon is first needed.
//
// Everything the program needs at run time travels inside the executable: the worker
// bundles as SEA assets (read when a worker starts; as strings in the main script where
// the runtime has no `node:sea` assets: armv7's Node 20.11), the socketcan addon as base64,
// and the few files the code reads (package.json).
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'

/** Source files are bundled under this virtual root: import.meta.url of
 * packages/edge-client/dist/supervisor.js becomes file:///canbridge-edge.sea/packages/edge-client/dist/supervisor.js */
export const VIRTUAL_ROOT = '/canbridge-edge.sea/'

/** The path inside the virtual root (no leading slash), or undefined for a real path. */
export function virtualPath(target: string | URL | Buffer | number): string | undefined {
  let file: string
  if (target instanceof URL) {
    if (target.protocol !== 'file:') return undefined
    file = fileURLToPath(target)
  } else if (typeof target === 'string') {
    file = target.startsWith('file:') ? fileURLToPath(target) : target
  } else {
    return undefined
  }
  return file.startsWith(VIRTUAL_ROOT)
    ? path.posix.normalize(file.slice(VIRTUAL_ROOT.length))
    : undefined
}

export class AddonLoadError extends Error {
  override readonly name = 'AddonLoadError'
}

interface Addon {
  readonly name: string
  readonly sha256: string
  readonly base64: string
}

const loaded = new Map<string, unknown>()

/** Directories to try for the extracted addon, best first. */
export function addonDirectories(env: NodeJS.ProcessEnv = process.env): string[] {
  const dirs: string[] = []
  const add = (dir: string | undefined, ...rest: string[]): void => {
    if (dir && path.isAbsolute(dir)) dirs.push(path.join(dir, ...rest))
  }
  add(env['CANBRIDGE_ADDON_DIR'])
  // systemd's CacheDirectory= (the unit sets CacheDirectory=canbridge, mode 0700)
  add(env['CACHE_DIRECTORY']?.split(':')[0])
  add(env['XDG_CACHE_HOME'], 'canbridge-edge')
  const home = env['HOME'] || safeHomedir()
  add(home, '.cache', 'canbridge-edge')
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user'
  add(os.tmpdir(), `canbridge-edge-${uid}`)
  return [...new Set(dirs)]
}

function safeHomedir(): string | undefined {
  try {
    return os.homedir()
  } catch {
    return undefined
  }
}

/** Creates `dir` (0700) if missing and checks that it is a private directory of ours:
 * a real directory (not a symlink), owned by this uid, not writable by group or others. */
function privateDirectory(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  const stat = fs.lstatSync(dir)
  if (!stat.isDirectory()) throw new AddonLoadError(`${dir} is not a directory`)
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined
  if (uid !== undefined && stat.uid !== uid)
    throw new AddonLoadError(`${dir} belongs to uid ${stat.uid}, not ${uid}`)
  if ((stat.mode & 0o022) !== 0) fs.chmodSync(dir, 0o700)
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/** Writes the addon into `dir` under a content-hashed name (atomically, once) and returns
 * the path. An existing file is used only if its content hash matches. */
function extract(addon: Addon, bytes: Buffer, dir: string): string {
  privateDirectory(dir)
  const stem = addon.name.replace(/\.node$/, '')
  const file = path.join(dir, `${stem}-${addon.sha256.slice(0, 16)}-${process.arch}.node`)
  try {
    if (sha256(fs.readFileSync(file)) === addon.sha256) return file
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  const temporary = path.join(
    dir,
    `.${stem}-${process.pid}-${Math.random().toString(36).slice(2)}.tmp`,
  )
  try {
    fs.writeFileSync(temporary, bytes, { mode: 0o500, flag: 'wx' })
    fs.renameSync(temporary, file)
  } finally {
    fs.rmSync(temporary, { force: true })
  }
  return file
}

/** Loads an embedded native addon: extracts it to a private cache directory (first one of
 * addonDirectories() that works, also for dlopen: a noexec mount fails there) and dlopens
 * it. Cached per thread. */
export function loadAddon(addon: Addon): unknown {
  const cached = loaded.get(addon.sha256)
  if (cached) return cached
  const bytes = Buffer.from(addon.base64, 'base64')
  if (sha256(bytes) !== addon.sha256)
    throw new AddonLoadError(`embedded ${addon.name} is corrupt (sha256 mismatch)`)
  const failures: string[] = []
  for (const dir of addonDirectories()) {
    let file: string
    try {
      file = extract(addon, bytes, dir)
    } catch (error) {
      failures.push(`${dir}: ${(error as Error).message}`)
      continue
    }
    const module = { exports: {} as unknown }
    try {
      process.dlopen(module, file)
    } catch (error) {
      failures.push(`${file}: ${(error as Error).message}`)
      continue
    }
    loaded.set(addon.sha256, module.exports)
    return module.exports
  }
  throw new AddonLoadError(
    `cannot load the embedded ${addon.name}: ${failures.join('; ')}. ` +
      'Set CANBRIDGE_ADDON_DIR to a private directory on a filesystem that allows executables.',
  )
}
