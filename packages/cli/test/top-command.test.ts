// `canbridge top` as a process writing into a pipe: a scripted edge streams frames whose ids,
// payloads and timing the test chooses, and the plain table is read back.
import { describe, expect, it } from 'vitest'
import { renderTable } from '../src/top-command.ts'
import { connectEdge, startCli } from './support/cli-session.ts'

const LOCAL = ['--host', '127.0.0.1', '--port', '0']

describe('canbridge top', () => {
  it('shows every id with its count and last data, changed bytes marked, in a pipe', async () => {
    const p = startCli(['top', ...LOCAL, '--interval', '300', '-n', '60'])
    const edge = await connectEdge(p)
    // 0x123 three times, byte 1 changing 2 s after the first (in the edge's clock: bytes
    // unchanged for a second are no longer marked), and 0x18DAF110 once (all of it new)
    edge.sendFrames(0, 0, [
      { id: 0x123, data: [1, 2, 3], timestampNs: 1_700_000_000_000_000_000n },
      { id: 0x123, data: [1, 5, 3], timestampNs: 1_700_000_002_000_000_000n },
      { id: 0x18daf110, flags: 1, data: [0xaa], timestampNs: 1_700_000_002_005_000_000n },
      { id: 0x123, data: [1, 5, 3], timestampNs: 1_700_000_002_010_000_000n },
    ])
    await p.waitForStdout((text) => /pi\/can0 +123 +3 /.test(text))
    p.kill()
    const last = p.stdout.trim().split('\n\n').at(-1)!
    const lines = last.split('\n')
    expect(lines[0]).toMatch(/^channel +id +frames +rate\/s +period +jitter +data$/)
    expect(lines.find((l) => / 123 /.test(l))).toMatch(
      /^pi\/can0 +123 +3 +[\d.]+ +[\d.]+ +[\d.]+ +01 \*05 +03$/,
    )
    expect(lines.find((l) => /18DAF110/.test(l))).toMatch(
      /^pi\/can0 +18DAF110 +1 +[\d.]+ +- +- +\*AA$/,
    )
  })

  it('draws changed bytes in reverse video on a terminal', () => {
    const text = renderTable(
      [
        {
          channel: 'pi/can0',
          id: '123',
          extended: false,
          fd: false,
          remote: false,
          error: false,
          count: 2,
          rate: 1,
          periodMs: 10,
          jitterMs: 0,
          data: '01 05',
          changed: [1],
        },
      ],
      true,
    )
    expect(text).toContain('01 \u001b[7m05\u001b[0m')
  })

  it('refuses a bad interface and a bad interval', async () => {
    for (const args of [['bad interface!'], ['--interval', '0']]) {
      const p = startCli(['top', ...LOCAL, ...args])
      expect(await p.exited).toBe(2)
    }
  })
})
