// The socketcan native addon: does it load, and from where? The single executable unpacks
// it into a private directory first (packaging/edge/sea/runtime.ts: $CANBRIDGE_ADDON_DIR,
// $CACHE_DIRECTORY, ~/.cache/canbridge-edge, /tmp/canbridge-edge-<uid>); a directory that is
// not writable keeps a new version from unpacking its addon, and a noexec mount keeps the
// addon from loading at all. Where it came from is read back from /proc/self/maps.
import { accessSync, constants, realpathSync } from 'node:fs'
import { dirname } from 'node:path'
import type { BuildInfo } from '../build-info.ts'
import {
  bindingSupport,
  loadSocketCanModule,
  type NativeModule,
  PATCH_FIX,
  pacingShortfall,
} from '../can/socketcan-binding.ts'
import type { RawChannelBinding } from './can-socket.ts'
import { type Host, readHostFile } from './host.ts'
import { type CheckResult, fail, ok, warn } from './report.ts'

/** Loads the addon the way the poll worker does (a specifier ending in can.node). */
export function loadSocketCanAddon(): RawChannelBinding {
  return loadSocketCanModule()
}

/**
 * Whether the loaded addon carries the canbridge patch (its `.features`): without it the
 * edge cannot count the frames the kernel drops, and says so in its HELLO.
 */
export function checkBindingPatch(binding: RawChannelBinding): CheckResult {
  const support = bindingSupport(binding as NativeModule)
  const shortfall = pacingShortfall(support)
  if (shortfall !== undefined) return warn('binding', shortfall, [PATCH_FIX])
  if (support.patched)
    return ok(
      'binding',
      `patched socketcan binding in use: ${support.description.replace(/^socketcan addon with the canbridge patch /, '')}`,
    )
  return fail('binding', `the patched socketcan binding is NOT in use: ${support.description}`, [
    'from source: pnpm install applies patches/socketcan@4.3.1.patch and rebuilds the addon (a C++ toolchain is needed)',
    'the single executable embeds the patched addon: do not replace it with a can.node of your own',
  ])
}

/** Path of the loaded socketcan addon among the file mappings of /proc/self/maps. */
export function findAddonPath(maps: string): string | undefined {
  for (const line of maps.split('\n')) {
    // address perms offset dev inode path
    const path = line.trim().split(/\s+/).slice(5).join(' ')
    const base = path.slice(path.lastIndexOf('/') + 1)
    if (path.startsWith('/') && /^can(-[0-9a-f]+-\w+)?\.node$/.test(base)) return path
  }
  return undefined
}

export interface MountInfo {
  mountPoint: string
  options: string[]
  fsType: string
}

function unescapeMount(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(Number.parseInt(octal, 8)),
  )
}

/** The mount that holds `path` (longest mount point that is a prefix), from /proc/self/mountinfo. */
export function mountFor(mountinfo: string, path: string): MountInfo | undefined {
  let best: MountInfo | undefined
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ')
    const separator = fields.indexOf('-')
    if (fields.length < 10 || separator < 6) continue
    const mountPoint = unescapeMount(fields[4]!)
    const inside = mountPoint === '/' || path === mountPoint || path.startsWith(`${mountPoint}/`)
    if (!inside) continue
    if (best !== undefined && best.mountPoint.length > mountPoint.length) continue
    best = {
      mountPoint,
      options: fields[5]!.split(','),
      fsType: fields[separator + 1] ?? '',
    }
  }
  return best
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK)
    return true
  } catch {
    return false
  }
}

export interface AddonCheck {
  result: CheckResult
  binding: RawChannelBinding | undefined
}

export interface AddonOptions {
  load?: () => RawChannelBinding
  build?: BuildInfo | undefined
  isWritable?: (dir: string) => boolean
}

export function checkAddon(host: Host, options: AddonOptions = {}): AddonCheck {
  const build = options.build
  let binding: RawChannelBinding
  try {
    binding = (options.load ?? loadSocketCanAddon)()
  } catch (error) {
    const message = (error as Error).message
    return {
      binding: undefined,
      result: fail(
        'addon',
        `the socketcan addon does not load: ${message}`,
        build
          ? [
              'set CANBRIDGE_ADDON_DIR to a directory of your own (mode 0700) on a filesystem that allows executables (not noexec)',
              `and check that the executable fits this machine: ${build.target}, glibc >= ${build.glibc} (ldd --version)`,
            ]
          : ['reinstall it: pnpm install (compiles socketcan; needs a C++ toolchain on Linux)'],
      ),
    }
  }
  const maps = readHostFile(host, '/proc/self/maps')
  const file = maps === undefined ? undefined : findAddonPath(maps)
  const what = build
    ? `socketcan ${build.socketcan} + patch sha256 ${build.socketcanPatch.slice(0, 12)} (N-API ${build.addonNapi}, embedded)`
    : 'socketcan'
  if (file === undefined) {
    return { binding, result: ok('addon', `${what} loaded (its file is not in /proc/self/maps)`) }
  }
  if (build === undefined) {
    return { binding, result: ok('addon', `${what} loaded from ${file}`) }
  }
  // the single executable unpacked it: is that directory fit for the next version too?
  let dir = dirname(file)
  try {
    dir = realpathSync(dir)
  } catch {
    // keep the mapped path
  }
  const mountinfo = readHostFile(host, '/proc/self/mountinfo')
  const mount = mountinfo === undefined ? undefined : mountFor(mountinfo, dir)
  const canWrite = (options.isWritable ?? writable)(dir) && !mount?.options.includes('ro')
  const where = `unpacked in ${dir}${mount ? ` (${mount.fsType} on ${mount.mountPoint})` : ''}`
  const fix = [
    'set CANBRIDGE_ADDON_DIR to a directory of your own (mode 0700), writable, on a filesystem that allows executables',
    '(the service unpacks into /var/cache/canbridge: CacheDirectory= in canbridge-edge.service)',
  ]
  if (mount?.options.includes('noexec')) {
    return {
      binding,
      result: fail(
        'addon',
        `${what} ${where}: mounted noexec, the addon cannot load from there`,
        fix,
      ),
    }
  }
  if (!canWrite) {
    return {
      binding,
      result: warn(
        'addon',
        `${what} ${where}: not writable, so another version cannot unpack its addon there`,
        fix,
      ),
    }
  }
  return { binding, result: ok('addon', `${what} ${where}: writable, executables allowed`) }
}
