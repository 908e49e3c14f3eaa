// Are SocketCAN's kernel parts there: the `can` core (AF_CAN) and `can_raw` (CAN_RAW
// sockets)? Loaded modules are in /proc/modules; built-in ones show as /proc/net/can (the
// core) and a CAN_RAW line in /proc/net/protocols; modules not loaded yet are in
// /lib/modules/<release>/modules.dep (the kernel loads them on first use).

import { type Host, readHostFile } from './host.ts'
import { type CheckResult, fail, ok } from './report.ts'

interface Module {
  /** name in /proc/modules */
  name: 'can' | 'can_raw'
  /** file name in modules.dep / modules.builtin, without .ko */
  file: string
}

const MODULES: readonly Module[] = [
  { name: 'can', file: 'can' },
  { name: 'can_raw', file: 'can-raw' },
]

/** Protocol names registered in the kernel (/proc/net/protocols), or undefined if unreadable. */
export function registeredProtocols(host: Host): Set<string> | undefined {
  const text = readHostFile(host, '/proc/net/protocols')
  if (text === undefined) return undefined
  const names = text
    .split('\n')
    .slice(1)
    .map((line) => line.split(/\s+/)[0] ?? '')
    .filter((name) => name !== '')
  return new Set(names)
}

/** Module names listed by a modules.dep or modules.builtin text (`kernel/net/can/can-raw.ko.xz:` → can-raw). */
export function moduleFiles(text: string): Set<string> {
  const files = new Set<string>()
  for (const line of text.split('\n')) {
    const path = line.split(':')[0]!.trim()
    const match = /([^/]+)\.ko(?:\.(?:xz|gz|zst))?$/.exec(path)
    if (match) files.add(match[1]!)
  }
  return files
}

type ModuleState = 'loaded' | 'built-in' | 'available' | 'absent'

export function checkKernelModules(host: Host): CheckResult {
  const procModules = readHostFile(host, '/proc/modules')
  const loaded = new Set((procModules ?? '').split('\n').map((line) => line.split(' ')[0] ?? ''))
  const protocols = registeredProtocols(host)
  const coreRunning = readHostFile(host, '/proc/net/can/stats') !== undefined
  const modulesDir = `/lib/modules/${host.release}`
  const dep = readHostFile(host, `${modulesDir}/modules.dep`)
  const builtinText = readHostFile(host, `${modulesDir}/modules.builtin`)
  const available = dep === undefined ? new Set<string>() : moduleFiles(dep)
  const builtin = builtinText === undefined ? new Set<string>() : moduleFiles(builtinText)

  const states = new Map<Module, ModuleState>()
  for (const module of MODULES) {
    const running = module.name === 'can' ? coreRunning : (protocols?.has('CAN_RAW') ?? false)
    states.set(
      module,
      loaded.has(module.name)
        ? 'loaded'
        : running || builtin.has(module.file)
          ? 'built-in'
          : available.has(module.file)
            ? 'available'
            : 'absent',
    )
  }
  const describe = (state: ModuleState): string =>
    state === 'available' ? 'not loaded yet (the kernel loads it on first use)' : state
  const summary = MODULES.map((m) => `${m.name} ${describe(states.get(m)!)}`).join(', ')
  const absent = MODULES.filter((m) => states.get(m) === 'absent')
  if (absent.length === 0) return ok('kernel', summary)

  const names = absent.map((m) => m.name).join(' and ')
  let why: string
  if (procModules === undefined) {
    why = `this kernel (${host.release}) has no loadable module support (no /proc/modules) and no built-in SocketCAN`
  } else if (dep === undefined) {
    why = `${names} not loaded, and ${modulesDir} does not exist (a container or a VM image without this kernel's modules?)`
  } else {
    why = `${names} not among this kernel's modules (${modulesDir}): it was built without SocketCAN`
  }
  return fail('kernel', `no SocketCAN (${summary}): ${why}`, [
    'the edge needs a kernel with SocketCAN: CONFIG_CAN and CONFIG_CAN_RAW (Raspberry Pi OS and Debian kernels have both)',
    `where the modules exist: sudo modprobe -a can can_raw (at boot: printf 'can\\ncan_raw\\n' | sudo tee /etc/modules-load.d/can.conf)`,
    'in a container (Docker, WSL, ...): load them on the host; the container shares its kernel',
    "no CAN at all: --channel 'virtual:demo' runs the edge on a scripted channel without the kernel",
  ])
}
