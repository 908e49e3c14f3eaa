// --spool-dir: the disk spool must take writes, or the edge runs with its memory ring only
// and drops what does not fit (a full SD card, a file system remounted read-only after
// errors). Checked by writing into it as the daemon does, without creating it.
import { access, constants, stat, statfs } from 'node:fs/promises'
import { dirname } from 'node:path'
import { codeOf, SpoolIoError } from '../spool/errors.ts'
import { probeSpoolDirectory } from '../spool/probe.ts'
import { type CheckResult, fail, ok, warn } from './report.ts'

const MIB = 1024 * 1024
const RING_ONLY =
  'until then the edge streams with its memory ring only: frames beyond it are dropped (by --drop-policy) and reported'

function why(code: string | undefined): string {
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'the disk is full'
  if (code === 'EROFS')
    return 'the file system is read-only (an SD card with errors is remounted so)'
  if (code === 'EACCES' || code === 'EPERM') return 'this user may not write there'
  return code ?? 'error'
}

/** `spoolBytes` per channel, `channels` of them: what the spool may fill at most. */
export async function checkSpool(
  dir: string,
  spoolBytes: number,
  channels: number,
): Promise<CheckResult> {
  const exists = await stat(dir).then(
    (s) => s.isDirectory(),
    (error: unknown) => {
      if (codeOf(error) === 'ENOENT') return false
      throw error
    },
  )
  if (!exists) {
    // creating it here (doctor may run as root) could leave a directory the service cannot use
    const parent = dirname(dir)
    const writable = await access(parent, constants.W_OK).then(
      () => true,
      () => false,
    )
    return writable
      ? warn('spool', `${dir} does not exist yet: the edge creates it in ${parent} at start`, [
          `create it for the service's user now (e.g. install -d -o canbridge ${dir}) to check it here`,
        ])
      : fail('spool', `${dir} does not exist and ${parent} is not writable by this user`, [
          `create it for the service's user (install -d -o canbridge ${dir}), or choose another --spool-dir`,
        ])
  }
  try {
    await probeSpoolDirectory(dir)
  } catch (error) {
    if (!(error instanceof SpoolIoError)) throw error
    return fail(
      'spool',
      `${dir} takes no writes: ${why(error.code)} (${error.code ?? error.message})`,
      [
        `free space there, remount it read-write, or point --spool-dir at another file system`,
        RING_ONLY,
      ],
    )
  }
  const fsStats = await statfs(dir)
  const free = fsStats.bavail * fsStats.bsize
  const limit = spoolBytes * channels
  const shown = `${(free / MIB).toFixed(1)} MiB free for a spool of up to ${(limit / MIB).toFixed(1)} MiB (--spool-bytes × ${channels} channel${channels === 1 ? '' : 's'})`
  if (free < limit) {
    return warn('spool', `${dir} writable; ${shown}`, [
      'the disk fills before the spool limit: frames are then dropped as spool-full (by --drop-policy) and reported',
      'free space, or lower --spool-bytes to what the disk holds',
    ])
  }
  return ok('spool', `${dir} writable; ${shown}`)
}
