// A small file system that really says ENOSPC and EROFS: a tmpfs of a few hundred KiB,
// mounted for one test. Needs root (CI runs as root); `TINY_FS_SKIP` says why when it cannot.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** null when tests can mount; otherwise the reason they are skipped */
export const TINY_FS_SKIP: string | null =
  process.platform !== 'linux'
    ? 'tmpfs mounts need Linux'
    : process.getuid?.() !== 0
      ? 'mounting a tmpfs needs root (CI runs as root); run as root to prove ENOSPC/EROFS'
      : null

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { encoding: 'utf8' })
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr || result.error}`)
}

export class TinyFs {
  readonly dir: string

  /** Mounts a tmpfs of `bytes` (rounded up to whole pages by the kernel). */
  constructor(bytes: number) {
    this.dir = mkdtempSync(join(tmpdir(), 'canbridge-tiny-fs-'))
    try {
      run('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0755`, 'tmpfs', this.dir])
    } catch (error) {
      rmSync(this.dir, { recursive: true, force: true })
      throw error
    }
  }

  readOnly(): void {
    run('mount', ['-o', 'remount,ro', this.dir])
  }

  readWrite(): void {
    run('mount', ['-o', 'remount,rw', this.dir])
  }

  /** Unmounts (lazily: a process that still has a file open must not fail the cleanup). */
  remove(): void {
    run('umount', ['-l', this.dir])
    rmSync(this.dir, { recursive: true, force: true })
  }
}
