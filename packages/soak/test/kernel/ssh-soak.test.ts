// The soak's remote mode for real: `canbridge-soak --ssh user@host` runs cangen, candump and
// `ip link` on the edge's machine over ssh. Here that machine is this kernel (the harness's
// UML guest, or a host with vcan): a real sshd on loopback with a throw-away host key, key
// login with a throw-away user key (as `canbridge-soak --help` asks of a Pi), the edge apart,
// as a user runs it on the Pi, dialling the soak's TCPBus (--edge external).
// Run by `pnpm test:kernel` inside scripts/kernel-harness.sh (which installs openssh-server).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DIST_MAIN } from '@canbridge/edge-client/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SoakResult } from '../../src/analyze.ts'

const inKernel =
  process.env['CANBRIDGE_KERNEL'] !== undefined && process.env['CANBRIDGE_VCAN_FD'] === '1'
const isRoot = process.getuid?.() === 0
const BIN = fileURLToPath(new URL('../../bin/canbridge-soak.js', import.meta.url))
const EDGE = DIST_MAIN
const SSHD = '/usr/sbin/sshd'
const IFACE = (process.env['CANBRIDGE_VCAN'] ?? 'vcan0').split(',')[0]!
const DURATION_S = 25

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

function keygen(path: string): void {
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    'canbridge-soak-test',
    '-f',
    path,
  ])
}

/** Waits until `child` wrote a line matching `pattern` on stderr; rejects if it exits first. */
function stderrLine(child: ChildProcess, pattern: RegExp, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = ''
    const timer = setTimeout(
      () => reject(new Error(`${what}: no ${pattern} in 30 s: ${text}`)),
      30_000,
    )
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk
      if (pattern.test(text)) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}): ${text}`)))
  })
}

/**
 * A throw-away sshd on 127.0.0.1 and the client configuration for it. The client side is
 * what a user's ~/.ssh/config would hold for a Pi (port, key, known host); it reaches the
 * soak through an `ssh` on PATH that adds `-F <config>`, so nothing in the real home changes.
 * sshd runs in its own mount namespace with an empty tmpfs over the user's home: the logins
 * find no shell start-up files (as on a fresh Pi account), which on a developer's machine
 * could be slow or write to the shared file system (hostfs is the host's own disk).
 */
async function startSshd(
  dir: string,
): Promise<{ sshd: ChildProcess; port: number; log: () => string; bin: string }> {
  keygen(join(dir, 'host_key'))
  keygen(join(dir, 'user_key'))
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'user_key.pub')))
  const port = await freePort()
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      // the key files live in a temporary directory, not the user's ~/.ssh
      'StrictModes no',
      'UsePAM no',
      'UseDNS no',
      '',
    ].join('\n'),
  )
  mkdirSync('/run/sshd', { recursive: true }) // its privilege separation directory
  const sshd = spawn(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      'mount -t tmpfs -o mode=700 tmpfs "$2" && exec "$3" -D -e -f "$1"',
      'sh',
      join(dir, 'sshd_config'),
      userInfo().homedir,
      SSHD,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let log = ''
  const listening = stderrLine(sshd, /Server listening on 127\.0\.0\.1/, 'sshd')
  sshd.stderr!.on('data', (chunk: string) => {
    log += chunk
  })
  await listening
  const hostKey = readFileSync(join(dir, 'host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ')
  writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostKey}\n`)
  writeFileSync(
    join(dir, 'ssh_config'),
    [
      'Host 127.0.0.1',
      `  Port ${port}`,
      `  IdentityFile ${join(dir, 'user_key')}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${join(dir, 'known_hosts')}`,
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      '',
    ].join('\n'),
  )
  const realSsh = execFileSync('sh', ['-c', 'command -v ssh'], { encoding: 'utf8' }).trim()
  const bin = join(dir, 'bin')
  mkdirSync(bin)
  writeFileSync(
    join(bin, 'ssh'),
    `#!/bin/sh\nexec ${realSsh} -F ${join(dir, 'ssh_config')} "$@"\n`,
    {
      mode: 0o755,
    },
  )
  return { sshd, port, log: () => log, bin }
}

// Needs real SocketCAN with CAN FD (the harness's --fd), collected by vitest.kernel.config.ts;
// and root: sshd logs a user in by key only as root (the guest runs as the caller), and the
// iface-bounce fault runs `ip link set` over ssh, which needs root there (no --sudo: the
// login is root's already, and sudo is not installed on the test machines).
describe.skipIf(!inKernel || !isRoot)(
  'canbridge-soak --ssh against a real sshd (kernel harness)',
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'canbridge-ssh-soak-'))
    const children: ChildProcess[] = []
    let ssh: Awaited<ReturnType<typeof startSshd>>

    beforeAll(async () => {
      expect(existsSync(SSHD), 'openssh-server (the kernel harness installs it)').toBe(true)
      ssh = await startSshd(dir)
      children.push(ssh.sshd)
    })

    afterAll(async () => {
      for (const child of children.reverse()) {
        if (child.exitCode !== null || child.signalCode !== null) continue
        child.kill('SIGTERM')
        await new Promise((resolve) => child.once('exit', resolve))
      }
      rmSync(dir, { recursive: true, force: true })
    })

    it(`${DURATION_S} s at 1,000 frames/s with a server restart and an iface bounce, cangen and candump over ssh: nothing lost, duplicated, reordered or corrupted`, async () => {
      expect(existsSync(EDGE), `build the edge first (${EDGE})`).toBe(true)
      const user = userInfo().username
      const env = { ...process.env, PATH: `${ssh.bin}:${process.env['PATH'] ?? ''}` }
      // the key login works on its own first: the soak's ssh commands would only time out
      const probe = execFileSync(
        'ssh',
        ['-o', 'BatchMode=yes', `${user}@127.0.0.1`, '--', 'ip', 'link', 'show', IFACE],
        {
          env,
          encoding: 'utf8',
        },
      )
      expect(probe).toContain(IFACE)

      // the edge as on the Pi: its own process, pointed at the workstation's TCPBus port
      const busPort = await freePort()
      const edge = spawn(
        process.execPath,
        [
          EDGE,
          '--server',
          `127.0.0.1:${busPort}`,
          '--channel',
          IFACE,
          '--edge-id',
          'pi',
          '--stats-interval',
          '1s',
          '--spool-dir',
          join(dir, 'spool'),
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      )
      children.push(edge)
      let edgeStderr = ''
      edge.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        edgeStderr += chunk
      })

      const out = join(dir, 'out')
      const soak = spawn(
        process.execPath,
        [
          BIN,
          '--ssh',
          `${user}@127.0.0.1`,
          '--iface',
          IFACE,
          '--edge',
          'external',
          '--edge-id',
          'pi',
          '--port',
          String(busPort),
          '--listen',
          '127.0.0.1',
          '--duration',
          String(DURATION_S),
          '--rate',
          '1000',
          '--fault',
          'server-restart@6s/2s',
          '--fault',
          'iface-bounce@15s/2s',
          '--out',
          out,
          '--json',
          '--no-harness',
          '--progress-interval',
          '5',
        ],
        { env, stdio: ['ignore', 'pipe', 'inherit'] },
      )
      children.push(soak)
      let stdout = ''
      soak.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk
      })
      const code = await new Promise<number | null>((resolve) => soak.once('close', resolve))
      expect(stdout.trim(), `the soak printed no JSON; edge: ${edgeStderr}`).not.toBe('')
      const result = JSON.parse(stdout) as SoakResult
      const { series: _series, histogram: _histogram, ...summary } = result
      console.log(JSON.stringify(summary, null, 2))
      console.log(`frames on the bus per second: ${result.series.sent.join(' ')}`)

      // what the remote candump logged, counted here from its log file
      const logged = readFileSync(join(out, 'candump.log'), 'utf8')
        .split('\n')
        .filter((line) => /^\(\d+\.\d{6}\) \S+ \S+$/.test(line)).length
      expect({
        lost: result.lost,
        duplicated: result.duplicated,
        reordered: result.reordered,
        corrupted: result.corrupted,
      }).toEqual({ lost: 0, duplicated: 0, reordered: 0, corrupted: 0 })
      expect(result.groundTruthDrops).toBe(0)
      // between faults the traffic runs near the rate asked (cangen under UML reaches 85-95 %
      // of it, and 25 s leave the soak no time to re-pace); each ssh login costs about a
      // second under UML, so the interface bounce (cangen exits on ENETDOWN and is started
      // again over ssh) costs a few seconds of traffic, and the average is lower
      expect(Math.max(...result.series.sent)).toBeGreaterThanOrEqual(800)
      expect(result.sent).toBeGreaterThanOrEqual(10_000)
      expect({ sent: result.sent, received: result.received }).toEqual({
        sent: logged,
        received: logged,
      })
      expect(result.faults.map((f) => [f.kind, f.error])).toEqual([
        ['server-restart', undefined],
        ['iface-bounce', undefined],
      ])
      expect(result.problems).toEqual([])
      expect(code).toBe(0)
      // the commands really went through sshd, logged in by key
      expect(ssh.log()).toMatch(new RegExp(`Accepted publickey for ${user} from 127\\.0\\.0\\.1`))
      // nothing the soak started over ssh outlives it on the edge's machine
      const left = execFileSync('sh', ['-c', 'pgrep -x cangen; pgrep -x candump; true'], {
        encoding: 'utf8',
      })
      expect(left.trim(), 'cangen or candump still running after the soak').toBe('')
    }, 300_000)
  },
)
