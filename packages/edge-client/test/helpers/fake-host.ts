// A host for the doctor's checks made of files in a temporary directory (its /proc, /sys,
// /lib/modules) and a scripted `exec`.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { Host } from '../../src/doctor/host.ts'

const roots: string[] = []

export function fakeHost(
  files: Record<string, string>,
  exec: Host['exec'] = () => {
    throw Object.assign(new Error('spawn ip ENOENT'), { code: 'ENOENT' })
  },
): Host {
  const root = mkdtempSync(join(tmpdir(), 'canbridge-doctor-'))
  roots.push(root)
  for (const [path, text] of Object.entries(files)) {
    const file = join(root, path)
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, text)
  }
  return { root, release: '6.1.0-test', exec }
}

export function removeFakeHosts(): void {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true })
}

/** sysfs files of one interface: type 280 is CAN; flags 0x1 is up. */
export function sysfsLink(
  name: string,
  link: { type?: number; up?: boolean; mtu?: number } = {},
): Record<string, string> {
  return {
    [`/sys/class/net/${name}/type`]: `${link.type ?? 280}\n`,
    [`/sys/class/net/${name}/flags`]: link.up === false ? '0x80\n' : '0xc1\n',
    [`/sys/class/net/${name}/mtu`]: `${link.mtu ?? 16}\n`,
  }
}

/** /proc/net/protocols with or without CAN_RAW (the header and a few usual lines). */
export function protocols(canRaw: boolean): string {
  return [
    'protocol  size sockets  memory press maxhdr  slab module     cl co di ac io in de sh ss gs se re sp bi br ha uh gp em',
    ...(canRaw
      ? [
          'CAN_RAW    840      0      -1   NI       0   no   can_raw     n  n  n  n  n  y  n  n  n  n  n  n  n  n  n  n  n  n  n',
        ]
      : []),
    'UNIX      1024      1      -1   NI       0   yes  kernel      n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n',
    'TCP       2432      2       2   no     320   yes  kernel      y  y  y  y  y  y  y  y  y  y  y  y  y  n  y  y  y  y  y',
    '',
  ].join('\n')
}
