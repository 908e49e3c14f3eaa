// `canbridge send` and `canbridge gen` as processes: a scripted edge connects over loopback
// TCP and receives the TRANSMITs. Frames are compared with what the test writes out itself
// from cansend's notation and cangen's rules; refusals are checked by their message and status.
import { FRAME_FLAG, type Transmit } from '@canbridge/protocol'
import { describe, expect, it } from 'vitest'
import { FrameGenerator } from '../src/frame-generator.ts'
import { genSettings } from '../src/gen-command.ts'
import { messageOfNotation } from '../src/send-command.ts'
import { connectEdge, startCli } from './support/cli-session.ts'

const LOCAL = ['--host', '127.0.0.1', '--port', '0']

function frameText(t: Transmit): string {
  const f = t.frame
  return `${f.id.toString(16)} flags=${f.flags} len=${f.len} ${Buffer.from(f.data).toString('hex')}`
}

describe('canbridge send', () => {
  it.each([
    ['123#DEADBEEF', `123 flags=0 len=4 deadbeef`],
    ['1F334455#11.22.33', `1f334455 flags=${FRAME_FLAG.EXT} len=3 112233`],
    ['5A1#R', `5a1 flags=${FRAME_FLAG.RTR} len=0 `],
    ['5A1#R3', `5a1 flags=${FRAME_FLAG.RTR} len=3 `],
    ['123##1DEADBEEFCAFE', `123 flags=${FRAME_FLAG.FD | FRAME_FLAG.BRS} len=6 deadbeefcafe`],
    ['123##3', `123 flags=${FRAME_FLAG.FD | FRAME_FLAG.BRS | FRAME_FLAG.ESI} len=0 `],
  ])('puts %s on the bus as cansend would', async (notation, expected) => {
    const p = startCli(['send', ...LOCAL, 'can0', notation])
    const received: string[] = []
    await connectEdge(p, {
      onTransmit: (t) => {
        received.push(`${t.channel} ${frameText(t)}`)
        return { requestId: t.requestId, ok: true }
      },
    })
    expect(await p.exited).toBe(0)
    expect(received).toEqual([`0 ${expected}`])
    expect(p.stderr).toMatch(/canbridge send: sent to pi\/can0\n/)
  })

  it('says why the edge did not send it, with status 1', async () => {
    const p = startCli(['send', ...LOCAL, 'pi/can0', '123#00'])
    await connectEdge(p, {
      onTransmit: (t) => ({
        requestId: t.requestId,
        ok: false,
        error: 'interface-down',
        message: 'can0 is down',
      }),
    })
    expect(await p.exited).toBe(1)
    expect(p.stderr).toMatch(/not sent to pi\/can0: .*interface-down/)
  })

  it('names the interfaces there are when the one asked for is not', async () => {
    const p = startCli(['send', ...LOCAL, 'can7', '123#00'])
    await connectEdge(p)
    expect(await p.exited).toBe(2)
    expect(p.stderr).toMatch(/no channel can7 on the edges here \(they offer: pi\/can0\)/)
  })

  it.each([
    ['123#DEADBEEF00112233445566', /bad frame/],
    ['12#00', /bad frame/],
    ['20000004#0000000000000000', /error frame/],
  ])('refuses %s before listening', async (notation, message) => {
    const p = startCli(['send', ...LOCAL, 'can0', notation])
    expect(await p.exited).toBe(2)
    expect(p.stderr).toMatch(message)
  })
})

describe('canbridge gen', () => {
  it('sends -n frames with incrementing ids, lengths and a 64-bit counter as data (cangen -I i -L i -D i)', async () => {
    const p = startCli([
      'gen',
      ...LOCAL,
      'can0',
      '-g',
      '0',
      '-n',
      '12',
      '-I',
      'i',
      '-L',
      'i',
      '-D',
      'i',
    ])
    const received: string[] = []
    await connectEdge(p, {
      onTransmit: (t) => {
        received.push(frameText(t))
        return { requestId: t.requestId, ok: true }
      },
    })
    expect(await p.exited).toBe(0)
    // frame n: id n, length n mod 9, data the first bytes of n as a little-endian u64
    const expected = Array.from({ length: 12 }, (_, n) => {
      const len = n % 9
      const data = Buffer.alloc(8)
      data.writeBigUInt64LE(BigInt(n))
      return `${n.toString(16)} flags=0 len=${len} ${data.subarray(0, len).toString('hex')}`
    })
    expect(received.sort()).toEqual(expected.sort())
    expect(p.stderr).toMatch(/canbridge gen: 12 frames sent to pi\/can0, 0 failed in \d+\.\d\d s\n/)
  })

  it('counts what the edge refused, and exits 1', async () => {
    const p = startCli([
      'gen',
      ...LOCAL,
      'can0',
      '-g',
      '0',
      '-n',
      '6',
      '-I',
      '7DF',
      '-L',
      '8',
      '-D',
      '0102030405060708',
    ])
    await connectEdge(p, {
      onTransmit: (t) =>
        t.frame.id === 0x7df && t.requestId % 2 === 0
          ? { requestId: t.requestId, ok: false, error: 'tx-queue-full' }
          : { requestId: t.requestId, ok: true },
    })
    expect(await p.exited).toBe(1)
    expect(p.stderr).toMatch(/3 frames sent to pi\/can0, 3 failed \(3 [^)]*\)/)
  })

  const DEFAULTS = { g: '200', I: 'r', L: 'r', D: 'r', wait: '30', sendTimeout: '1000' }
  it.each([
    [{ b: true }, /-b and -E are CAN FD flags/],
    [{ f: true, R: true }, /no remote frames/],
    [{ I: '800' }, /-I must be r, i or a value up to 7ff/],
    [{ f: true, L: '9' }, /not a CAN FD length/],
    [{ D: 'XYZ' }, /-D must be r, i or hex bytes/],
    [{ g: '-1' }, /-g must be a number >= 0/],
    [{ g: '1e9' }, /-g must be a number >= 0 and at most 3600000/],
    [{ wait: '1e9' }, /--wait must be a number > 0 and at most 86400/],
  ])('refuses %o', (options, message) => {
    expect(() => genSettings('can0', { ...DEFAULTS, ...options })).toThrow(message)
  })

  it('makes FD frames of FD lengths only, with the flags asked for', () => {
    const settings = genSettings('can0', { ...DEFAULTS, f: true, b: true, E: true })
    const generator = new FrameGenerator(settings.generator)
    for (let i = 0; i < 200; i++) {
      const m = generator.next()
      expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64]).toContain(m.dlc)
      expect(m.arbitrationId).toBeLessThanOrEqual(0x7ff)
      expect([m.isFd, m.bitrateSwitch, m.errorStateIndicator]).toEqual([true, true, true])
    }
  })
})

describe('messageOfNotation', () => {
  it('is cansend notation to a python-can message', () => {
    const m = messageOfNotation('1ABCDE00##2112233')
    expect([
      m.arbitrationId,
      m.isExtendedId,
      m.isFd,
      m.bitrateSwitch,
      m.errorStateIndicator,
    ]).toEqual([0x1abcde00, true, true, false, true])
    expect([...m.data]).toEqual([0x11, 0x22, 0x33])
  })
})

describe('canbridge vcan command line', () => {
  it.each([
    [[], /give --create <name> .* or --interface <name>/],
    [['--create', 'a', '--interface', 'b'], /give --create/],
    [['--create', 'way-too-long-interface'], /must be 1\.\.15/],
    [['--interface', 'vcan0', '--fd'], /--fd goes with --create/],
  ])('refuses %o before touching anything', async (args, message) => {
    const p = startCli(['vcan', ...LOCAL, ...args])
    expect(await p.exited).toBe(2)
    expect(p.stderr).toMatch(message)
  })
})
