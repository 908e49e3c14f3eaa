// The log's form: JSON lines for a service (stdout not a terminal), readable lines on a
// terminal (a pseudo-terminal from util-linux's script(1) here) or when asked.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url))
/** The edge with a server that is not there: it logs its start, then retries until stopped. */
const ARGS = ['--server', '127.0.0.1:1', '--channel', 'virtual:log?rate=0']

/** The edge's output up to its first log line (`server link`), then stopped; ANSI colours removed. */
function output(command: string, args: string[]): Promise<string> {
  const child = spawn(command, args, {
    env: { PATH: process.env['PATH'] ?? '', TERM: 'xterm' },
    // script(1) stops at the end of its stdin: an open pipe keeps it going
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  let text = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`no "server link" log line in 25 s; got ${JSON.stringify(text)}`))
    }, 25_000)
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      text += chunk
      if (!/server link[^\n]*\n/.test(text)) return
      clearTimeout(timer)
      child.kill('SIGKILL')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape that starts a colour
      resolve(text.replace(/\x1b\[[0-9;]*m/g, ''))
    })
  })
}

describe('log format', () => {
  it('JSON lines when stdout is not a terminal (a service, a pipe)', async () => {
    const first = (await output(process.execPath, [MAIN, ...ARGS])).split('\n')[0]!
    expect(JSON.parse(first)).toMatchObject({ level: 30, msg: 'server link' })
  }, 60_000)

  it('readable lines on a terminal', async () => {
    const command = [process.execPath, MAIN, ...ARGS].map((a) => `'${a}'`).join(' ')
    const text = await output('script', ['-qec', command, '/dev/null'])
    expect(text).toMatch(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: server link \{"security":"no TLS, no token"\}\r?$/m,
    )
    expect(text).not.toMatch(/"level":30/)
  }, 60_000)

  it('--log-format json on a terminal, --log-format pretty into a pipe', async () => {
    const command = [process.execPath, MAIN, ...ARGS, '--log-format', 'json']
      .map((a) => `'${a}'`)
      .join(' ')
    expect(await output('script', ['-qec', command, '/dev/null'])).toMatch(/^\{"level":30,/)
    expect(await output(process.execPath, [MAIN, ...ARGS, '--log-format', 'pretty'])).toMatch(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: server link/,
    )
  }, 60_000)
})
