// The built daemon as an unprivileged user (nobody, no capabilities, no_new_privs) on real
// SocketCAN (vcan0), secured like the packaged default (TLS with a client certificate and a
// token) to a real TCPBus: frames flow both ways, checked against candump. CAN_RAW sockets
// need no capability; bringing an interface up or down does (CAP_NET_ADMIN), shown by the
// same user failing to. Run by `pnpm test:kernel` inside scripts/kernel-harness.sh.
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CandumpLog, candumpLine, DIST_MAIN, EdgeProcess } from '@canbridge/edge-client/testing'
import { CanMessage, TCPBus } from '@canbridge/server-bus'
import { describe, expect, it } from 'vitest'
import { cleanUpAfterEach, onCleanup, pkiForThisFile } from '../support/secure-edge.ts'

const inKernel = process.env['CANBRIDGE_KERNEL'] !== undefined
const root = process.getuid?.() === 0
const NOBODY = 65534
/** runs a command as nobody: no supplementary groups, no capabilities at all, no way back */
const AS_NOBODY = [
  'setpriv',
  `--reuid=${NOBODY}`,
  `--regid=${NOBODY}`,
  '--clear-groups',
  '--inh-caps=-all',
  '--bounding-set=-all',
  '--no-new-privs',
]
const quiet = { debug() {}, info() {}, warn() {}, error() {} }

cleanUpAfterEach()
const f = pkiForThisFile()

/** The fields of /proc/<pid>/status that say who a process is and what it may do. */
function identity(pid: number): Record<string, string> {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const fields: Record<string, string> = {}
  for (const line of status.split('\n')) {
    const [key, value] = line.split(':\t')
    if (
      key &&
      value &&
      ['Uid', 'Gid', 'Groups', 'CapEff', 'CapPrm', 'CapBnd', 'NoNewPrivs'].includes(key)
    )
      fields[key] = value.trim().replace(/\s+/g, ' ')
  }
  return fields
}

// Real SocketCAN (the harness) and root (setpriv changes user ids only for root).
describe.skipIf(!inKernel || !root)('the daemon as an unprivileged user (kernel tests)', () => {
  it('runs as nobody without capabilities: frames flow both ways over TLS + token to a TCPBus', async () => {
    // the edge's secrets belong to its user alone (the unit does the same with User=)
    chmodSync(f.pki.dir, 0o755)
    for (const file of [f.pki.client.key, f.tokenFile]) {
      chownSync(file, NOBODY, NOBODY)
      chmodSync(file, 0o600)
    }
    const bus = await TCPBus.listen({
      port: 0,
      host: '127.0.0.1',
      logger: quiet,
      ...f.busSecurity(),
    })
    onCleanup(() => bus.shutdown())
    const { port } = bus.address as { port: number }
    // the single executable unpacks its addon into a directory of its user's (the unit's
    // CacheDirectory=): nobody has no home, and what it writes on the harness's shared host
    // file system shows as root's, so a tmpfs of its own stands in for the cache directory
    const addonDir = mkdtempSync(join(tmpdir(), 'canbridge-addon-'))
    execFileSync('mount', [
      '-t',
      'tmpfs',
      '-o',
      `size=16m,mode=0700,uid=${NOBODY},gid=${NOBODY}`,
      'tmpfs',
      addonDir,
    ])
    onCleanup(() => {
      execFileSync('umount', [addonDir])
      rmSync(addonDir, { recursive: true, force: true })
    })
    const edge = new EdgeProcess(
      [
        '--server',
        `127.0.0.1:${port}`,
        '--channel',
        'vcan0',
        '--edge-id',
        'pi-test',
        ...f.edgeSettings(),
        '--log-level',
        'debug',
      ],
      { CANBRIDGE_ADDON_DIR: addonDir },
      DIST_MAIN,
      AS_NOBODY,
    )
    onCleanup(() => edge.stop('SIGKILL'))
    await edge.waitForMsg('connected to the server', 60_000)
    await bus.waitForEdge({ edgeId: 'pi-test', timeoutMs: 10_000 })

    // who it runs as: nobody, with no capability in any set, and unable to gain one
    expect(identity(edge.child.pid!)).toEqual({
      Uid: `${NOBODY} ${NOBODY} ${NOBODY} ${NOBODY}`,
      Gid: `${NOBODY} ${NOBODY} ${NOBODY} ${NOBODY}`,
      Groups: '',
      CapPrm: '0000000000000000',
      CapEff: '0000000000000000',
      CapBnd: '0000000000000000',
      NoNewPrivs: '1',
    })

    // bus → workstation: what candump saw on vcan0 is what TCPBus received
    const dump = new CandumpLog('vcan0')
    await dump.listening()
    for (const frame of ['123#DEADBEEF', '18DAF110#0102', '7FF#', '001#R'])
      execFileSync('cansend', ['vcan0', frame])
    const received: CanMessage[] = []
    while (received.length < 4) {
      const message = await bus.recv(10_000)
      if (message === null) break
      received.push(message)
    }
    // workstation → bus: a send through the edge, seen by candump
    await bus.send(
      new CanMessage({
        arbitrationId: 0x321,
        isExtendedId: false,
        data: [0xca, 0xfe],
        channel: 'pi-test/vcan0',
      }),
    )
    const lines = await dump.stop()
    const got = received.map((m) => candumpLine(m, 'vcan0'))
    const untimed = (line: string): string => line.replace(/^\(\d+\.\d+\) /, '')
    // the first frame of a socket carries the time of the binding's first SIOCGSTAMP (README:
    // limits of the binding); every later one the kernel's receive time, to the µs
    expect(untimed(got[0]!)).toBe(untimed(lines[0]!))
    expect(got.slice(1)).toEqual(lines.slice(1, 4))
    expect(lines.slice(4).map(untimed)).toEqual(['vcan0 321#CAFE'])

    // and what the daemon does not need: the same user cannot take an interface down
    const down = spawnSync(
      AS_NOBODY[0]!,
      [...AS_NOBODY.slice(1), 'ip', 'link', 'set', 'vcan0', 'down'],
      {
        encoding: 'utf8',
      },
    )
    expect(down.status).not.toBe(0)
    expect(down.stderr).toMatch(/Operation not permitted/)
  })
})
