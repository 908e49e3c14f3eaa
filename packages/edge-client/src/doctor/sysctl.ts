// Socket receive buffers: the edge asks for its own (--receive-buffer, SO_RCVBUF), which
// net.core.rmem_max caps unless it has CAP_NET_ADMIN; an addon without the canbridge patch
// cannot ask, and net.core.rmem_default decides (99-canbridge.conf in the tarball sets both
// to 4 MiB).
import { type Host, readHostFile } from './host.ts'
import { type CheckResult, ok, warn } from './report.ts'

export const WANTED_RMEM = 4 * 1024 * 1024
const KEYS = ['rmem_default', 'rmem_max'] as const

export function checkSocketBuffers(host: Host): CheckResult {
  const values = KEYS.map((key) => {
    const text = readHostFile(host, `/proc/sys/net/core/${key}`)?.trim()
    const value = text === undefined || !/^\d+$/.test(text) ? undefined : Number(text)
    return { key, value }
  })
  const shown = values
    .map(({ key, value }) => `${key} ${value === undefined ? 'unreadable' : value}`)
    .join(', ')
  const fix = [
    `sudo sysctl -w net.core.rmem_default=${WANTED_RMEM} net.core.rmem_max=${WANTED_RMEM}`,
    'at boot: 99-canbridge.conf from the tarball in /etc/sysctl.d (install.sh installs it)',
  ]
  if (values.some((v) => v.value === undefined)) {
    return warn('rmem', `cannot read net.core socket buffer sizes (${shown})`, fix)
  }
  const low = values.filter((v) => v.value! < WANTED_RMEM)
  if (low.length > 0) {
    const which = low.map((v) => `${v.key} ${v.value}`).join(' and ')
    return warn(
      'rmem',
      `${which} below 4 MiB: a CAN_RAW socket holds a few hundred frames, and at full bus load the kernel drops frames (the patched binding counts them: kernel-overflow)`,
      fix,
    )
  }
  return ok('rmem', `${shown} (at least 4 MiB)`)
}
