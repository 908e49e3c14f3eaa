// What `--ssh` runs on the edge's machine, run here by a local `sh -c` exactly as sshd hands
// the joined words to the login shell (test/kernel/ssh-soak.test.ts does it through sshd).
import { type ChildProcess, spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { argvAt, exited, stopChild } from './exec.ts'

const PI = { ssh: 'pi@raspberrypi' }

/** The remote half of an ssh argv as its login shell would run it, stdin a pipe like ssh's. */
function asRemoteShell(argv: readonly string[]): ChildProcess {
  expect(argv.slice(0, 6)).toEqual([
    'ssh',
    '-o',
    'BatchMode=yes',
    '-o',
    'ServerAliveInterval=5',
    PI.ssh,
  ])
  const words = argv.slice(argv.indexOf('--') + 1)
  return spawn('sh', ['-c', words.join(' ')], { stdio: ['pipe', 'pipe', 'pipe'] })
}

async function outcome(child: ChildProcess): Promise<{ code: number | null; out: string }> {
  let out = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
  })
  await exited(child)
  return { code: child.exitCode, out }
}

describe('commands over ssh', () => {
  it('quotes every word for the remote shell', async () => {
    const child = asRemoteShell(argvAt(PI, 'printf', ['%s|', 'a b', "it's", '$HOME', '*']))
    child.stdin!.end()
    expect(await outcome(child)).toEqual({ code: 0, out: "a b|it's|$HOME|*|" })
  })

  it('ends a long-running command when ssh closes its stdin (the stop), with SIGTERM', async () => {
    const child = asRemoteShell(
      argvAt(
        PI,
        'sh',
        ['-c', 'trap "echo stopped; exit 0" TERM; echo started; while :; do sleep 0.05; done'],
        60,
      ),
    )
    const result = outcome(child)
    await new Promise((resolve) => setTimeout(resolve, 500))
    const started = Date.now()
    await stopChild(child, 'SIGKILL', 5000)
    // it stopped on the closed stdin, cleanly (its trap ran), not by the 5 s SIGKILL
    expect(Date.now() - started).toBeLessThan(4000)
    expect(await result).toEqual({ code: 0, out: 'started\nstopped\n' })
  })

  it('ends the session with the command when the command ends by itself, with its status', async () => {
    const child = asRemoteShell(argvAt(PI, 'sh', ['-c', 'exit 7'], 60))
    // stdin stays open: the session must not wait for it
    expect((await outcome(child)).code).toBe(7)
    child.stdin!.end()
  })

  it('bounds a long-running command by its time limit', async () => {
    const child = asRemoteShell(argvAt(PI, 'sleep', ['30'], 1))
    const started = Date.now()
    expect((await outcome(child)).code).toBe(124) // timeout's status
    expect(Date.now() - started).toBeLessThan(5000)
    child.stdin!.end()
  })
})
